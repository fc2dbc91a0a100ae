"""Slurm's commands over wq, installed with `wq slurm install` and run as a
workflow tool runs them, against the sshd test hosts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.conftest import wait_state
from tests.integration.sshd import WqServer, wait_for

SCRIPT = """#!/bin/bash
#SBATCH -J sim
#SBATCH -c 2
#SBATCH --mem=500M
#SBATCH -t 5
echo "id=$SLURM_JOB_ID name=$SLURM_JOB_NAME cpus=$SLURM_CPUS_PER_TASK" \\
     "mem=$SLURM_MEM_PER_NODE dir=$SLURM_SUBMIT_DIR args=$*"
"""


def shims(server: WqServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "slurm-bin"
    installed = server.wq("slurm", "install", str(bin_dir))
    assert installed.returncode == 0, installed.stderr
    env = {**server.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=env, cwd=str(tmp_path), input=input,
                              capture_output=True, text=True, timeout=60)
    return run


def test_sbatch_squeue_sacct_and_scancel_as_a_workflow_tool_uses_them(server, tmp_path):
    run = shims(server, tmp_path)
    (tmp_path / "job.sh").write_text(SCRIPT)
    submitted = run("sbatch", "--parsable", "-A", "acct", "job.sh", "x", "y")
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stderr == "sbatch: warning: ignored by wq: --account\n"
    job = submitted.stdout.strip()
    wait_state(server, int(job), ("done",))
    out = (tmp_path / f"slurm-{job}.out").read_text()
    assert out == f"id={job} name=sim cpus=2 mem=500 dir={tmp_path} args=x y\n"
    acct = run("sacct", "-j", job, "-X", "-n", "-P", "-o", "JobIdRaw,State,ExitCode,AllocCPUS")
    assert acct.stdout == f"{job}|COMPLETED|0:0|2\n", acct.stderr

    gate = tmp_path / "gate"
    held = run("sbatch", "--wrap", f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3")
    assert held.stdout.startswith("Submitted batch job "), held.stderr
    blocker = held.stdout.split()[-1]
    after = run("sbatch", "--parsable", "-d", f"afternotok:{blocker}", "-o", "after-%x.out",
                "-J", "then", "--wrap", "echo ran")
    array = run("sbatch", "--parsable", "--array", "1-3%1", "-o", "t-%A_%a.out",
                "--wrap", "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID")
    wait_state(server, int(blocker), ("running",))
    queue = run("squeue", "-h", "-o", "%i %t %j %R")
    lines = queue.stdout.splitlines()
    assert f"{blocker} R wrap" in " ".join(lines)
    assert f"{after.stdout.strip()} PD then (Dependency)" in lines
    gate.touch()
    wait_state(server, int(after.stdout), ("done",))
    assert (tmp_path / "after-then.out").read_text() == "ran\n"
    number = array.stdout.strip()
    for task in (1, 2, 3):
        wait_state(server, f"{number}.{task}", ("done",))
        assert (tmp_path / f"t-{number}_{task}.out").read_text() == \
            f"task {task} of {number}\n"
    states = run("sacct", "-X", "-n", "-P", "-o", "JobID,State,ExitCode", "-j",
                 f"{blocker},{number}")
    assert states.stdout.splitlines() == [f"{blocker}|FAILED|3:0", f"{number}_1|COMPLETED|0:0",
                                          f"{number}_2|COMPLETED|0:0",
                                          f"{number}_3|COMPLETED|0:0"]

    long = run("sbatch", "--parsable", "-J", "long", "--wrap", "sleep 60").stdout.strip()
    wait_state(server, int(long), ("running",))
    cancelled = run("scancel", "-n", "long")
    assert cancelled.returncode == 0, cancelled.stderr
    wait_state(server, int(long), ("cancelled",))
    assert run("squeue", "-h", "-t", "CA", "-o", "%i").stdout.split() == [long]
    refused = run("sbatch", "--deadline=now+1hour", "--wrap", "true")
    assert refused.returncode == 1 and refused.stderr == \
        "sbatch: error: --deadline: a deadline is not supported by wq\n"


def test_srun_scontrol_sinfo_and_accounts(server, tmp_path):
    run = shims(server, tmp_path)
    attached = run("srun", "-n1", "-c", "2", "--cpu-bind=q", "sh", "-c",
                   "echo cpus=$SLURM_CPUS_PER_TASK; exit 4")
    assert attached.returncode == 4 and attached.stdout == "cpus=2\n", attached.stderr
    (tmp_path / "steps.sh").write_text(
        "#!/bin/sh\n#SBATCH -n 2\n"
        "srun -n2 sh -c 'echo step $SLURM_PROCID of $SLURM_JOB_ID' | sort\n"
        "scontrol show hostnames \"n[1-2],m\"\n")
    job = run("sbatch", "--parsable", "-o", "steps.out", "steps.sh").stdout.strip()
    wait_state(server, int(job), ("done",))
    assert (tmp_path / "steps.out").read_text() == \
        f"step 0 of {job}\nstep 1 of {job}\nn1\nn2\nm\n"
    shown = run("scontrol", "show", "job", job).stdout
    assert f"JobId={job} " in shown and "JobState=COMPLETED" in shown and \
        "ExitCode=0:0" in shown
    config = run("scontrol", "show", "config").stdout
    assert "MinJobAge               = 300 sec" in config
    partitions = run("sinfo", "-h", "-o", "%P %D %t %C").stdout.split("\n")
    assert partitions[0] == "wq* 3 idle 0/6/0/6", partitions
    assert run("sinfo", "-h", "-o", "%P").stdout.split()[0] == "wq*"
    assert run("sacctmgr", "-n", "-s", "list", "user", "me", "format=account%256"
               ).stdout == "wq\n"
    assert run("sshare", "-U", "--format", "Account%256", "--noheader").stdout == "wq\n"


def test_a_log_folder_made_right_after_sbatch_returns_is_waited_for(server, tmp_path):
    """As a tool does that names the folder after the job id it has just been
    told: wq starts the job within milliseconds, before the folder exists."""
    run = shims(server, tmp_path)
    submitted = run("sbatch", "--parsable", "-o", "logs/%j/%j_0_log.out", "--wrap", "echo made")
    assert submitted.returncode == 0, submitted.stderr
    number = submitted.stdout.strip()
    (tmp_path / "logs" / number).mkdir(parents=True)
    assert wait_state(server, int(number), ("done", "failed"))["state"] == "done"
    assert (tmp_path / "logs" / number / f"{number}_0_log.out").read_text() == "made\n"
    waited = run("sbatch", "--parsable", "--wait", "--wrap", "exit 4")   # (as Slurm's)
    assert waited.returncode == 4 and waited.stdout.strip().isdigit(), waited


def test_each_array_task_has_an_integer_job_id_that_slurms_commands_take(server, tmp_path):
    run = shims(server, tmp_path)
    submitted = run("sbatch", "--parsable", "--array", "1,4,7", "-o", "t-%a.out", "--wrap",
                    "echo $SLURM_JOB_ID $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID")
    assert submitted.returncode == 0, submitted.stderr
    number = int(submitted.stdout)
    for task in (1, 4, 7):
        wait_state(server, f"{number}.{task}", ("done",))
    ids = {int(t): int(i) for i, a, t in (
        (tmp_path / f"t-{t}.out").read_text().split() for t in (1, 4, 7)) if int(a) == number}
    assert ids == {1: number + 1, 4: number + 2, 7: number}
    after = run("sbatch", "--parsable", "--wrap", "true").stdout.strip()
    assert int(after) == number + 3                       # (the array took three numbers)
    for task, slurm_id in ids.items():
        shown = run("sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", str(slurm_id))
        assert shown.stdout.splitlines() == (
            [f"{number}_{t}|COMPLETED" for t in (1, 4, 7)] if task == 7 else
            [f"{number}_{task}|COMPLETED"]), shown.stderr


def test_signals_reach_running_jobs_which_run_on_and_sbatch_signal_warns_ahead(server,
                                                                             tmp_path):
    """wq signal reaches the whole job; scancel -s, as Slurm's, srun's tasks
    alone, -b the batch shell alone, -f both; srun outlives them all."""
    run = shims(server, tmp_path)
    loop = "while :; do sleep 0.1; done"
    script = (f"#!/bin/sh\ntrap 'echo batch >> sig.txt' USR1\n"
              f"srun sh -c \"trap 'echo step >> sig.txt' USR1; : > up; {loop}\" &\n{loop}\n")
    (tmp_path / "job.sh").write_text(script)
    number = run("sbatch", "--parsable", "job.sh").stdout.strip()
    waiting = run("sbatch", "--parsable", "-d", f"afterok:{number}", "--wrap", "true")
    wait_state(server, int(number), ("running",))
    wait_for(lambda: (tmp_path / "up").exists(), 30, "srun's task to start")
    sent = server.wq("signal", "-s", "SIGUSR1", number, waiting.stdout.strip())
    assert sent.returncode == 1 and sent.stdout.splitlines() == [
        f"job {waiting.stdout.strip()}: not running", f"job {number}: signalled"], sent.stdout
    heard = tmp_path / "sig.txt"

    def counts(step: int, batch: int) -> bool:
        said = heard.read_text().split() if heard.exists() else []
        return (said.count("step"), said.count("batch")) == (step, batch)
    wait_for(lambda: counts(1, 1), 30, "the whole job to get USR1")
    for args, step, batch in ((("-s", "10"), 2, 1), (("-b", "-s", "USR1"), 2, 2),
                              (("-f", "-s", "USR1"), 3, 3)):        # (10: USR1's number)
        assert run("scancel", *args, number).returncode == 0
        wait_for(lambda step=step, batch=batch: counts(step, batch), 30,
                 f"scancel {' '.join(args)} to be heard")
    assert wait_state(server, int(number), ("running",))["state"] == "running"
    assert server.wq("signal", "-s", "KILL", number).returncode == 2   # (wq rm's job)
    run("scancel", number)
    wait_state(server, int(number), ("cancelled",))
    assert counts(3, 3), heard.read_text()          # (nothing more came: each once)

    warned = run("sbatch", "--parsable", "-t", "1", "--signal=B:USR1@58", "-o", "w.out",
                 "--wrap", "sleep 30 & s=$!; trap 'echo warned; kill $s; exit 0' USR1; wait")
    assert wait_state(server, int(warned.stdout), ("done", "failed", "timeout"),
                      timeout=30)["state"] == "done"
    assert (tmp_path / "w.out").read_text() == "warned\n"


def test_hold_release_update_and_requeue_through_wq_and_scontrol(server, tmp_path):
    """A held job keeps its place and says JobHeldUser; released it runs with the
    time limit it was updated to; requeued once ended it runs again, same id."""
    run = shims(server, tmp_path)
    held = run("sbatch", "--parsable", "-H", "-t", "10", "-o", "h.out", "--wrap",
               "echo run $SLURM_RESTART_COUNT; echo limit $SLURM_JOB_ID").stdout.strip()
    queue = run("squeue", "-h", "-j", held, "-o", "%i|%T|%r|%l|%Q")
    assert queue.stdout == f"{held}|PENDING|JobHeldUser|10:00|0\n", queue.stderr
    why = server.wq("why", held)
    assert f"held (wq release {held} lets it start)" in why.stdout, why.stdout
    assert run("scontrol", "update", f"JobId={held}", "TimeLimit=2:00").returncode == 0
    assert run("squeue", "-h", "-j", held, "-o", "%l").stdout == "2:00\n"
    bad = run("scontrol", "update", f"JobId={held}", "TimeLimit=bogus")
    assert (bad.returncode, bad.stderr) == (1, "scontrol: error: Invalid TimeLimit value\n")
    assert run("scontrol", "hold", held).returncode == 0                # (already held)
    released = server.wq("release", held)
    assert released.stdout == f"job {held}: released\n", released.stdout + released.stderr
    assert wait_state(server, int(held), ("done",))["state"] == "done"
    assert run("scontrol", "show", "job", held).stdout.count("TimeLimit=00:02:00") == 1

    requeued = run("scontrol", "requeue", held)
    assert requeued.returncode == 0, requeued.stderr
    wait_for(lambda: (tmp_path / "h.out").read_text().startswith("run 1"), 30,
             "the requeued job to run again")
    info = server.wq("info", held)
    assert "requeued by" in info.stdout, info.stdout
    missing = run("scontrol", "hold", "99999")
    assert (missing.returncode, missing.stderr) == (
        1, "Invalid job id specified for job 99999\n")

    gate = tmp_path / "gate"
    busy = run("sbatch", "--parsable", "--wrap",
               f"echo start >> b.log; while [ ! -e {gate} ]; do sleep 0.05; done"
               ).stdout.strip()
    wait_state(server, int(busy), ("running",))
    not_pending = server.wq("hold", busy)
    assert (not_pending.returncode, not_pending.stdout) == (
        1, f"job {busy}: running: only a waiting job can be held\n")
    assert run("scontrol", "hold", busy).returncode == 0       # (Slurm's says nothing)
    stopped = server.wq("requeue", busy)
    assert stopped.stdout == f"job {busy}: requeued (being stopped)\n", stopped.stdout
    wait_for(lambda: (tmp_path / "b.log").read_text().count("start") == 2, 30,
             "the running job to be stopped and run again")
    gate.touch()
    assert wait_state(server, int(busy), ("done",))["state"] == "done"


def test_srun_inside_a_job_starts_its_tasks_on_every_host_of_the_job(server, tmp_path):
    """srun in an `sbatch -N 2 -n 3` job runs SLURM_NTASKS tasks in blocks over the
    job's two hosts (the second's through the server), each with its ids, their
    output on srun's and srun's exit status their worst; `srun -n 2` outside a
    job is a job of that shape doing the same; a job removed stops its step's
    tasks on the other host too."""
    run = shims(server, tmp_path)
    show = "srun sh -c 'echo $SLURM_PROCID/$SLURM_NTASKS $SLURM_NODEID $SLURMD_NODENAME'"
    job = run("sbatch", "--parsable", "-N", "2", "-n", "3", "-o", "s.out", "--wrap",
              f"{show}; srun -n 1 true; srun sh -c 'exit $SLURM_PROCID'; echo rc=$?")
    assert wait_state(server, int(job.stdout), ("done", "failed"))["state"] == "done"
    lines = (tmp_path / "s.out").read_text().splitlines()
    assert lines[-1] == "rc=2", lines
    said = [line.split(": ", 3)[3] for line in lines if line.startswith("srun: error: ")]
    # (in the order the tasks ended, as Slurm's srun says them: task 2 ran on the
    # other host, and may end first)
    assert sorted(said) == ["task 1: Exited with exit code 1",
                            "task 2: Exited with exit code 2"]
    tasks = sorted(line for line in lines[:-1] if not line.startswith("srun: "))
    assert [t.split()[:2] for t in tasks] == [["0/3", "0"], ["1/3", "0"], ["2/3", "1"]], lines
    assert tasks[0].split()[2] == tasks[1].split()[2] != tasks[2].split()[2]

    outside = run("srun", "-n", "2", "sh", "-c", "echo task $SLURM_PROCID")
    assert outside.returncode == 0, outside.stderr
    assert sorted(outside.stdout.splitlines()) == ["task 0", "task 1"]

    pids = tmp_path / "pids"
    pids.mkdir()
    long = run("sbatch", "--parsable", "-N", "2", "--wrap",
               f"srun sh -c 'echo $$ > {pids}/$SLURM_NODEID; exec sleep 300'")
    wait_for(lambda: len([p for p in pids.iterdir() if p.read_text().strip()]) == 2, 30,
             "the step's task on each host")
    alive = [p.read_text().strip() for p in pids.iterdir()]
    assert all(os.path.exists(f"/proc/{pid}") for pid in alive), alive
    assert run("scancel", long.stdout.strip()).returncode == 0
    wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in alive), 30,
             "every task of the step to be stopped")

