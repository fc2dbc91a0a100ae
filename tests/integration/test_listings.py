"""Listings of any size: sent in pages, rows built as they go, the same rows as
one reply would hold; 150,000 separate jobs (34 MB of rows, over a frame's
limit) list with `wq ls` and `wq ls --json`."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.sshd import WqServer
from wq import codec
from wq.client import Client
from wq.protocol import messages as m
from wq.store import Store

NOWHERE = ("hosts:\n  - {name: nowhere, address: 127.0.0.9, port: 9, cores: 4,"
           " connect_timeout: 1}\n")


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
            whole = client.request(request)["jobs"]
            pages = list(client.pages(dataclasses.replace(request, page=7)))
        assert [p["more"] for p in pages] == [True] * (len(pages) - 1) + [False]
        assert all(len(p["jobs"]) <= 7 for p in pages)
        paged = [row for p in pages for row in p["jobs"]]
        assert paged == whole
    ids = [r["id"] for r in whole]                 # the last: every task, in order
    assert ids[:2] == ["1", "2"] and ids[40:42] == ["41.1", "41.2"] and "41.30" in ids
    assert ids[-1] == "81" and "41" not in ids


def test_a_queue_of_150k_separate_jobs_lists(idle):
    queue_directly(idle, separate=75_000)
    idle.start()
    table = idle.wq("ls", timeout=120)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[-1] == " Jobs: 150000 Running: 0 Waiting: 150000"
    assert len(lines) == 150_002
    listed = idle.wq("ls", "--json", timeout=300)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 150_000 and rows[0]["id"] == "1" and rows[-1]["id"] == "150000"
    assert idle.wq("stat").returncode == 0
