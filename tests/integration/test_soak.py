"""A soak test: a few thousand short jobs through random faults.

Each job appends "id instance" to a ledger. Faults, chosen by a seeded random
generator between batches of submissions: kill -9 of the server (restarted at
once), a host's sshd killed (back a moment later), a host hung until
keepalives find it, a host rebooted. At the end:

  * every acknowledged submission is in the history, in a final state, with
    exactly one final event;
  * no job is lost and none failed (the jobs cannot fail by themselves);
  * every instance that ran (a ledger line) is in its job's instance history,
    no instance ran twice, and a done job's last instance is in the ledger;
  * the fate of every instance lost with a host is settled.

The history is read from the server's database at the end: `wq ls` lists at
most 1000 finished jobs, and 2000 `wq info` calls would take minutes.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import Counter

from wq import codec
from wq.client import Client
from wq.errors import WqError
from wq.model import JobSpec
from wq.protocol import messages as m

from tests.integration.conftest import cluster_yaml, stat, wait_hosts_up
from tests.integration.sshd import SshHost, WqServer, wait_for

JOBS = int(os.environ.get("WQ_SOAK_JOBS", "2000"))
BATCHES = 8
FINAL = ("done", "failed", "cancelled", "lost", "timeout")


def submit(server: WqServer, spec: dict, deadline: float) -> int:
    """Submit until acknowledged (the server may be restarting)."""
    while True:
        try:
            with Client(server.socket, timeout=10) as client:
                return int(client.request(m.Submit(spec=spec))["id"])
        except WqError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def fault(kind: str, server: WqServer, host: SshHost) -> None:
    if kind == "server-kill-9":
        server.stop(signal.SIGKILL)
        server.start()
    elif kind in ("sshd-killed", "hung"):
        breaks, mends = ((host.kill_sshd, host.start) if kind == "sshd-killed" else
                         (host.freeze, host.thaw))
        breaks()
        try:
            wait_for(lambda: stat(server)[host.name]["state"] == "down", 30,
                     f"{host.name} down ({kind})")
        finally:
            mends()
        server.wq("refresh")          # (probed back now, not after the 5 s backoff:
    elif kind == "reboot":            # backing off is test_faults' business)
        host.reboot()


def test_jobs_survive_random_faults(make_server, hosts, keys, tmp_path):
    rng = random.Random(20261121)
    server = make_server(cluster_yaml(keys, hosts, cores=4, keepalive=1, keepalive_count=2,
                                      connect_timeout=3), start=False)
    server.env["WQ_CHECK"] = "1"         # the engine checks its books after every event
    server.start()
    wait_hosts_up(server, [h.name for h in hosts])
    ledger = tmp_path / "ledger"
    command = (f'echo "$WQ_JOB_ID $WQ_INSTANCE" >> {ledger}; '
               'if [ $((WQ_JOB_ID % 5)) = 0 ]; then sleep 0.5; fi')
    spec = codec.spec_to_dict(JobSpec(command=command, cwd=str(tmp_path),
                                      env=(("PATH", os.environ["PATH"]),)))
    kinds = ["server-kill-9", "sshd-killed", "hung"]
    if SshHost.namespaced.fget(hosts[0]):  # type: ignore[attr-defined]
        kinds.append("reboot")
    faults = kinds + [rng.choice(kinds) for _ in range(BATCHES - 1 - len(kinds))]
    rng.shuffle(faults)                   # each kind at least once
    acked: list[int] = []
    deadline = time.monotonic() + 600
    try:
        for batch in range(BATCHES):
            for _ in range(JOBS // BATCHES):
                acked.append(submit(server, spec, deadline))
            if batch < len(faults):      # each fault starts from a cluster that is up
                wait_for(lambda: all(h["state"] == "up" for h in stat(server).values()), 60,
                         "every host up before the next fault", interval=0.1)
                fault(faults[batch], server, rng.choice(hosts))
        wait_for(lambda: _all_final(server), 300, "every job to end", interval=0.5)
        wait_for(lambda: _unsettled(server) == 0, 120, "lost instances to be settled",
                 interval=0.5)
    finally:
        for host in hosts:             # whatever happened, the shared hosts stay usable
            if host.proc is None:
                host.start()
            else:
                host.thaw()

    db = sqlite3.connect(f"{server.state}/wq.db")
    states = dict(db.execute("SELECT id, state FROM jobs"))
    instances = {(j, n): o for j, n, o in db.execute(
        "SELECT job_id, number, outcome FROM instances")}
    final_events = Counter(j for (j,) in db.execute(
        f"SELECT job_id FROM events WHERE kind IN ({','.join('?' * len(FINAL))})", FINAL))
    last = dict(db.execute("SELECT id, instance FROM jobs"))
    db.close()

    assert not [line for line in server.log if "books disagree" in line]
    assert len(acked) == JOBS and len(set(acked)) == JOBS
    assert set(acked) <= set(states)
    assert Counter(states[j] for j in acked) == Counter({"done": JOBS})
    assert all(final_events[j] == 1 for j in acked)
    runs = Counter(tuple(map(int, line.split())) for line in ledger.read_text().splitlines())
    assert max(runs.values()) == 1, "an instance ran twice"
    assert all(run in instances for run in runs), "a run missing from the history"
    assert all((j, last[j]) in runs for j in acked), "a done job whose last run left no trace"
    extra = [run for run in runs if run[1] != last[run[0]]]
    assert all(instances[run] != "done" for run in extra)
    print(f"\n{JOBS} jobs, faults {faults}: {len(extra)} instances ran and were "
          f"superseded, {sum(1 for o in instances.values() if o == 'lost')} lost and "
          f"requeued, {sum(1 for o in instances.values() if o == 'notstarted')} never started")


def _all_final(server: WqServer) -> bool:
    db = sqlite3.connect(f"{server.state}/wq.db")
    try:
        (open_jobs,) = db.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('waiting', 'running')").fetchone()
        return open_jobs == 0
    finally:
        db.close()


def _unsettled(server: WqServer) -> int:
    db = sqlite3.connect(f"{server.state}/wq.db")
    try:
        return int(db.execute("SELECT count(*) FROM instances WHERE settled=0").fetchone()[0])
    finally:
        db.close()
