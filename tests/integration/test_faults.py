"""Real faults: a server killed with -9, a host's sshd killed, hung or rebooted.

Every test restores the shared hosts it breaks (in `finally`), so later tests
find them as they were.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.conftest import cluster_yaml, info, job_dir, jobs, stat, wait_state
from tests.integration.sshd import SshHost, WqServer, alive, wait_for

#: keepalives every second, two missed mean down; connects give up after 3 s
FAST = {"keepalive": 1, "keepalive_count": 2, "connect_timeout": 3}


def job_pid(server: WqServer, job_id: int, instance: int = 1) -> int:
    pid_file = job_dir(server, job_id, instance) / "pid"
    wait_for(pid_file.exists, 15, f"job {job_id}.{instance}'s pid file")
    return int(pid_file.read_text().split()[0])


def sub(server: WqServer, cwd: Path, command: str, *args: str) -> int:
    r = server.wq("sub", "-b", *args, "-c", command, cwd=str(cwd))
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


def event_kinds(server: WqServer, job_id: int) -> list[str]:
    return [e["kind"] for e in info(server, job_id)["events"]]


def ledger_lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_a_server_killed_with_9_loses_nothing(make_server, tmp_path):
    """Queued jobs stay queued in order, running ones keep running, jobs that end
    while it is down keep their real exit code and end time, a time limit still
    fires, reservations are rebuilt before anything new starts, ids continue."""
    server = make_server()
    gate = tmp_path / "gate"
    wait_gate = f"while [ ! -e {gate} ]; do sleep 0.1; done"
    ok = sub(server, tmp_path, f"{wait_gate}; echo fine")                # node1
    bad = sub(server, tmp_path, f"{wait_gate}; exit 7")                  # node1
    timed = sub(server, tmp_path, "sleep 60", "-t", "3s")                # node2
    long = [sub(server, tmp_path, "sleep 60") for _ in range(3)]         # node2, node3 x2
    for job_id in (ok, bad, timed, *long):
        wait_state(server, job_id, ("running",))
    queued = [sub(server, tmp_path, "echo queued; sleep 60") for _ in range(2)]
    assert {j["state"] for i, j in jobs(server).items() if i in queued} == {"waiting"}
    host_of = {i: j["host0"] for i, j in jobs(server).items()}

    server.stop(signal.SIGKILL)
    gate.touch()                                    # ok and bad end while it is down
    for job_id in (ok, bad, timed):
        wait_for((job_dir(server, job_id) / "rc").exists, 20, f"job {job_id} to end")
    down_until = time.time()
    server.start()
    assert wait_state(server, ok, ("done",))["exit"] == 0
    failed = wait_state(server, bad, ("failed",))
    assert failed["exit"] == 7 and failed["ended"] < down_until
    assert wait_state(server, timed, ("timeout",))["exit"] == 143
    assert all(jobs(server)[i]["state"] == "running" for i in long)
    freed = {host_of[ok], host_of[timed]}   # only the cores of ended jobs are free
    for job_id in queued:
        assert wait_state(server, job_id, ("running",))["host0"] in freed
    per_host: dict[str, int] = {}
    for job in jobs(server).values():
        if job["state"] == "running":
            per_host[job["host0"]] = per_host.get(job["host0"], 0) + 1
    assert max(per_host.values()) <= 2 and sum(per_host.values()) == 5
    assert all(h["used"] <= h["cores"] for h in stat(server).values())
    assert sub(server, tmp_path, "true") == queued[-1] + 1
    log = "".join(server.log)
    assert "recovered 2 waiting and 6 running job(s)" in log
    assert f"job {long[0]}: still running" in log
    assert f"job {ok}: ended on {host_of[ok]} while the server was away" in log


def test_a_submission_acknowledged_just_before_a_kill_is_kept(make_server, tmp_path):
    server = make_server()
    job_id = sub(server, tmp_path, "echo kept > out")
    server.stop(signal.SIGKILL)
    server.start()
    wait_state(server, job_id, ("done",))
    assert (tmp_path / "out").read_text() == "kept\n"


def test_a_launch_cut_short_by_a_crash_runs_exactly_once(make_server, tmp_path):
    """The server dies between committing a job as running and its wrapper
    starting: the restarted server finds no trace, bars a late start (claim),
    and runs it again as a new instance."""
    server = make_server()
    job_id = sub(server, tmp_path, "true")
    wait_state(server, job_id, ("done",))
    server.stop()
    db = sqlite3.connect(f"{server.state}/wq.db")   # as if it crashed mid-launch
    db.execute("UPDATE jobs SET state='running', instance=7, exit_code=NULL, ended=NULL "
               "WHERE id=?", (job_id,))
    db.commit()
    db.close()
    server.start()
    job = wait_state(server, job_id, ("done",), instance=8)
    assert job["exit"] == 0
    inst = {i["number"]: i for i in info(server, job_id)["instances"]}
    assert inst[7]["outcome"] == "notstarted"
    assert (job_dir(server, job_id, 7) / "claim").is_dir()


def test_a_host_whose_sshd_dies_gets_its_jobs_requeued_and_stale_copies_killed(
        make_server, hosts, keys, tmp_path):
    server = make_server(cluster_yaml(keys, hosts, **FAST))
    ledger = tmp_path / "ledger"
    command = f'echo "$WQ_JOB_ID $WQ_INSTANCE" >> {ledger}; echo "run $WQ_INSTANCE"; sleep 60'
    job_id = sub(server, tmp_path, command)
    first = wait_state(server, job_id, ("running",))
    victim = next(h for h in hosts if h.name == first["host0"])
    pid = job_pid(server, job_id)
    try:
        victim.kill_sshd()
        second = wait_state(server, job_id, ("running",), instance=2, timeout=30)
        assert second["host0"] != victim.name
        assert stat(server)[victim.name]["state"] == "down"
        assert alive(pid)                          # unnoticed so far: still runs there
    finally:
        victim.start()
    wait_for(lambda: "stale-killed" in event_kinds(server, job_id), 60,
             "the stale copy to be killed")
    wait_for(lambda: not alive(pid), 10, "the stale copy to die")
    record = {i["number"]: i for i in info(server, job_id)["instances"]}
    assert record[1]["outcome"] == "lost" and record[1]["settled"]
    assert "still ran on" in record[1]["detail"] and "killed" in record[1]["detail"]
    assert "requeued (1 of 3)" in record[1]["detail"]
    assert sorted(ledger_lines(ledger)) == [f"{job_id} 1", f"{job_id} 2"]
    assert server.wq("log", "-n", "1", str(job_id)).stdout == "run 1\n"
    assert server.wq("log", str(job_id)).stdout == "run 2\n"


def test_a_requeued_job_that_could_not_move_is_taken_back_when_its_host_returns(
        make_server, hosts, keys, tmp_path):
    server = make_server(cluster_yaml(keys, hosts, **FAST))
    flag = tmp_path / "go"
    job_id = sub(server, tmp_path, f"while [ ! -e {flag} ]; do sleep 0.1; done; echo once",
                 "-r", "host: node2")
    wait_state(server, job_id, ("running",))
    pid = job_pid(server, job_id)
    node2 = hosts[1]
    try:
        node2.kill_sshd()
        wait_state(server, job_id, ("waiting",))
    finally:
        node2.start()
    job = wait_state(server, job_id, ("running",), timeout=60)
    assert job["instance"] == 1 and alive(pid)
    flag.touch()
    assert wait_state(server, job_id, ("done",))["instance"] == 1
    assert server.wq("log", str(job_id)).stdout == "once\n"
    assert "adopted" in event_kinds(server, job_id)


def test_a_hung_host_is_found_by_keepalives(make_server, hosts, keys, tmp_path):
    server = make_server(cluster_yaml(keys, hosts, **FAST))
    job_id = sub(server, tmp_path, "sleep 60", "-r", "group: ab")
    first = wait_state(server, job_id, ("running",))
    victim = next(h for h in hosts if h.name == first["host0"])
    pid = job_pid(server, job_id)
    victim.freeze()
    try:
        began = time.monotonic()
        wait_for(lambda: stat(server)[victim.name]["state"] == "down", 30,
                 f"{victim.name} to be found down")
        detected = time.monotonic() - began
        second = wait_state(server, job_id, ("running",), instance=2, timeout=30)
        assert second["host0"] != victim.name
    finally:
        victim.thaw()
    server.wq("refresh")        # (back now: waiting out the backoff is the next test's)
    assert detected < 10, f"keepalives took {detected:.1f} s"
    wait_for(lambda: "stale-killed" in event_kinds(server, job_id), 60,
             "the stale copy to be killed")
    assert not alive(pid)


@pytest.mark.skipif(not SshHost.namespaced.fget(None), reason="needs root and unshare")  # type: ignore[attr-defined]
def test_a_rebooted_host_is_recognised(make_server, hosts, keys, tmp_path):
    server = make_server(cluster_yaml(keys, hosts, **FAST))
    job_id = sub(server, tmp_path, "echo $WQ_INSTANCE >> runs; sleep 60", "-r", "group: ab")
    first = wait_state(server, job_id, ("running",))
    victim = next(h for h in hosts if h.name == first["host0"])
    job_pid(server, job_id)
    victim.reboot()
    wait_state(server, job_id, ("running",), instance=2, timeout=60)
    wait_for(lambda: "rebooted" in info(server, job_id)["instances"][0]["detail"], 60,
             "the reboot to be recorded")
    assert (tmp_path / "runs").read_text() == "1\n2\n"


def test_a_hung_host_loses_its_jobs_within_the_keepalive_bound(make_server, hosts, keys,
                                                               tmp_path):
    """A job that may run only on a host whose sshd hangs is no longer R once
    keepalive x count + connect_timeout have passed (it waits, lost), and runs
    again when the host returns (its instance, still alive there, is taken back)."""
    settings = {"keepalive": 1, "keepalive_count": 2, "connect_timeout": 3}
    server = make_server(cluster_yaml(keys, hosts, **settings))
    victim = hosts[0]
    gate = tmp_path / "gate"
    job_id = sub(server, tmp_path, f"while [ ! -e {gate} ]; do sleep 0.05; done; "
                 "echo finished > out", "-r", f"mode: byhost; host: {victim.name}")
    wait_state(server, job_id, ("running",))
    job_pid(server, job_id)
    victim.freeze()
    try:
        began = time.monotonic()
        wait_for(lambda: jobs(server, "--all")[job_id]["state"] != "running", 30,
                 f"job {job_id} to stop counting as running on the hung {victim.name}")
        lost_after = time.monotonic() - began
        assert jobs(server, "--all")[job_id]["state"] == "waiting"
        assert stat(server)[victim.name]["state"] == "down"
    finally:
        victim.thaw()
    bound = settings["keepalive"] * settings["keepalive_count"] + settings["connect_timeout"]
    assert lost_after < bound + 2, f"took {lost_after:.1f} s (bound {bound} s)"
    wait_state(server, job_id, ("running",), timeout=60)
    gate.touch()                           # (the instance taken back ends now)
    done = wait_state(server, job_id, ("done",), timeout=60)
    assert done["exit"] == 0 and (tmp_path / "out").read_text() == "finished\n"
