"""The README's quick start and restart promise, run as written."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

from tests.integration.conftest import wait_state
from tests.integration.sshd import alive

README = Path(__file__).parents[2] / "README.md"


def quick_start() -> list[str]:
    """The commands of the README's quick start, in order."""
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    section = section[:section.index("\n## ", 1)]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_readme_quick_start_runs_a_first_job_and_stops_the_server(tmp_path):
    first, test, stop = quick_start()
    # the install step is what the test command just did; run the rest as written
    rest = re.sub(r"^pip install [^&]*&& ", "", first)
    assert rest.startswith("wq serve -d && wq sub")
    assert stop == "wq stop"
    env = {**os.environ, "HOME": str(tmp_path), "WQ_SOCKET": str(tmp_path / "s" / "wq.sock")}
    env.pop("WQ_STATE", None)
    pid_file = tmp_path / ".local" / "state" / "wq" / "server.pid"
    try:
        r = subprocess.run(["bash", "-c", rest], env=env, capture_output=True, text=True,
                           timeout=60, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert re.search(r"^hello from \S+$", r.stdout, re.M), r.stdout
        pid = int(pid_file.read_text())
        r = subprocess.run(["bash", "-c", stop], env=env, capture_output=True, text=True,
                           timeout=90, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"wq server (pid {pid}) stopped\n"
        assert not alive(pid)
    finally:
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_ci_runs_the_readmes_test_command():
    _, test, _ = quick_start()
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test                        # the last line: the command, as written


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
