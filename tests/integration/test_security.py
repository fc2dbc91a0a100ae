"""A hostile local user, with real Unix users: nobody can pose as a user's
server, read what wq keeps of a user's jobs, or make `wq serve` damage files.

The user tests skip, saying why, where users cannot be created (not root)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import cluster_yaml, job_dir, wait_state
from tests.integration.sshd import WqServer, wait_for
from tests.integration.users import UnixUser, unix_users

SECRET = "AWS_SECRET_ACCESS_KEY=wq-test-secret-1234"

# a squatter: listens on the socket path, and writes down whatever reaches it
SQUATTER = textwrap.dedent("""\
    import os, socket, sys
    directory, mode, log = sys.argv[1], int(sys.argv[2], 8), sys.argv[3]
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, mode)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(directory, "wq.sock"))
    os.chmod(os.path.join(directory, "wq.sock"), 0o777)
    s.listen()
    open(log, "w").close()
    print("listening", flush=True)
    while True:
        conn, _ = s.accept()
        conn.settimeout(2)
        with open(log, "a") as fh:
            fh.write("connection\\n")
            try:
                fh.write(repr(conn.recv(65536)) + "\\n")
            except OSError:
                pass
        conn.close()
""")


@pytest.fixture(scope="module")
def users(members_python: str) -> Iterator[dict[str, UnixUser]]:
    with unix_users(members_python, "v", "m") as made:
        yield made


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    return lines[0]


def squat(mallory: UnixUser, directory: str, dir_mode: str) -> Path:
    script = mallory.home / "squat.py"
    script.write_text(SQUATTER)
    log = mallory.home / "squat.log"
    proc = mallory.popen(mallory.python, str(script), directory, dir_mode, str(log))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening", \
        proc.stderr.read() if proc.stderr else ""
    return log


@pytest.mark.parametrize("how", ["directory", "symlink"])
def test_a_squatted_socket_directory_gets_nothing(users, how):
    victim, mallory = users["v"], users["m"]
    target = f"/tmp/wq-{victim.uid}"
    try:
        if how == "directory":
            log = squat(mallory, target, "0777")
        else:
            log = squat(mallory, str(mallory.home / "lair"), "0777")
            mallory.run("ln", "-s", str(mallory.home / "lair"), target)
        env = victim.env(AWS_SECRET_ACCESS_KEY="wq-test-secret-1234")
        for args in (("sub", "-b", "-c", "true"), ("ls",), ("sub", "-c", "bash")):
            line = one_line(victim.wq(*args, env=env))
            assert line.startswith("wq: refusing to talk to a wq server"), line
            assert ("symbolic link" if how == "symlink" else mallory.name) in line, line
        assert log.read_text() == ""                    # not even a connection
        # the victim's own server goes to the session's runtime directory instead
        runtime = victim.home / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.chown(runtime, victim.uid, victim.gid)
        env = victim.env(XDG_RUNTIME_DIR=str(runtime))
        started = victim.wq("serve", "-d", env=env)
        assert started.returncode == 0, started.stderr
        hello = victim.wq("sub", "-c", "echo hello from $WQ_HOST", env=env)
        assert hello.returncode == 0 and hello.stdout.startswith("hello from"), hello.stderr
        assert (runtime / "wq" / "wq.sock").exists() and mode(runtime / "wq") == 0o700
        assert log.read_text() == ""
    finally:
        victim.kill_all()
        mallory.kill_all()
        if os.path.islink(target):
            os.unlink(target)
        elif os.path.isdir(target):
            for entry in os.listdir(target):
                os.unlink(os.path.join(target, entry))
            os.rmdir(target)


def test_a_server_outlives_its_runtime_directory(users):
    """systemd removes /run/user/UID when the user's last login ends; the server,
    still running, listens at /tmp/wq-UID instead, where clients look too."""
    victim = users["v"]
    runtime = victim.home / "run-logout"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, victim.uid, victim.gid)
    env = victim.env(XDG_RUNTIME_DIR=str(runtime))
    try:
        started = victim.wq("serve", "-d", env=env)
        assert started.returncode == 0, started.stderr
        assert (runtime / "wq" / "wq.sock").exists()
        shutil.rmtree(runtime)                                   # the last login ended
        fallback = Path(f"/tmp/wq-{victim.uid}/wq.sock")
        wait_for(fallback.exists, 20, "the server to listen at /tmp/wq-UID")
        runtime.mkdir(mode=0o700)                                # the next login
        os.chown(runtime, victim.uid, victim.gid)
        hello = victim.wq("sub", "-c", "echo still here", env=env)
        assert hello.returncode == 0 and hello.stdout == "still here\n", hello.stderr
        again = victim.wq("serve", "-d", env=env)
        assert again.returncode == 1 and "already running on " + str(fallback) in again.stderr
    finally:
        victim.kill_all()
        shutil.rmtree(fallback.parent, ignore_errors=True)


def test_another_user_reads_nothing_wq_keeps(users):
    """The state directory, database and log, and the job files on a (local) node:
    private whatever they were before; a job's own output keeps the user's umask."""
    victim, mallory = users["v"], users["m"]
    for old in (".local", ".cache"):
        shutil.rmtree(victim.home / old, ignore_errors=True)
    state = victim.home / ".local" / "state" / "wq"
    state.mkdir(parents=True, mode=0o755)                    # as a careless hand left it
    for p in (victim.home / ".local", state.parent, state):
        os.chown(p, victim.uid, victim.gid)
        p.chmod(0o755)
    env = victim.env(AWS_SECRET_ACCESS_KEY="wq-test-secret-1234")
    try:
        started = victim.wq("serve", "-d", env=env)
        assert started.returncode == 0, started.stderr
        gate = victim.home / "gate"
        job = victim.wq("sub", "-b", "-o", "out.txt", "--stdin", "-t", "1h", "-c",
                        f"cat; echo $AWS_SECRET_ACCESS_KEY; while [ ! -e {gate} ]; do "
                        "sleep 0.05; done", env=env)
        assert job.returncode == 0, job.stderr
        out = victim.home / "out.txt"
        wait_for(lambda: out.exists() and out.read_text().strip() == "wq-test-secret-1234",
                 30, "the job to write its secret")
        assert mode(out) == 0o644                                      # umask 022 kept
        cache = victim.home / ".cache" / "wq"
        [server_dir] = [d for d in cache.iterdir() if d.name != "bin"]
        scripts = cache / "bin"                 # the runner and the timer, shared

        def check_private(job_dirs: list[Path]) -> set[str]:
            private = [state, state / "wq.db", state / "server.log", state / "server.pid",
                       cache, server_dir, *job_dirs, scripts, *scripts.iterdir(),
                       *(f for d in job_dirs for f in d.iterdir())]
            for path in private:
                expected = 0o700 if path.is_dir() else 0o600
                assert mode(path) == expected, f"{path} is {mode(path):04o}"
                assert not mallory.can_read(path), f"{mallory.name} can read {path}"
            return {f.name for d in job_dirs for f in d.iterdir()}
        def jobs_there() -> list[Path]:     # (beside them: wq-HOST.sock, where jobs reach wq)
            return [d for d in server_dir.iterdir() if d.is_dir()]
        running = check_private(jobs_there())                         # while it runs
        assert running >= {"script", "pid", "stdin", "timer.pid", "stderr"}, \
            running                                      # (its stdout is out.txt)
        assert "env" not in running                      # the helper passes it directly
        gate.touch()
        assert victim.wq("wait", job.stdout.strip(), env=env).returncode == 0
        assert victim.wq("sub", "-c", "echo default output", env=env).returncode == 0
        job_dirs = jobs_there()
        assert len(job_dirs) == 2
        ended = check_private(job_dirs)                  # the job's environment is gone
        assert ended >= {"rc", "pid", "stdout", "stderr"} and "env" not in ended, ended
        assert victim.can_read(state / "wq.db")
    finally:
        victim.kill_all()


def test_serve_never_replaces_a_file_or_changes_a_directory(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "wq.sock").write_text("precious\n")
    server = WqServer(tmp_path / "srv", None, env={"WQ_SOCKET": str(private / "wq.sock")})
    line = one_line(server.wq("serve"))
    assert "exists and is not a socket; wq will not replace it" in line
    assert (private / "wq.sock").read_text() == "precious\n"
    for dir_mode in (0o755, 0o1777):            # a home, a shared directory like /tmp
        d = tmp_path / f"open-{dir_mode:o}"
        d.mkdir()
        d.chmod(dir_mode)
        server.env["WQ_SOCKET"] = str(d / "wq.sock")
        line = one_line(server.wq("serve"))
        assert f"is open to other users (mode {dir_mode:04o}" in line, line
        assert mode(d) == dir_mode and not (d / "wq.sock").exists()


def test_server_connections_never_forward_the_agent_or_x11(make_server, keys, hosts,
                                                           tmp_path):
    """Even with ForwardAgent and ForwardX11 in the ssh config, and an agent and a
    display in the server's environment, a batch job sees neither."""
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  ForwardAgent yes\n  ForwardX11 yes\n"
                      "  ForwardX11Trusted yes\n")
    agent = tmp_path / "agent.sock"
    display = 94
    procs = [subprocess.Popen(["ssh-agent", "-D", "-a", str(agent)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True),
             subprocess.Popen(["Xvfb", f":{display}", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(agent.exists, 10, "ssh-agent's socket")
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{display}").exists(), 15, "Xvfb")
        text = cluster_yaml(keys, hosts).replace(f"ssh_config: {keys.config}",
                                                 f"ssh_config: {config}")
        for helper in ("true", "false"):
            server = make_server(text + "", name=f"fw-{helper}", start=False)
            server.cluster.write_text(text.replace("defaults:\n",
                                                   f"defaults:\n  helper: {helper}\n"))
            server.env.update(SSH_AUTH_SOCK=str(agent), DISPLAY=f":{display}")
            server.start()
            result = server.wq("sub", "-r", "mode: byhost; host: node1", "-c",
                               'echo "agent=${SSH_AUTH_SOCK-none} display=${DISPLAY-none}"',
                               cwd=str(tmp_path))
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == "agent=none display=none", helper
            server.stop()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("helper", ["true", "false"])
def test_job_files_on_ssh_nodes_are_private(make_server, keys, hosts, tmp_path, helper):
    """Through the helper and over plain channels alike: the node's ~/.cache/wq
    tree 0700, every job file 0600; the hostfile the job asked for, in its cwd,
    keeps the login's umask."""
    text = cluster_yaml(keys, hosts).replace("defaults:\n", f"defaults:\n  helper: {helper}\n")
    cache = Path.home() / ".cache" / "wq"
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o755)             # as an older wq left it: a host's probe makes it private
    server = make_server(text)
    gate = tmp_path / "gate"
    r = server.wq("sub", "-b", "--stdin", "-t", "1h", "-r", "N: 3; hostfile: hosts.txt", "-c",
                  f"cat > /dev/null; wc -l < hosts.txt > lines; while [ ! -e {gate} ]; do "
                  "sleep 0.05; done", input="data\n", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    wait_for((tmp_path / "lines").exists, 30, "the job to run")
    directory = job_dir(server, 1)
    assert mode(cache) == 0o700 and mode(directory.parent) == 0o700
    assert mode(directory) == 0o700
    files = {f.name: mode(f) for f in directory.iterdir()}          # while it runs
    assert files and all(m == (0o700 if (directory / name).is_dir() else 0o600)
                         for name, m in files.items()), files
    assert {"script", "stdin", "pid"} <= set(files)
    assert mode(tmp_path / "hosts.txt") == 0o644
    gate.touch()
    wait_state(server, 1, ("done",))
    assert (tmp_path / "lines").read_text().strip() == "3"


def test_absurd_requests_are_refused_and_nothing_runs_without_a_process(make_server,
                                                                        tmp_path):
    server = make_server()
    for req in ("N: 1000000", "mem: 1000000", "gpus: 4096", "mode: bynode; N: 500",
                "N: 1e32", "N: 99999999999999999999", "mem: .inf", "priority: 1e400",
                "time: 99999999999d", "retries: 10000000000", "N: \u0661"):
        result = server.wq("sub", "-b", "-r", req, "-c", "true", cwd=str(tmp_path))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (req, result.stderr)
    assert json.loads(server.wq("ls", "--json", "--all").stdout) == []
    ok = server.wq("sub", "-r", "threads: 1000000", "-c", "echo $OMP_NUM_THREADS",
                   cwd=str(tmp_path))
    assert ok.returncode == 0 and ok.stdout.strip() == "1000000", ok.stderr
    assert [j["state"] for j in json.loads(server.wq("ls", "--json", "--all").stdout)] == \
        ["done"]
