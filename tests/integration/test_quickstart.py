"""The README's quick start and restart promise, run as written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from tests.integration.conftest import wait_state

README = Path(__file__).parents[2] / "README.md"


def quick_start_command() -> str:
    text = README.read_text()
    [line] = [l.strip() for l in text.splitlines() if "wq serve -d" in l and "pip install" in l]
    return line


def test_readme_quick_start_runs_a_first_job(tmp_path):
    command = quick_start_command()
    # the install step is what .ci/run just did; run the rest as written
    rest = re.sub(r"^pip install [^&]*&& ", "", command)
    assert rest.startswith("wq serve -d && wq sub")
    env = {**os.environ, "HOME": str(tmp_path), "WQ_SOCKET": str(tmp_path / "s" / "wq.sock")}
    env.pop("WQ_STATE", None)
    try:
        r = subprocess.run(["bash", "-c", rest], env=env, capture_output=True, text=True,
                           timeout=60, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert re.search(r"^hello from \S+$", r.stdout, re.M), r.stdout
    finally:
        pid_file = tmp_path / ".local" / "state" / "wq" / "server.pid"
        if pid_file.exists() and pid_file.read_text().strip():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_running_jobs_survive_a_server_restart(make_server, tmp_path):
    server = make_server()
    flag = tmp_path / "go"
    job_id = int(server.wq("sub", "-b", "-c", f"while [ ! -e {flag} ]; do sleep 0.1; done; "
                           "exit 7", cwd=str(tmp_path)).stdout)
    wait_state(server, job_id, ("running",))
    server.stop()                                   # the job keeps running on its node
    flag.touch()
    server.start()
    job = wait_state(server, job_id, ("failed",))
    assert job["exit"] == 7
    assert "recovered 0 waiting and 1 running" in "".join(server.log)
