"""The embedded default's jobs (this machine, no ssh) go through a local helper
over a pipe, with the same durability as over ssh."""

from __future__ import annotations

import signal

import psutil

from tests.integration.conftest import wait_state
from tests.integration.sshd import WqServer, wait_for


def test_local_jobs_outlive_their_helper_and_a_killed_server(tmp_path):
    server = WqServer(tmp_path / "srv", None)
    server.start()
    try:
        flag = tmp_path / "go"
        r = server.wq("sub", "-b", "-c", f"while [ ! -e {flag} ]; do sleep 0.05; done; "
                      "echo out; exit 7", cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        job_id = int(r.stdout)
        wait_state(server, job_id, ("running",))
        assert server.proc is not None
        [helper] = [p for p in psutil.Process(server.proc.pid).children()
                    if "-E" in p.cmdline() and "-S" in p.cmdline()]
        server.stop(signal.SIGKILL)
        # its stdin closed with the server: the helper ends; the job runs on
        wait_for(lambda: not helper.is_running() or helper.status() == psutil.STATUS_ZOMBIE,
                 10, "the helper to end")
        flag.touch()
        server.start()
        job = wait_state(server, job_id, ("failed",))
        assert job["exit"] == 7
        assert server.wq("log", str(job_id)).stdout == "out\n"
        assert "recovered 0 waiting and 1 running" in "".join(server.log)
    finally:
        server.stop()


def test_plain_words_and_shell_lines_alike_on_the_embedded_default(tmp_path):
    server = WqServer(tmp_path / "srv", None)
    server.start()
    try:
        plain = server.wq("sub", "-c", "echo plain words", cwd=str(tmp_path))
        shell = server.wq("sub", "-c", 'for i in 1 2; do echo "line $i"; done; exit 3',
                          cwd=str(tmp_path))
        bash = server.wq("sub", "-r", "shell: /bin/bash", "-c",
                         "echo $((1 + 1)) ${BASH_VERSION:+bash}", cwd=str(tmp_path))
        assert (plain.returncode, plain.stdout) == (0, "plain words\n")
        assert (shell.returncode, shell.stdout) == (3, "line 1\nline 2\n")
        assert (bash.returncode, bash.stdout) == (0, "2 bash\n")
    finally:
        server.stop()
