"""The node-side scripts, run for real through the LocalExecutor: by the
helper (as on every node with python3) and by /bin/sh alone (`helper: false`)."""

import asyncio
import dataclasses
import time

import psutil
import pytest

from wq.executor import wrapper
from wq.executor.contract import RC_NO_OUTPUT
from wq.executor.outcome import Outcome
from wq.executor.local import LocalExecutor
from wq.model import Host

HELPED = Host("here", 1, local=True)
PLAIN = dataclasses.replace(HELPED, ssh=dataclasses.replace(HELPED.ssh, helper=False))


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(params=["helper", "plain"])
def host(request) -> Host:
    return HELPED if request.param == "helper" else PLAIN


def launch(job_id: int, command: str, **kw) -> wrapper.Launch:
    return wrapper.Launch("sid", f"{job_id}.1", command, "/tmp", {}, **kw)


def ended(outcome: Outcome) -> Outcome:
    """How it ended, whether or not its start was told with its end (the helper's
    way for a job shorter than its START_HOLD)."""
    return dataclasses.replace(outcome, pid=None)


def run(scenario):
    """scenario(executor) in a loop of its own, with a LocalExecutor closed after."""
    async def main():
        executor = LocalExecutor()
        try:
            return await asyncio.wait_for(scenario(executor), 30)
        finally:
            await executor.close()
    return asyncio.run(main())


def test_a_time_limit_terms_the_job_and_says_so(host):
    started = []
    begin = time.monotonic()
    outcome = run(lambda ex: ex.launch(host, launch(1, "sleep 30", time_limit=1, grace=1),
                                       started.append))
    assert outcome == Outcome(exit_code=143, timed_out=True)
    assert time.monotonic() - begin < 10
    assert not psutil.pid_exists(started[0].pid)


def test_a_start_is_told_once_with_the_end_of_a_quick_job_alone_for_a_longer_one(host):
    async def scenario(executor: LocalExecutor) -> list[tuple[Outcome, list]]:
        told = [[], []]
        outcomes = await asyncio.gather(*(
            executor.launch(host, launch(40 + n, command), told[n].append)
            for n, command in enumerate(("true", "sleep 0.5"))))
        return list(zip(outcomes, told, strict=True))

    (quick, quick_told), (longer, longer_told) = run(scenario)
    assert ended(quick) == ended(longer) == Outcome(exit_code=0)
    assert longer.pid is None and [s.pid > 0 for s in longer_told] == [True]
    if host is HELPED:       # the start came with the end, and only there
        assert quick_told == [] and quick.pid is not None and quick.pid > 0
    else:
        assert quick.pid is None and len(quick_told) == 1


def test_launches_of_one_turn_each_get_their_own_command_environment_and_files(home, host):
    """The helper gets them as one request (what they share said once); each
    job still runs as if launched alone."""
    jobs = [wrapper.Launch("sid", f"5{n}.1", 'echo "$SHARED $OWN ${ONLY_ONE-unset}"',
                           "/tmp", {"SHARED": "s", "OWN": str(n), **({"ONLY_ONE": "x"}
                                                                     if n == 1 else {})},
                           stdin="in\n" if n == 2 else None,
                           time_limit=60 if n == 0 else None)
            for n in range(3)]

    async def scenario(executor: LocalExecutor) -> list[Outcome]:
        return await asyncio.gather(*(executor.launch(host, job, lambda s: None)
                                      for job in jobs))

    assert [ended(o) for o in run(scenario)] == [Outcome(exit_code=0)] * 3
    said = [(home / f".cache/wq/sid/5{n}.1/stdout").read_text() for n in range(3)]
    assert said == ["s 0 unset\n", "s 1 x\n", "s 2 unset\n"]


def test_a_job_ignoring_term_is_killed_after_the_grace_period(home, host):
    started = []
    outcome = run(lambda ex: ex.launch(
        host, launch(2, "trap '' TERM; sleep 30", time_limit=1, grace=0.5), started.append))
    assert outcome == Outcome(exit_code=137, timed_out=True)
    d = home / ".cache/wq/sid/2.1"
    assert (d / "timeout").exists()


def test_a_job_within_its_limit_leaves_no_watchdog_behind(home, host):
    outcome = run(lambda ex: ex.launch(host, launch(3, "exit 4", time_limit=60),
                                       lambda s: None))
    assert ended(outcome) == Outcome(exit_code=4)
    d = home / ".cache/wq/sid/3.1"
    assert not (d / "timer.pid").exists()              # (a finished job keeps no timer files)

    def watchdogs() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            cmdline = proc.info["cmdline"] or []
            if str(d) in cmdline and any("timer" in a for a in cmdline) and \
                    proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        return found
    deadline = time.monotonic() + 5
    while watchdogs():
        assert time.monotonic() < deadline, "the watchdog outlived its job"
        time.sleep(0.05)


def test_a_finished_job_keeps_only_what_is_read_later(home, host):
    outcome = run(lambda ex: ex.launch(host, launch(12, "echo hi", time_limit=60,
                                                    stdin="secret\n"), lambda s: None))
    assert ended(outcome) == Outcome(exit_code=0)
    d = home / ".cache/wq/sid/12.1"
    assert {f.name for f in d.iterdir()} == {"claim", "pid", "rc", "stdout", "stderr"}
    assert (d / "stdout").read_text() == "hi\n"


def test_a_watch_that_finds_no_trace_bars_a_late_launch(home, host):
    job = launch(4, f"touch {home}/ran")
    outcome = run(lambda ex: ex.watch(host, job.dir))
    assert outcome.lost and outcome.never_started
    late = run(lambda ex: ex.launch(host, job, lambda s: None))
    assert late.exit_code is None and not (home / "ran").exists()


def test_a_resumed_watch_reports_running_then_the_exit(home, host):
    async def scenario(executor: LocalExecutor) -> tuple[list[str], Outcome]:
        job = launch(5, "sleep 1.5; exit 6")
        first = asyncio.ensure_future(executor.launch(host, job, lambda s: None))
        while not (home / ".cache/wq/sid/5.1/pid").exists():
            await asyncio.sleep(0.02)
        seen: list[str] = []
        outcome = await executor.watch(host, job.dir, lambda: seen.append("running"))
        await first
        return seen, outcome

    seen, outcome = run(scenario)
    assert seen == ["running"] and outcome.exit_code == 6 and not outcome.lost
    assert outcome.ended is not None and abs(outcome.ended - time.time()) < 5


def test_status_tells_what_became_of_lost_instances(home, host):
    base = home / ".cache/wq/sid"
    run(lambda ex: ex.launch(host, launch(6, "exit 3"), lambda s: None))
    sleeper = launch(7, "sleep 30")

    async def start_sleeper(executor: LocalExecutor) -> None:
        asyncio.ensure_future(executor.launch(host, sleeper, lambda s: None))
        while not (base / "7.1/pid").exists():
            await asyncio.sleep(0.02)
        found = await executor.status(host, "sid", ["6.1", "7.1", "8.1", "9.1", "10.1"])
        assert found == {"6.1": "exit 3", "7.1": "running", "8.1": "rebooted",
                         "9.1": "vanished", "10.1": "notstarted"}
        assert await executor.kill(host, sleeper.dir, 1) in ("terminated", "killed")

    for name, boot in (("8.1", "another-boot"), ("9.1", None)):
        (base / name).mkdir(parents=True)
        if boot is None:
            boot = open("/proc/sys/kernel/random/boot_id").read().strip()
        (base / name / "pid").write_text(f"999999999 1 {boot}\n")
    run(start_sleeper)
    assert (base / "10.1/claim").is_dir()
    run(lambda ex: ex.remove(host, "sid", ["6.1", "10.1"]))
    assert not (base / "6.1").exists() and (base / "7.1").exists()


def test_a_kill_takes_the_whole_group_even_once_the_job_itself_ended(home, host):
    """A driver in the job that ends its main process on TERM but keeps a step
    running (Snakemake's graceful TERM): the step goes too, after the grace."""
    marker = home / "straggler.pid"
    job = launch(11, f"(trap '' TERM; echo $(sh -c 'echo $PPID') > {marker}; sleep 60) & "
                     "wait")

    async def scenario(executor: LocalExecutor) -> tuple[str, int]:
        ending = asyncio.ensure_future(executor.launch(host, job, lambda s: None))
        while not marker.exists() or not marker.read_text().strip():
            await asyncio.sleep(0.02)
        result = await executor.kill(host, job.dir, 0.5)
        await ending
        return result, int(marker.read_text())

    result, straggler = run(scenario)
    assert result == "terminated"                   # the job's own shell ended on TERM
    deadline = time.monotonic() + 5
    while psutil.pid_exists(straggler) and psutil.Process(straggler).status() != "zombie":
        assert time.monotonic() < deadline, "a process of the job's group outlived the kill"
        time.sleep(0.05)


def test_the_shell_that_runs_a_command(home, host):
    """sh by default (no start-up files), the login shell on request, or a path."""
    (home / ".profile").write_text("export FROM_PROFILE=yes\n")
    probe = 'echo "${FROM_PROFILE:-none}"'

    async def scenario(executor: LocalExecutor) -> list[str]:
        said = []
        for n, shell in enumerate(("sh", "login", "/bin/bash")):
            job = launch(20 + n, probe + "; [[ 1 == 1 ]] && echo bash-ism", shell=shell)
            outcome = await executor.launch(host, job, lambda s: None)
            said.append((home / f".cache/wq/sid/{20 + n}.1/stdout").read_text())
            assert outcome.exit_code in (0, 127), outcome
        return said

    default, login, bash = run(scenario)
    assert default.startswith("none")             # no start-up file was read
    assert "bash-ism" not in default              # POSIX sh
    assert login.startswith("yes")                # the login shell read ~/.profile
    assert bash.startswith("none") and "bash-ism" in bash


def test_a_command_sees_its_own_pid_and_plain_words_run_without_a_shell(home, host):
    async def scenario(executor: LocalExecutor) -> list[Outcome]:
        return [await executor.launch(host, launch(30 + n, command), lambda s: None)
                for n, command in enumerate(("kill -9 $$", "/bin/echo plain words",
                                             "no-such-command-wq --x"))]

    killed, plain, missing = run(scenario)
    assert ended(killed) == Outcome(exit_code=137)   # $$ is the job's shell, not its runner
    assert ended(plain) == Outcome(exit_code=0) and ended(missing) == Outcome(exit_code=127)
    assert (home / ".cache/wq/sid/31.1/stdout").read_text() == "plain words\n"
    assert "no-such-command-wq" in (home / ".cache/wq/sid/32.1/stderr").read_text()


def test_helper_false_is_obeyed_while_the_hosts_helper_runs(home):
    """`helper: false` (after a `wq refresh`, say) takes the plain path at once."""
    async def scenario(executor: LocalExecutor) -> Outcome:
        await executor.launch(HELPED, launch(40, "true"), lambda s: None)
        return await executor.launch(PLAIN, launch(41, "true", stdout="/proc/wq-forbidden"),
                                     lambda s: None)

    outcome = run(scenario)
    assert outcome.exit_code == RC_NO_OUTPUT
    # only the plain runner records its pid before it finds the output unwritable
    assert (home / ".cache/wq/sid/41.1/pid").exists()


def test_a_setup_runs_once_per_boot_and_its_teardown_forgets_it(home, host):
    marker = '"$HOME/.cache/wq/sid/setup-x"'
    setup = wrapper.setup_script(marker, "echo ran >> count; pwd > where")
    assert run(lambda ex: ex.run(host, setup)) == (0, "")
    assert run(lambda ex: ex.run(host, setup)) == (0, "")          # this boot: done
    assert (home / "count").read_text() == "ran\n"
    assert (home / "where").read_text() == f"{home}\n"
    teardown = wrapper.teardown_script(marker, "echo gone >> count; exit 4")
    code, out = run(lambda ex: ex.run(host, teardown))
    assert code == 4 and out == ""
    assert run(lambda ex: ex.run(host, setup)) == (0, "")          # forgotten: again
    assert (home / "count").read_text() == "ran\ngone\nran\n"


def test_a_failed_setup_says_why_and_is_tried_again(home, host):
    marker = '"$HOME/.cache/wq/sid/setup-y"'
    failing = wrapper.setup_script(marker, "echo no mount here >&2; exit 3")
    assert run(lambda ex: ex.run(host, failing)) == (3, "no mount here\n")
    assert run(lambda ex: ex.run(host, failing))[0] == 3            # not marked done


def test_sampling_reads_the_host(home, host):
    from wq.parsing import samples
    code, text = run(lambda ex: ex.run(host, wrapper.SAMPLE_SCRIPT))
    sample = samples.parse(text, at=0.0)
    assert code == 0
    assert sample.load is not None and sample.mem_free is not None
    assert 0 < sample.mem_free <= sample.mem_total
