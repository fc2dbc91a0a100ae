"""The Python API (`wq.Client`) against a real server on the sshd test hosts."""

from __future__ import annotations

import pytest

import wq
from wq.errors import ParseError, ServerError


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
