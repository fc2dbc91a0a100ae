"""Bad input and broken hosts: one clear line, a non-zero exit, a server that lives on."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import cluster_yaml, stat, wait_hosts_up
from tests.integration.sshd import Keys, SshHost, WqServer, free_port, wait_for


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_no_server_running(tmp_path):
    server = WqServer(tmp_path / "none", None)
    line = one_line(server.wq("ls"))
    assert line.startswith("wq: no wq server is running on ") and "wq serve" in line


def test_bad_requirements_and_job_files(server, tmp_path):
    assert one_line(server.wq("sub", "-r", "N: zero", "-c", "true")) == \
        "wq: -r: N: expected a positive integer, got 'zero'"
    assert "did you mean 'mode'" in one_line(server.wq("sub", "-r", "mod: bynode", "-c", "x"))
    (tmp_path / "job.yaml").write_text("command: x\nN: 2\nnotgroup: [a\n")
    assert one_line(server.wq("sub", str(tmp_path / "job.yaml"))).startswith(
        f"wq: {tmp_path / 'job.yaml'}:")
    assert one_line(server.wq("sub", str(tmp_path / "nope.yaml"))) == \
        f"wq: {tmp_path / 'nope.yaml'}: cannot read the job file: No such file or directory"
    assert one_line(server.wq("sub")) == "wq: give either -c COMMAND or a JOBFILE"
    assert "never fit" in one_line(server.wq("sub", "-r", "N: 100", "-c", "true"))
    assert one_line(server.wq("rm", "abc")) == \
        "wq: not a job selector: 'abc' (give 12, 12.3, 12.1-50, 3-9, last or all)"
    assert one_line(server.wq("limit", "bogus: 3")).startswith("wq: expected 'run: N'")
    assert one_line(server.wq("log", "99")).startswith("wq: no job 99 ")


def test_bad_cluster_file_stops_the_server_with_one_line(tmp_path):
    bad = tmp_path / "cluster.yaml"
    bad.write_text("hosts:\n  - name: a\n    cors: 4\n")
    server = WqServer(tmp_path / "bad", bad)
    line = one_line(server.wq("serve", str(bad), timeout=30))
    assert line == (f"wq: {bad}:3: hosts[0].cors: unknown key; did you mean 'cores'? "
                    "(known keys: name, address, port, user, cores, mem, gpus, labels, local, "
                    "known_hosts, identity, ssh_config, keepalive, keepalive_count, "
                    "connect_timeout, max_sessions, helper, drain_after, max_load, "
                    "min_free_mem, min_free_gpu_mem, setup, teardown, teardown_after)")


@pytest.mark.parametrize("text, expected", [
    ("hosts: {'a b': {cores: 1}}", ":1: hosts.a b.name: 'a b' is not a valid name"),
    ("hosts:\n  - " + "[" * 4000, ": invalid YAML: nested too deeply"),
    ("hosts: [{name: a, cores: 1.0e+32}]", "cores: expected a positive integer of at most"),
    ("hosts: [{name: a, cores: 1, mem: .inf}]", "mem: expected a size of at most"),
    ("hosts: [{name: a, cores: 1, keepalive: 1.0e-300}]", "keepalive: expected between"),
    ("hosts: [{name: a, cores: 1, gpus: 100000000000}]", "gpus: expected a non-negative"),
    ("hosts:\n  - {name: a, cores: 1\n  - b: [\n", ": invalid YAML:"),
    ("DIR", ": the cluster file is a directory, not a file"),
    ("FIFO", ": the cluster file is not a regular file"),
    ("/dev/zero", "/dev/zero: the cluster file is not a regular file"),
])
def test_any_bad_cluster_file_is_one_line_and_no_hang(tmp_path, text, expected):
    path = tmp_path / "cluster.yaml"
    if text == "DIR":
        path.mkdir()
    elif text == "FIFO":
        os.mkfifo(path)
    elif text.startswith("/"):
        path = Path(text)
    else:
        path.write_text(text)
    server = WqServer(tmp_path / "srv", None)
    line = one_line(server.wq("serve", str(path), timeout=30))
    assert line.startswith(f"wq: {path}") and expected in line, line


def test_second_server_on_the_same_socket_is_refused(server):
    other = WqServer(server.root.parent / "other", server.cluster,
                     env={"WQ_STATE": str(server.root.parent / "other-state")})
    other.env["WQ_SOCKET"] = server.socket
    line = one_line(other.wq("serve", str(server.cluster), timeout=30))
    assert line == f"wq: a wq server is already running on {server.socket}; stop it first, " \
                   "or give this one another --socket"
    same_state = WqServer(server.root.parent / "third", server.cluster,
                          env={"WQ_STATE": server.state})
    assert "another wq server" in one_line(same_state.wq("serve", str(server.cluster),
                                                         timeout=30))


def test_garbage_on_the_socket_does_not_hurt_the_server(server):
    for payload in [b"\xff" * 10, struct.pack(">I", 2**31) + b"x", struct.pack(">I", 5) + b"nope!",
                    struct.pack(">I", 2) + b"[]",
                    struct.pack(">I", 17) + b'{"type":"hello"}', b""]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(server.socket)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.recv(65536)
    assert server.wq("ls").returncode == 0
    assert server.proc is not None and server.proc.poll() is None


def test_other_uid_is_refused(tmp_path):
    import shutil
    import tempfile
    public = tempfile.mkdtemp(prefix="wq-uid-test-", dir="/tmp")
    server = WqServer(tmp_path / "uid", None, socket=os.path.join(public, "s", "wq.sock"))
    try:
        server.start()
        os.chmod(public, 0o755)
        os.chmod(os.path.dirname(server.socket), 0o755)   # as a careless admin might
        os.chmod(server.socket, 0o666)
        # stdlib only: another uid may not read this interpreter's site-packages
        snippet = ("import socket\nfrom wq.protocol import framing\n"
                   "s = socket.socket(socket.AF_UNIX)\n"
                   f"s.connect({server.socket!r})\n"
                   "try:\n"
                   "    s.sendall(framing.encode({'type': 'hello', 'version': 1}))\n"
                   "except BrokenPipeError:\n"   # refused at once: the reply is there
                   "    pass\n"
                   "print(framing.recv(s))\n")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            sys.executable, "-S", "-c", snippet],
                           capture_output=True, text=True, timeout=30, cwd="/",
                           env={"PYTHONPATH": str(Path(__file__).parents[2])})
        assert r.stdout.strip() == ("{'ok': False, 'error': 'this wq server belongs to root; "
                                    "connections from other users are refused'}"), r.stderr
    finally:
        server.stop()
        shutil.rmtree(public, ignore_errors=True)


def test_unreachable_and_misconfigured_hosts_are_down_with_a_reason(make_server, keys, hosts,
                                                                    tmp_path):
    bad_keys = Keys(tmp_path / "bad-keys")            # a key the hosts do not accept
    dead_port = free_port("127.0.0.5")
    wrong_known = tmp_path / "wrong_known_hosts"
    fake = SshHost("fake", "127.0.0.3", tmp_path / "fake-hostkey", keys, port=hosts[1].port)
    wrong_known.write_text(fake.host_key_line + "\n")    # another key for node2's address
    extra = f"""\
  - name: dead
    address: 127.0.0.5
    port: {dead_port}
    cores: 2
  - name: badauth
    address: {hosts[0].address}
    port: {hosts[0].port}
    identity: {bad_keys.identity}
    cores: 2
  - name: nokey
    address: {hosts[2].address}
    port: {hosts[2].port}
    identity: {tmp_path / "no-such-key"}
    cores: 2
  - name: badkey
    address: {hosts[1].address}
    port: {hosts[1].port}
    known_hosts: {wrong_known}
    cores: 2
"""
    server = make_server(cluster_yaml(keys, hosts) + extra, wait_up=False)
    wait_hosts_up(server, ["node1", "node2", "node3"])
    wait_for(lambda: all(stat(server)[n]["state"] == "down" for n in ("dead", "badauth",
                                                                      "badkey", "nokey")),
             30, "the broken hosts to be down")
    hosts_now = stat(server)
    assert "Connection refused" in hosts_now["dead"]["reason"]
    assert "authentication failed" in hosts_now["badauth"]["reason"]
    assert "host key not verified" in hosts_now["badkey"]["reason"]
    assert f"cannot read {tmp_path / 'no-such-key'}" in hosts_now["nokey"]["reason"]
    text = server.wq("stat").stdout
    assert "[--]" in text and "8 are down" in text
    r = server.wq("sub", "-r", "N: 6", "-c", "echo ok", cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout == "ok\n"
    waiting = server.wq("sub", "-b", "-r", "mode: byhost; host: dead", "-c", "true",
                        cwd=str(tmp_path))
    job_id = int(waiting.stdout)
    full = server.wq("ls", "-f").stdout
    assert f"job {job_id}:" in full and "every eligible host is unavailable (dead down)" in full
    assert server.proc is not None and server.proc.poll() is None


def test_attached_client_whose_server_dies_says_the_job_goes_on(make_server, tmp_path):
    server = make_server()
    proc = server.popen("sub", "-c", "echo started; sleep 60", cwd=str(tmp_path))
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    server.stop()                     # a clean stop: its socket goes, nothing to wait for
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 69
    assert err.strip() == (f"wq: no wq server is running on {server.socket}; start one with "
                           "'wq serve [CLUSTER_FILE]'; job 1 itself is not affected: follow "
                           "it with 'wq ls' and 'wq log 1'")
    server.start()
    assert server.wq("rm", "1").returncode == 0
