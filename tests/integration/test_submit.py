"""Submitting jobs to real sshd hosts through the real CLI: output, exit codes, env."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.conftest import jobs, wait_state


def test_attached_job_streams_output_and_exit_code(server, tmp_path):
    r = server.wq("sub", "-c", "echo out-$WQ_JOB_ID; echo err >&2; exit 3", cwd=str(tmp_path))
    assert r.returncode == 3
    assert r.stdout == "out-1\n"
    assert r.stderr == "err\n"


def test_job_runs_in_submit_dir_with_submitter_env(server, tmp_path):
    (tmp_path / "data.txt").write_text("42\n")
    r = server.wq("sub", "-c", 'cat data.txt; pwd; echo "$MY_VAR|${DISPLAY-unset}|$WQ_HOST|'
                  '$WQ_NCORES|$OMP_NUM_THREADS"', cwd=str(tmp_path),
                  env={"MY_VAR": "it's here", "DISPLAY": ":99"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "42"
    assert lines[1] == str(tmp_path)
    value, display, host, ncores, threads = lines[2].split("|")
    assert (value, display, ncores, threads) == ("it's here", "unset", "1", "1")
    assert host in ("node1", "node2", "node3")


def test_signal_exit_code(server, tmp_path):
    r = server.wq("sub", "-c", "kill -9 $$", cwd=str(tmp_path))
    assert r.returncode == 137


def test_batch_job_and_log(server, tmp_path):
    r = server.wq("sub", "-b", "-c", "echo batch-out; echo batch-err >&2", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    job_id = int(r.stdout)
    assert wait_state(server, job_id, ("done",))["exit"] == 0
    log = server.wq("log", str(job_id))
    assert (log.stdout, log.stderr) == ("batch-out\n", "batch-err\n")


def test_output_patterns(server, tmp_path):
    (tmp_path / "logs").mkdir()
    r = server.wq("sub", "-b", "-o", "out-%j.txt", "-e", "logs/err-%j.txt", "-c",
                  "echo to-out; echo to-err >&2", cwd=str(tmp_path))
    job_id = int(r.stdout)
    wait_state(server, job_id, ("done", "failed"))
    assert (tmp_path / f"out-{job_id}.txt").read_text() == "to-out\n"
    assert (tmp_path / "logs" / f"err-{job_id}.txt").read_text() == "to-err\n"


def test_unwritable_output_is_reported(server, tmp_path):
    r = server.wq("sub", "-o", "no/such/dir/out.txt", "-c", "true", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "cannot write the output files" in r.stderr


def test_job_file_with_overrides(server, tmp_path):
    (tmp_path / "job.yaml").write_text(
        "command: |\n  echo $WQ_NCORES $WQ_HOST\n  echo second line\njob_name: myjob\n"
        "N: 1\ngroup: a\n")
    r = server.wq("sub", "-r", "N: 2; job_name: x:y", "job.yaml", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 node1\nsecond line\n"
    [job] = [j for j in jobs(server, "--all").values()]
    assert job["name"] == "x:y"


def test_a_script_runs_as_written_with_its_header_as_requirements(server, tmp_path):
    (tmp_path / "run.sh").write_text("#!/bin/bash\n#WQ N: 2; mode: bycore1\n"
                                     "echo \"$WQ_NCORES $OMP_NUM_THREADS $WQ_HOSTS\"\n"
                                     "exit 6\n")
    r = server.wq("sub", "run.sh", cwd=str(tmp_path))
    assert r.returncode == 6, r.stderr
    cores, threads, hosts = r.stdout.split()
    assert (cores, threads, hosts.count(",")) == ("2", "2", 0)
    (tmp_path / "py").write_text("#!/usr/bin/env python3\nimport os\n"
                                 "print('python on', os.environ['WQ_HOST'])\n")
    r = server.wq("sub", "py", cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith("python on node"), r.stderr


def test_cores_asks_for_cores_on_one_host(server, tmp_path):
    r = server.wq("sub", "--cores", "2", "-c", "echo $WQ_NCORES $OMP_NUM_THREADS $WQ_HOSTS",
                  cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    cores, threads, hosts = r.stdout.split()
    assert (cores, threads, hosts.count(",")) == ("2", "2", 0)
    r = server.wq("sub", "--cores", "2", "-r", "N: 3", "-c", "true", cwd=str(tmp_path))
    assert r.returncode == 2 and "give one or the other" in r.stderr


def test_missing_cwd_on_the_node_is_reported(server, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    blocker = server.wq("sub", "-b", "-r", "mode: bynode; N: 3", "-c", "sleep 60",
                        cwd=str(tmp_path))
    blocker_id = int(blocker.stdout)
    wait_state(server, blocker_id, ("running",))
    job_id = int(server.wq("sub", "-b", "-c", "true", cwd=str(gone)).stdout)
    gone.rmdir()
    server.wq("rm", str(blocker_id))
    job = wait_state(server, job_id, ("failed",))
    assert f"the working directory {gone} does not exist on this host" in job["reason"]


def test_big_command_travels_on_stdin(server, tmp_path):
    big = "x" * 300_000      # over the 256 KiB that breaks an ssh exec request
    (tmp_path / "big.yaml").write_text(f"command: v={big}; echo ${{#v}}\n")
    r = server.wq("sub", "big.yaml", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "300000\n"


def test_attached_ctrl_c_cancels_the_job(server, tmp_path):
    import signal
    proc = server.popen("sub", "-c", "echo started; sleep 120", cwd=str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "cancelling job 1" in err
    assert jobs(server, "--all")[1]["state"] == "cancelled"


def test_embedded_local_default(tmp_path):
    from tests.integration.sshd import WqServer
    server = WqServer(tmp_path / "local", None)
    server.start()
    try:
        r = server.wq("sub", "-c", "echo local $WQ_HOST", cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("local ")
        assert os.uname().nodename.split(".")[0] in r.stdout
    finally:
        server.stop()
    assert not Path(server.socket).exists()


def test_version_and_python_m(tmp_path):
    import subprocess
    import sys

    import wq
    for args in ([sys.executable, "-m", "wq", "--version"], ["wq", "--version"]):
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == f"wq, version {wq.__version__}"
