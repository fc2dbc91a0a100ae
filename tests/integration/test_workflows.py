"""What workflow tools lean on, on the sshd test hosts: dependencies (across a
server restart too), waiting for jobs, and machine-friendly answers."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from tests.integration.conftest import info, job_dir, jobs, wait_state
from tests.integration.sshd import WqServer, wait_for


def sub(server: WqServer, cwd: Path, command: str, *args: str) -> int:
    result = server.wq("sub", "-b", *args, "-c", command, cwd=str(cwd))
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_dependencies_hold_jobs_until_met_survive_a_restart_and_cancel_the_unmeetable(
        server, tmp_path):
    gate = tmp_path / "gate"
    first = sub(server, tmp_path, f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3")
    ok = sub(server, tmp_path, "echo ok > ok.out", "-d", f"afterok:{first}")
    notok = sub(server, tmp_path, "echo notok > notok.out", "-d", f"afternotok:{first}")
    chained = sub(server, tmp_path, "echo chained > chained.out", "--after", str(ok))
    anyway = sub(server, tmp_path, "echo any > any.out", "-d", f"afterany:{chained}")
    wait_state(server, first, ("running",))
    listed = jobs(server, "-f")
    assert listed[ok]["state"] == "waiting"
    assert listed[ok]["reason"] == f"waiting for afterok:{first}: job {first} has not ended"

    server.stop(signal.SIGKILL)               # the dependencies are in the store
    server.start()
    assert jobs(server, "-f")[chained]["reason"].startswith(f"waiting for afterok:{ok}")
    gate.touch()
    wait_state(server, anyway, ("done",))
    assert wait_state(server, ok, ("cancelled",))["state"] == "cancelled"
    assert "dependency never met: afterok:" in info(server, ok)["reason"]
    assert wait_state(server, chained, ("cancelled",))
    assert wait_state(server, notok, ("done",))
    assert sorted(p.name for p in tmp_path.glob("*.out")) == ["any.out", "notok.out"]


def test_dependencies_are_checked_at_submission(server, tmp_path):
    done, old = sub(server, tmp_path, "true"), sub(server, tmp_path, "true")
    wait_state(server, done, ("done",))
    wait_state(server, old, ("done",))
    for args, message in (
            (("-d", "afterok:999"), "refused: afterok:999: there is no job 999"),
            (("-d", f"afternotok:{done}"), f"can never be met: afternotok:{done}: job "
                                           f"{done} ended done"),
            (("-d", f"aftercorr:{done}"), "aftercorr is for arrays"),
            (("-d", "afterok:x"), "-d: 'x' is not a job id")):
        result = server.wq("sub", "-b", *args, "-c", "true", cwd=str(tmp_path))
        assert result.returncode != 0 and result.stderr.strip() == f"wq: {message}" or \
            message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    array = server.wq("sub", "-b", "--array", "1-3", "-c", "exit $((WQ_TASK_ID == 2))",
                      cwd=str(tmp_path))
    number = int(array.stdout)
    corr = server.wq("sub", "-b", "--array", "1-3", "-d", f"aftercorr:{number}", "-c",
                     "true", cwd=str(tmp_path))
    corr_number = int(corr.stdout)
    for task, state in ((1, "done"), (2, "cancelled"), (3, "done")):
        wait_state(server, f"{corr_number}.{task}", (state,))
    # a job a waiting one depends on stays in the history through wq clean
    gate = tmp_path / "gate"
    blocker = sub(server, tmp_path, f"while [ ! -e {gate} ]; do sleep 0.05; done")
    held = sub(server, tmp_path, "true", "-d", f"afterok:{done},afterok:{blocker}")
    ended = max(j["ended"] for i, j in jobs(server, "-a").items() if i in (done, old))
    wait_for(lambda: time.time() > ended + 1.2, 5, "the first jobs to be over a second old")
    assert server.wq("clean", "--older-than", "1s").returncode == 0
    listed = jobs(server, "-a")
    assert done in listed and old not in listed          # kept: a waiting job needs it
    server.stop(signal.SIGKILL)
    server.start()
    gate.touch()
    wait_state(server, held, ("done",))


def test_status_wait_and_parsable_answer_for_many_jobs_in_one_request(server, tmp_path):
    parsable = server.wq("sub", "--parsable", "-c", "exit 3", cwd=str(tmp_path))
    assert parsable.returncode == 0 and parsable.stdout.strip().isdigit(), parsable.stderr
    failed = int(parsable.stdout)
    done = sub(server, tmp_path, "true")
    gate = tmp_path / "gate"
    slow = sub(server, tmp_path, f"while [ ! -e {gate} ]; do sleep 0.05; done")
    array = int(server.wq("sub", "-b", "--array", "1-3", "-c", "true",
                          cwd=str(tmp_path)).stdout)
    waited = server.wq("wait", str(done), str(failed), f"{array}")
    assert waited.returncode == 3, waited.stderr                  # the first failure's
    status = server.wq("status", str(done), str(failed), str(slow), str(array),
                       f"{array}.2", "99999")
    assert status.stdout.split() == ["success", "failed", "running", "success", "success",
                                     "failed"]
    assert "no job 99999" in status.stderr and status.returncode == 0
    timed = server.wq("wait", "-t", "1s", str(slow))
    assert timed.returncode == 75 and "have not ended yet" in timed.stderr
    gate.touch()
    assert server.wq("wait", str(slow)).returncode == 0
    assert server.wq("wait", "--any", str(failed), str(done)).returncode == 3


def test_a_killed_attached_sub_cancels_its_job_and_log_f_follows_one(server, tmp_path):
    proc = server.popen("sub", "-c", "echo started; sleep 60", cwd=str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    job_id = max(i for i in jobs(server) if isinstance(i, int))
    proc.kill()                                   # SIGKILL: the server sees it go
    proc.wait(10)
    ended = wait_state(server, job_id, ("cancelled",))
    assert "attached wq sub went away" in info(server, job_id)["reason"], ended
    followed = sub(server, tmp_path, "for i in 1 2 3; do echo out$i; sleep 0.2; done; "
                                     "echo err >&2")
    log = server.wq("log", "-f", str(followed))
    assert log.returncode == 0 and log.stdout == "out1\nout2\nout3\n", log
    assert log.stderr == "err\n"
    again = server.wq("log", "-f", str(followed))            # ended: its log, as wq log
    assert again.stdout == "out1\nout2\nout3\n"


def test_an_attached_sub_rides_through_a_server_restart_with_its_exit_code(server, tmp_path):
    gate = tmp_path / "gate"
    proc = server.popen("sub", "-c", f"echo before; while [ ! -e {gate} ]; do sleep 0.05; "
                                     "done; echo after; exit 7", cwd=str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline() == "before\n"
    server.stop(signal.SIGKILL)
    server.start()
    gate.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7, err
    assert out == "after\n"                      # "before" was shown already, once
    assert "following job" in err and "again" in err
    submitted = server.popen("sub", "-b", "-c", "true", cwd=str(tmp_path))
    assert submitted.wait(30) == 0


def test_a_client_waits_for_a_restarting_server_and_gives_up_with_its_own_code(
        server, tmp_path):
    server.stop(signal.SIGKILL)                   # its socket stays: a restart is coming
    waiting = server.popen("sub", "-b", "-c", "true", cwd=str(tmp_path))
    assert waiting.stderr is not None
    assert "not answering" in waiting.stderr.readline()
    server.start()
    assert waiting.wait(30) == 0
    server.stop(signal.SIGKILL)
    gone = server.wq("ls", env={"WQ_RECONNECT": "0.5"})
    assert gone.returncode == 69 and "did not come back within 0.5s" in gone.stderr
    server.start()


def test_retry_runs_again_only_the_tasks_that_did_not_end_done(server, tmp_path):
    fixed = tmp_path / "fixed"
    array = server.wq("sub", "-b", "--array", "1-5", "-c",
                      f"[ -e {fixed} ] || [ $((WQ_TASK_ID % 2)) = 1 ]; s=$?; "
                      "echo $WQ_TASK_ID >> ran; exit $s", cwd=str(tmp_path))
    number = int(array.stdout)
    for task, state in ((1, "done"), (2, "failed"), (3, "done"), (4, "failed"), (5, "done")):
        wait_state(server, f"{number}.{task}", (state,))
    nothing = server.wq("retry", str(number), "--state", "lost")
    assert nothing.returncode == 1 and "has nothing that ended lost" in nothing.stderr
    fixed.touch()
    again = server.wq("sub", "--rerun", str(number), cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "2 task(s) of" in again.stderr
    rerun = int(again.stderr.split("array ")[1].split(":")[0])
    listed = jobs(server, "-a", "-e", str(rerun))
    assert sorted(listed) == [f"{rerun}.2", f"{rerun}.4"]
    assert sorted((tmp_path / "ran").read_text().split()) == ["1", "2", "2", "3", "4", "4", "5"]
    single = sub(server, tmp_path, "exit 9")
    wait_state(server, single, ("failed",))
    copy = server.wq("retry", "-b", str(single))
    assert copy.returncode == 0 and int(copy.stdout) > single
    assert wait_state(server, int(copy.stdout), ("failed",))["exit"] == 9


DOC = Path(__file__).parents[2] / "docs" / "json.md"


def documented(section: str) -> str:
    return next(p for p in DOC.read_text().split("\n## ") if p.startswith(section))


def table_fields(section: str) -> set[str]:
    """The fields of a section's table that are always there (not *optional*)."""
    names: set[str] = set()
    for line in documented(section).splitlines():
        if line.startswith("| `") and "*optional*" not in line:
            names |= set(re.findall(r"`([a-z0-9_]+)`", line.split("|")[1]))
    return names


def test_json_output_keeps_the_documented_schema(server, tmp_path):
    """docs/json.md is the contract: every field it promises is there."""
    done = sub(server, tmp_path, "true")
    wait_state(server, done, ("done",))
    row_fields = table_fields("wq ls --json")
    assert {"id", "state", "exit", "requirements"} <= row_fields
    row = jobs(server, "-a")[done]
    assert row_fields <= set(row), row_fields - set(row)
    info_doc = documented("wq info --json")
    whole = info(server, done)
    for name in ("command", "cwd", "hosts", "requirements", "interactive", "crashes",
                 "failures", "stdout", "stderr", "instances", "events"):
        assert f"`{name}`" in info_doc and name in whole, name
    assert row_fields <= set(whole)
    for name in ("number", "hosts", "started", "ended", "outcome", "exit", "detail",
                 "settled"):
        assert f"`{name}`" in info_doc and name in whole["instances"][0], name
    for name in ("time", "kind", "detail"):
        assert f"`{name}`" in info_doc and name in whole["events"][0], name
    stat_doc, reply = documented("wq stat --json"), json.loads(server.wq("stat", "--json").stdout)
    for name in ("hosts", "running", "waiting"):
        assert f"`{name}`" in stat_doc and name in reply, name
    for name in ("name", "cores", "used", "mem", "gpus", "labels", "state", "reason"):
        assert f"`{name}`" in stat_doc and name in reply["hosts"][0], name
    log_doc = documented("wq log --json")
    got = json.loads(server.wq("log", "--json", str(done)).stdout)
    for name in ("id", "host", "instance", "stdout", "stderr"):
        assert f"`{name}`" in log_doc and name in got, name
    status_doc = documented("wq status --json")
    item = json.loads(server.wq("status", "--json", str(done)).stdout)[0]
    for name in ("id", "state", "word", "exit"):
        assert f"`{name}`" in status_doc and name in item, name
    users_doc = documented("wq users --json")
    running = sub(server, tmp_path, "sleep 30")
    wait_state(server, running, ("running",))
    user = json.loads(server.wq("users", "--json").stdout)[0]
    for name in ("user", "running", "cores", "waiting", "limits"):
        assert f"`{name}`" in users_doc and name in user, name
    why_doc = documented("wq why --json")
    held = sub(server, tmp_path, "true", "-d", f"afterok:{running}")
    why = json.loads(server.wq("why", "--json", str(held)).stdout)
    for name in ("job", "state", "summary", "hosts"):
        assert f"`{name}`" in why_doc and name in why, name
    for name in ("host", "rule", "detail"):
        assert f"`{name}`" in why_doc and name in why["hosts"][0], name


def test_ls_format_prints_the_columns_asked_for(server, tmp_path):
    done = sub(server, tmp_path, "exit 4", "-r", "job_name: four")
    wait_state(server, done, ("failed",))
    listed = server.wq("ls", "-a", "-o", "id,state,exit,name", "--no-header", str(done))
    assert listed.stdout.split() == [str(done), "failed", "4", "four"], listed.stderr
    header = server.wq("ls", "-a", "-o", "ID,st", str(done)).stdout.splitlines()
    assert header[0].split() == ["ID", "ST"] and header[1].split() == [str(done), "F"]
    bad = server.wq("ls", "-o", "id,bogus")
    assert bad.returncode == 2 and "unknown column bogus" in bad.stderr


def test_on_end_hooks_run_once_with_how_the_job_ended(server, tmp_path):
    hooks = tmp_path / "hooks.txt"
    record = f'echo "$WQ_JOB_ID $WQ_STATE $WQ_EXIT $WQ_HOST $WQ_TASKS_DONE" >> {hooks}'
    failed = sub(server, tmp_path, "exit 3", "--on-end", record)
    array = server.wq("sub", "-b", "--array", "1-3", "--on-end", record, "-c", "true",
                      cwd=str(tmp_path))
    number = int(array.stdout)
    broken = sub(server, tmp_path, "true", "--on-end", "echo oops >&2; exit 5")
    (tmp_path / "job.yaml").write_text(f"command: 'true'\non_end: '{record}'\n")
    from_file = server.wq("sub", "-b", "job.yaml", cwd=str(tmp_path))
    filed = int(from_file.stdout)
    expected = 3                                         # (the broken one writes none)
    wait_for(lambda: hooks.exists() and len(hooks.read_text().splitlines()) == expected, 30,
             "the hooks to run")
    lines = sorted(hooks.read_text().splitlines())
    host = jobs(server, "-a")[failed]["host0"]
    assert f"{failed} failed 3 {host} " in lines
    assert f"{number} done   3" in lines                      # an array's: once, at its end
    assert any(line.startswith(f"{filed} done 0 node") for line in lines)
    wait_for(lambda: f"job {broken}: on_end command exited 5: oops" in "".join(server.log),
             30, "the failing hook to be logged")
    wait_state(server, broken, ("done",))


def test_a_finished_jobs_node_directory_keeps_only_what_log_and_recovery_read(
        server, tmp_path):
    done = sub(server, tmp_path, "echo out; echo err >&2", "-r", "hostfile: auto")
    timed = sub(server, tmp_path, "sleep 30", "-t", "1s")
    wait_state(server, done, ("done",))
    wait_state(server, timed, ("timeout",))
    for job_id, extra in ((done, []), (timed, ["timeout"])):     # (watch reads `timeout`)
        kept = sorted(p.name for p in job_dir(server, job_id).iterdir())
        assert kept == sorted(["claim", "pid", "rc", "stderr", "stdout", *extra]), kept
    assert server.wq("log", str(done)).stdout == "out\n"
