"""The Python API (`wq.Client`) against a real server on the sshd test hosts."""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.integration.conftest import NOWHERE
import wq
from wq.api import MANY_CHUNK
from wq.client import Client
from wq.errors import ParseError, ServerError
from wq.protocol import messages as m

#: an environment of a login with conda and modules: 3 KB, as every job carries it
BIG_ENV = {**{f"VAR{i:02d}": f"/opt/modules/{i:02d}/" + "x" * 64 for i in range(36)},
           "PATH": "/usr/bin:/bin"}


@pytest.fixture
def client(server, tmp_path, monkeypatch) -> wq.Client:
    monkeypatch.chdir(tmp_path)
    return wq.Client(server.socket)


def test_submit_wait_log_jobs_and_cancel(client, tmp_path):
    job = client.submit(["sh", "-c", "echo out $WQ_JOB_ID; echo err >&2; exit 2"],
                        name="api-job", cores=2, time="1m")
    array = client.submit("echo task $WQ_TASK_ID", array="1-3")
    dependent = client.submit("echo after > after.txt", after=f"afterany:{job}")
    ended = client.wait([job, array, dependent], timeout=60)
    assert (ended[job].state, ended[job].exit) == ("failed", 2)
    assert ended[array].state == "done" and ended[dependent].state == "done"
    assert (tmp_path / "after.txt").read_text() == "after\n"
    log = client.log(job)
    assert (log.stdout, log.stderr) == (f"out {job}\n", "err\n")
    row, = client.jobs([job])
    assert (row.name, row.nc, row.requirements["mode"]) == ("api-job", 2, "bycore1")
    assert [r.id for r in client.jobs([array])] == [f"{array}.{i}" for i in (1, 2, 3)]
    long = client.submit("sleep 60")
    removed = client.cancel([long])
    assert removed[0].removed
    assert client.wait([long], timeout=30)[long].state == "cancelled"
    with pytest.raises(TimeoutError):
        client.wait([client.submit("sleep 60")], timeout=0.3)


def test_submit_many_is_one_request_all_or_nothing(client, server):
    ids = client.submit_many([{"command": f"echo {i} > out{i}"} for i in range(50)])
    assert len(ids) == 50 and ids == [str(int(ids[0]) + i) for i in range(50)]
    states = client.wait(ids, timeout=120)
    assert {s.state for s in states.values()} == {"done"}
    before = len(client.jobs(finished=True))
    with pytest.raises(ServerError, match=r"^job 2 of 2: refused: afterok:99999: there is "
                                          r"no job 99999"):
        client.submit_many([{"command": "true"}, {"command": "true", "after": [99999]}])
    assert len(client.jobs(finished=True)) == before           # the first was not taken
    with pytest.raises(ParseError, match="N: expected a positive integer"):
        client.submit("true", requirements={"N": "zero"})
    assert client.status(["99999"])["99999"].state == "unknown"


def count_jobs(server) -> int:
    db = sqlite3.connect(f"{server.state}/wq.db")
    try:
        return int(db.execute("SELECT count(*) FROM jobs").fetchone()[0])
    finally:
        db.close()


def test_submit_many_of_tens_of_thousands_of_jobs_with_real_environments(make_server,
                                                                        tmp_path):
    """One call, in requests of MANY_CHUNK jobs, each environment sent once a
    request and stored once; all of them accepted, or none."""
    server = make_server(NOWHERE, wait_up=False)        # (nothing runs)
    client = wq.Client(server.socket)
    count = 4 * MANY_CHUNK + 7
    ids = client.submit_many([{"command": f"true {i}", "env": BIG_ENV, "cwd": str(tmp_path)}
                              for i in range(count)])
    assert len(ids) == count and [int(i) for i in ids] == sorted({int(i) for i in ids})
    db = sqlite3.connect(f"{server.state}/wq.db")
    assert db.execute("SELECT count(*) FROM envs").fetchone()[0] == 1
    db.close()
    size = sum(os.path.getsize(f"{server.state}/{name}") for name in ("wq.db", "wq.db-wal")
               if os.path.exists(f"{server.state}/{name}"))
    assert size < count * 1000          # (3 KB a job with its own environment)
    row, = client.jobs([ids[-1]])
    assert row.command == f"true {count - 1}" and row.state == "waiting"
    before = count_jobs(server)
    refused = 2 * MANY_CHUNK + 3                      # in the submission's third request
    with pytest.raises(ServerError, match=rf"^job {refused} of {refused}: refused: "
                                          r"afterok:99999: there is no job 99999"):
        client.submit_many([{"command": "true", "env": BIG_ENV}] * (refused - 1)
                           + [{"command": "true", "after": [99999]}])
    assert count_jobs(server) == before                    # none of it was taken

    def streamed(bad: dict, at: int):  # type: ignore[no-untyped-def]
        """Jobs from a generator (read as they are sent): its count unknown."""
        for i in range(MANY_CHUNK + 3):
            yield bad if i == at else {"command": f"true {i}", "env": BIG_ENV}
    refusal = {"command": "true", "after": [99999]}
    with pytest.raises(ServerError, match=r"^job 2: refused: afterok:99999"):
        client.submit_many(streamed(refusal, 1))               # (the total not known yet)
    with pytest.raises(ServerError, match=rf"^job {MANY_CHUNK + 2} of {MANY_CHUNK + 3}: "):
        client.submit_many(streamed(refusal, MANY_CHUNK + 1))  # (in the last request)
    with pytest.raises(ParseError, match="N: expected a positive integer"):   # (here)
        client.submit_many(streamed({"command": "true", "requirements": {"N": "zero"}},
                                    MANY_CHUNK + 2))
    assert count_jobs(server) == before
    assert len(client.submit_many(j for j in [{"command": "true"}] * 3)) == 3


def test_a_submission_whose_client_leaves_half_way_leaves_nothing(make_server):
    server = make_server(NOWHERE, wait_up=False)
    spec = {"command": "true", "cwd": "/tmp", "env": 0}
    with Client(server.socket) as conn:
        reply = conn.request(m.SubmitMany(specs=[spec] * 10, envs=[BIG_ENV], more=True))
        assert reply["more"] and reply["ids"] == []
    with Client(server.socket) as conn:
        with pytest.raises(ServerError, match="said more would come, then came a stat"):
            conn.request(m.SubmitMany(specs=[spec], envs=[BIG_ENV], more=True))
            conn.request(m.Stat())
        with pytest.raises(ServerError, match=r"^job 1 of 1: request: env: env names no "
                                              r"environment of the request$"):
            conn.request(m.SubmitMany(specs=[{**spec, "env": 3}], envs=[BIG_ENV]))
    assert count_jobs(server) == 0
