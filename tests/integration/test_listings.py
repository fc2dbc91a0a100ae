"""Listings of any size: sent in pages, rows built as they go, the same rows as
one reply would hold; 150,000 separate jobs (34 MB of rows, over a frame's
limit) list with `wq ls --json` (the table comes from the same pages:
tests/cli/test_render.py)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import NOWHERE
from tests.integration.sshd import WqServer
from wq import codec
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Listing
from wq.store import Store



@pytest.fixture
def idle(tmp_path: Path) -> Iterator[WqServer]:
    """A server whose only host is unreachable: whatever is queued stays queued."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(NOWHERE)
    server = WqServer(tmp_path / "srv", cluster)
    try:
        yield server
    finally:
        server.stop()


def queue_directly(server: WqServer, separate: int, tasks: int = 0) -> None:
    """Queue jobs straight into the (stopped) server's store: quick, for big queues."""
    Path(server.state).mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(f"{server.state}/wq.db")
    spec = codec.spec_from_dict({"command": "true", "cwd": "/tmp", "env": {}})
    now = time.time()
    store.begin()
    for _ in range(separate):
        store.add_job("root", spec, now)
    if tasks:
        store.add_array("root", spec, now, [(i, None) for i in range(1, tasks + 1)], None)
    for _ in range(separate):
        store.add_job("root", spec, now)
    store.commit()
    store.close()


def test_pages_hold_the_same_rows_as_one_reply(idle):
    queue_directly(idle, separate=40, tasks=30)
    idle.start()
    for request in (m.ListJobs(), m.ListJobs(expand=True), m.ListJobs(full=True),
                    m.ListJobs(select=["41", "3-9"]), m.ListJobs(expand=True, full=True)):
        with Client(idle.socket) as client:
            whole = client.ask(request, Listing).jobs
            pages = list(client.paged(dataclasses.replace(request, page=7), Listing))
        assert [p.more for p in pages] == [True] * (len(pages) - 1) + [False]
        assert all(len(p.jobs) <= 7 for p in pages)
        paged = [row for p in pages for row in p.jobs]
        assert paged == whole
    ids = [r.id for r in whole]                    # the last: every task, in order
    assert ids[:2] == ["1", "2"] and ids[40:42] == ["41.1", "41.2"] and "41.30" in ids
    assert ids[-1] == "81" and "41" not in ids


def test_a_queue_of_150k_separate_jobs_lists(idle):
    queue_directly(idle, separate=75_000)
    idle.start()
    listed = idle.wq("ls", "--json", timeout=300)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 150_000 and rows[0]["id"] == "1" and rows[-1]["id"] == "150000"
    assert idle.wq("stat").returncode == 0


def test_a_big_array_is_taken_listed_reloaded_and_removed_in_steps(idle):
    """Over ACCEPT_CHUNK tasks: accepted in several steps, loaded back a page at a
    time after a restart, removed in steps, and each time whole."""
    idle.start()
    tasks = 12_345
    sub = idle.wq("sub", "-b", "--array", f"1-{tasks}", "-c", "true", timeout=120)
    assert sub.returncode == 0, sub.stderr
    with Client(idle.socket) as client:
        [row] = client.request(m.ListJobs())["jobs"]
    assert row["counts"] == {"waiting": tasks} and str(row["number"]) in sub.stdout
    number = str(row["number"])
    idle.stop()
    idle.start()                              # answers at once, loads the queue after
    assert idle.wq("stat").returncode == 0
    listed = idle.wq("ls", "-e", "--json", timeout=120)        # waits for the whole queue
    assert [r["id"] for r in json.loads(listed.stdout)] == \
        [f"{number}.{i}" for i in range(1, tasks + 1)]
    gone = idle.wq("rm", number, timeout=120)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.splitlines() == [f"job {number}.1-{tasks}: removed from the queue"]
    with Client(idle.socket) as client:
        assert client.request(m.ListJobs())["jobs"] == []
        cancelled = client.request(m.ListJobs(states=["cancelled"], expand=True))["jobs"]
    assert len(cancelled) == 1000                 # the newest 1000 finished are listed
    assert not any("forgot array" in line for line in idle.log)


def test_an_array_cut_short_by_a_stop_is_forgotten_at_start(idle):
    Path(idle.state).mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(f"{idle.state}/wq.db")
    spec = codec.spec_from_dict({"command": "true", "cwd": "/tmp", "env": {}})
    cut = store.open_array("root", spec, time.time(), 10, None)
    store.add_tasks(cut, [(i, None) for i in range(1, 6)])     # 5 of its 10: never told
    store.close()
    idle.start()                              # its log says so before it listens
    assert any(f"forgot array {cut.number}:" in line for line in idle.log), idle.log
    listed = idle.wq("ls", "-a", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
