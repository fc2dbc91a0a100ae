"""Interactive jobs driven through a real terminal (tmux) against real sshd hosts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import jobs, stat, wait_state
from tests.integration.sshd import alive, wait_for
from tests.integration.tmux import Tmux, shell_env

WQ = f"{sys.executable} -m wq"
SHELL = "'bash --norc --noprofile'"


@pytest.fixture
def term(server):
    t = Tmux(shell_env(server.env))
    yield t
    t.close()


def enter_session(term: Tmux, server, tmp_path, reqs: str = "") -> None:
    r = f"-r '{reqs}' " if reqs else ""
    term.start(f"{WQ} sub {r}-c {SHELL}; echo client-exit=$?", str(tmp_path))
    term.wait("bash-")                       # the remote shell's default prompt
    term.send("export PS1='inner$ '")
    term.wait("inner$")


def test_a_shell_session_feels_local(server, term, tmp_path):
    enter_session(term, server, tmp_path)
    term.send("echo host=$WQ_HOST; tty; stty size")
    screen = term.wait("30 100")
    assert "host=node1" in screen and "/dev/pts/" in screen
    assert jobs(server)[1]["interactive"] is True
    assert server.wq("ls").stdout.splitlines()[1].split()[2] == "I"

    term.resize(80, 20)
    term.send("stty size")
    term.wait("20 80")

    def press_during_sleep(key: str, marker: str) -> None:
        term.send(f"echo sleeping-{marker}; sleep 300")
        term.wait(f"sleeping-{marker}", count=2)       # the command line, then its output
        term.key(key)

    press_during_sleep("C-c", "c")
    term.send("echo after-ctrl-c")
    term.wait("after-ctrl-c", count=2)
    press_during_sleep("C-z", "z")
    term.wait("Stopped")
    term.send("kill -9 %1; echo after-ctrl-z")
    term.wait("after-ctrl-z", count=2)
    press_during_sleep("C-\\", "q")
    term.wait("Quit")

    term.send("exit 3")
    term.wait("client-exit=3")
    job = jobs(server, "--all")[1]
    assert (job["state"], job["exit"]) == ("failed", 3)
    assert stat(server)["node1"]["used"] == 0


def test_the_terminal_is_restored_after_the_session(server, term, tmp_path):
    enter_session(term, server, tmp_path)
    term.send("exit")
    term.wait("client-exit=0")
    term.send("stty -a | grep -o -- '-\\?icanon' | head -1; "
              "stty -a | grep -o -- '-\\?echo ' | head -1")
    screen = term.wait("echo", count=3)
    assert "-icanon" not in screen and "-echo " not in screen


def test_kill_9_of_the_client_frees_the_cores(server, term, tmp_path):
    term.start(f"exec {WQ} sub -r 'N: 2' -c {SHELL}", str(tmp_path))
    term.wait("bash-")
    term.send("echo $$ > inner.pid")
    wait_for(lambda: (tmp_path / "inner.pid").exists() and (tmp_path / "inner.pid").read_text(),
             15, "the remote shell's pid")
    inner = int((tmp_path / "inner.pid").read_text())
    assert stat(server)["node1"]["used"] == 2
    os.kill(term.pane_pid(), signal.SIGKILL)
    wait_for(lambda: stat(server)["node1"]["used"] == 0, 10, "the cores to be free")
    job = wait_state(server, 1, ("lost",))
    assert "client went away" in job["reason"]
    wait_for(lambda: not alive(inner), 15, "the remote shell to end")


def test_rm_ends_the_session_on_the_node(server, term, tmp_path):
    enter_session(term, server, tmp_path)
    term.send("echo $$ > inner.pid")
    wait_for(lambda: (tmp_path / "inner.pid").exists() and (tmp_path / "inner.pid").read_text(),
             15, "the remote shell's pid")
    inner = int((tmp_path / "inner.pid").read_text())
    r = server.wq("rm", "1")
    assert r.stdout.strip() == "job 1: session ended" and r.returncode == 0
    screen = term.wait("client-exit=1")
    assert "wq: job 1: the session was ended: removed with wq rm" in screen
    assert wait_state(server, 1, ("cancelled",))["state"] == "cancelled"
    wait_for(lambda: not alive(inner), 15, "the remote shell to end")


def test_a_waiting_session_says_why_and_starts_when_it_fits(server, term, tmp_path):
    blocker = int(server.wq("sub", "-b", "-r", "mode: bynode; N: 3", "-c", "sleep 300",
                            cwd=str(tmp_path)).stdout)
    wait_state(server, blocker, ("running",))
    term.start(f"{WQ} sub -r 'group: c' -c {SHELL}; echo client-exit=$?", str(tmp_path))
    term.wait("wq: job 2 waiting for 1 free core(s) among hosts with group=c (0 free now)")
    server.wq("rm", str(blocker))
    term.wait("bash-")
    term.send("echo on $WQ_HOST; exit")
    screen = term.wait("client-exit=0")
    assert "on node3" in screen


def test_x11_forwarding_on_request_and_a_clear_refusal(server, tmp_path):
    display = 97
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    term = Tmux({**shell_env(server.env), "DISPLAY": f":{display}"})
    try:
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{display}").exists(), 15, "Xvfb")
        term.start(f"{WQ} sub -X -r 'host: node1' -c 'xdpyinfo | grep \"name of display\"';"
                   " echo client-exit=$?", str(tmp_path))
        screen = term.wait("client-exit=0")
        assert "name of display:    localhost:1" in screen
        term.send(f"{WQ} sub -X -r 'host: node3' -c true; echo client-exit=$?")
        screen = term.wait("client-exit=1")
        assert "node3 refused X11 forwarding" in screen
        term.send(f"{WQ} sub -r 'host: node1' -c 'echo D=${{DISPLAY-unset}}'")
        term.wait("D=unset")
    finally:
        term.close()
        xvfb.terminate()
        xvfb.wait(10)


def test_agent_forwarding_only_when_asked(server, tmp_path, keys):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, 10, "ssh-agent")
        env = {"SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(keys.identity)], env={**os.environ, **env},
                       check=True, timeout=10)
        forwarded = server.wq("sub", "-A", "-c", "ssh-add -l", env=env, cwd=str(tmp_path))
        assert forwarded.returncode == 0 and "wq-test" in forwarded.stdout, forwarded.stderr
        plain = server.wq("sub", "-c", "echo S=${SSH_AUTH_SOCK-unset}", env=env,
                          cwd=str(tmp_path))
        assert plain.stdout == "S=unset\n"
    finally:
        agent.terminate()
        agent.wait(10)


def test_without_a_terminal_a_shell_is_a_batch_job_and_stdin_can_be_fed(server, tmp_path):
    r = subprocess.run([sys.executable, "-m", "wq", "sub", "-c", "bash"], env=server.env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path))
    assert r.returncode == 0
    assert not jobs(server, "--all")[1].get("interactive")
    r = server.wq("sub", "--stdin", "-c", "wc -l", input="1\n2\n3\n4\n5\n", cwd=str(tmp_path))
    assert r.stdout.strip() == "5"
    r = server.wq("sub", "--stdin", "-c", "cat", input="no newline at the end: it's $x",
                  cwd=str(tmp_path))
    assert r.stdout == "no newline at the end: it's $x"


def test_interactive_on_the_embedded_local_default(tmp_path):
    from tests.integration.sshd import WqServer
    server = WqServer(tmp_path / "local", None)
    server.start()
    term = Tmux(shell_env(server.env))
    try:
        plain = subprocess.run([sys.executable, "-m", "wq", "sub", "-i", "-c",
                                "echo no-tty-$WQ_JOB_ID; exit 5"], env=server.env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60, cwd=str(tmp_path))
        assert (plain.returncode, plain.stdout) == (5, "no-tty-1\n")
        term.start(f"{WQ} sub -c {SHELL}; echo client-exit=$?", str(tmp_path))
        term.wait("bash-")
        term.send("stty size; exit 4")
        screen = term.wait("client-exit=4")
        assert "30 100" in screen
    finally:
        term.close()
        server.stop()


def test_a_signal_ending_the_remote_shell_gives_128_plus_n(server, term, tmp_path):
    enter_session(term, server, tmp_path)
    term.send("kill -9 $$")
    term.wait("client-exit=137")
    assert jobs(server, "--all")[1]["exit"] == 137


def test_the_connection_dropping_restores_the_terminal(make_server, keys, tmp_path):
    from tests.integration.conftest import cluster_yaml
    from tests.integration.sshd import SshHost
    host = SshHost("drop", "127.0.0.6", tmp_path / "drop-host", keys)
    host.start()
    try:
        known = keys.known_hosts.read_text()
        keys.known_hosts.write_text(known + host.host_key_line + "\n")
        server = make_server(cluster_yaml(keys, [host]), wait_up=False)
        wait_for(lambda: stat(server)["drop"]["state"] == "up", 30, "the host up")
        term = Tmux(shell_env(server.env))
        try:
            enter_session(term, server, tmp_path)
            host.stop()                     # sshd and its sessions die: the connection drops
            screen = term.wait("client-exit=1")
            assert "wq: job 1: the connection to drop was lost" in screen
            term.send("stty -a | grep -c -- '-icanon'")
            assert term.wait("outer$", count=3).splitlines().count("0") == 1
            assert wait_state(server, 1, ("lost",))["state"] == "lost"
        finally:
            term.close()
    finally:
        host.stop()
        keys.known_hosts.write_text(known)


def test_a_session_ends_when_its_time_limit_runs_out(server, term, tmp_path):
    term.start(f"{WQ} sub -t 3s -c {SHELL}; echo client-exit=$?", str(tmp_path))
    term.wait("bash-")
    screen = term.wait("client-exit=124")
    assert "wq: job 1: the session was ended: its time limit ran out" in screen
    assert wait_state(server, 1, ("timeout",))["state"] == "timeout"
