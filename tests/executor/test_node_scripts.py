"""The node-side scripts, run for real by /bin/sh through the LocalExecutor."""

import asyncio
import time

import psutil
import pytest

from wq.executor import wrapper
from wq.executor.outcome import Outcome
from wq.executor.local import LocalExecutor
from wq.model import Host

HOST = Host("here", 1, local=True)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def launch(job_id: int, command: str, **kw) -> wrapper.Launch:
    return wrapper.Launch("sid", f"{job_id}.1", command, "/tmp", {}, **kw)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_time_limit_terms_the_job_and_says_so():
    started = []
    begin = time.monotonic()
    outcome = run(LocalExecutor().launch(HOST, launch(1, "sleep 30", time_limit=1, grace=1),
                                         started.append))
    assert outcome == Outcome(exit_code=143, timed_out=True)
    assert time.monotonic() - begin < 10
    assert not psutil.pid_exists(started[0].pid)


def test_a_job_ignoring_term_is_killed_after_the_grace_period(home):
    started = []
    outcome = run(LocalExecutor().launch(
        HOST, launch(2, "trap '' TERM; sleep 30", time_limit=1, grace=0.5), started.append))
    assert outcome == Outcome(exit_code=137, timed_out=True)
    d = home / ".cache/wq/sid/2.1"
    assert (d / "timeout").exists()


def test_a_job_within_its_limit_leaves_no_watchdog_behind(home):
    outcome = run(LocalExecutor().launch(HOST, launch(3, "exit 4", time_limit=60),
                                         lambda s: None))
    assert outcome == Outcome(exit_code=4)
    d = home / ".cache/wq/sid/3.1"
    assert not (d / "timer.pid").exists()              # (a finished job keeps no timer files)

    def watchdogs() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            if f"{d}/timer" in (proc.info["cmdline"] or []) and \
                    proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        return found
    deadline = time.monotonic() + 5
    while watchdogs():
        assert time.monotonic() < deadline, "the watchdog outlived its job"
        time.sleep(0.05)


def test_a_watch_that_finds_no_trace_bars_a_late_launch(home):
    job = launch(4, f"touch {home}/ran")
    outcome = run(LocalExecutor().watch(HOST, job.dir))
    assert outcome.lost and outcome.never_started
    late = run(LocalExecutor().launch(HOST, job, lambda s: None))
    assert late.exit_code is None and not (home / "ran").exists()


def test_a_resumed_watch_reports_running_then_the_exit(home):
    async def scenario() -> tuple[list[str], Outcome]:
        executor = LocalExecutor()
        job = launch(5, "sleep 1.5; exit 6")
        first = asyncio.ensure_future(executor.launch(HOST, job, lambda s: None))
        while not (home / ".cache/wq/sid/5.1/pid").exists():
            await asyncio.sleep(0.02)
        seen: list[str] = []
        outcome = await executor.watch(HOST, job.dir, lambda: seen.append("running"))
        await first
        return seen, outcome

    seen, outcome = run(scenario())
    assert seen == ["running"] and outcome.exit_code == 6 and not outcome.lost
    assert outcome.ended is not None and abs(outcome.ended - time.time()) < 5


def test_status_tells_what_became_of_lost_instances(home):
    base = home / ".cache/wq/sid"
    executor = LocalExecutor()
    run(executor.launch(HOST, launch(6, "exit 3"), lambda s: None))
    sleeper = launch(7, "sleep 30")

    async def start_sleeper() -> None:
        asyncio.ensure_future(executor.launch(HOST, sleeper, lambda s: None))
        while not (base / "7.1/pid").exists():
            await asyncio.sleep(0.02)
        found = await executor.status(HOST, "sid", ["6.1", "7.1", "8.1", "9.1", "10.1"])
        assert found == {"6.1": "exit 3", "7.1": "running", "8.1": "rebooted",
                         "9.1": "vanished", "10.1": "notstarted"}
        assert await executor.kill(HOST, sleeper.dir, 1) in ("terminated", "killed")

    for name, boot in (("8.1", "another-boot"), ("9.1", None)):
        (base / name).mkdir(parents=True)
        if boot is None:
            boot = open("/proc/sys/kernel/random/boot_id").read().strip()
        (base / name / "pid").write_text(f"999999999 1 {boot}\n")
    run(start_sleeper())
    assert (base / "10.1/claim").is_dir()
    run(executor.remove(HOST, "sid", ["6.1", "10.1"]))
    assert not (base / "6.1").exists() and (base / "7.1").exists()


def test_a_kill_takes_the_whole_group_even_once_the_job_itself_ended(home):
    """A driver in the job that ends its main process on TERM but keeps a step
    running (Snakemake's graceful TERM): the step goes too, after the grace."""
    executor = LocalExecutor()
    marker = home / "straggler.pid"
    job = launch(11, f"(trap '' TERM; echo $(sh -c 'echo $PPID') > {marker}; sleep 60) & "
                     "wait")

    async def scenario() -> tuple[str, int]:
        ending = asyncio.ensure_future(executor.launch(HOST, job, lambda s: None))
        while not marker.exists() or not marker.read_text().strip():
            await asyncio.sleep(0.02)
        result = await executor.kill(HOST, job.dir, 0.5)
        await ending
        return result, int(marker.read_text())

    result, straggler = run(scenario())
    assert result == "terminated"                   # the job's own shell ended on TERM
    deadline = time.monotonic() + 5
    while psutil.pid_exists(straggler) and psutil.Process(straggler).status() != "zombie":
        assert time.monotonic() < deadline, "a process of the job's group outlived the kill"
        time.sleep(0.05)
