"""A hostile or broken client against a real server: frames of any shape, frames
cut off or never finished, too many connections. Every one gets an error reply
(or a closed connection with a reason), the server lives on and gives back
what it held.

The server's only host is unreachable, so nothing a fuzzed request submits
ever runs (a fuzzed command or hostfile must never touch this machine)."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.sshd import WqServer
from wq.protocol import framing
from wq.protocol import messages as m
from wq.server.listener import Limits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WqServer]:
    root = tmp_path_factory.mktemp("hostile")
    cluster = root / "cluster.yaml"
    # nothing listens on port 9 of 127.0.0.9: jobs wait, never run
    cluster.write_text("hosts:\n  - {name: nowhere, address: 127.0.0.9, port: 9, cores: 4,"
                       " connect_timeout: 1}\n")
    srv = WqServer(root / "srv", cluster)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def connect(server: WqServer, hello: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(20)
    sock.connect(server.socket)
    if hello:
        sock.sendall(framing.encode(m.to_frame(m.Hello(m.PROTOCOL_VERSION))))
        assert framing.recv(sock)["ok"] is True
    return sock


def send_raw(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">I", len(body)) + body)


def alive(server: WqServer) -> None:
    result = server.wq("stat", "--json")
    assert result.returncode == 0, result.stderr
    assert server.proc is not None and server.proc.poll() is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=15)
FIELDS = sorted({f for cls in m.REQUESTS.values() for f in cls.__dataclass_fields__})
#: every request but `stop`, which the server's own user may send to end it
#: (test_control.py has it; another user is refused: test_lab.py)
KINDS = [kind for kind in m.REQUESTS if kind != m.Stop.type]
frames = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from([*KINDS, "bogus", ""]) | st.integers() | st.none(),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=5))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(frames.map(lambda f: json.dumps(f).encode()),
                 st.binary(max_size=200),
                 st.sampled_from([b"[" * 50_000, b'{"type": "stat", "x": NaN}', b"null",
                                  b'{"type": "limit", "jobs": 1e400}', b"\xff\xfe",
                                  b'{"type": "ls", "select": ["' + b"9" * 5000 + b'"]}'])))
def test_any_frame_gets_a_reply_and_the_connection_goes_on(server, body):
    with connect(server) as sock:
        send_raw(sock, body)
        reply = framing.recv(sock)
        assert isinstance(reply, dict) and ("ok" in reply or "event" in reply), reply
        if reply.get("ok") is False:
            assert "\n" not in reply["error"] and "Traceback" not in reply["error"]
            assert not reply["error"].startswith("internal server error"), reply
        if reply.get("event") is None:       # an attached submit streams instead
            sock.sendall(framing.encode(m.to_frame(m.Stat())))
            assert framing.recv(sock)["ok"] is True


def test_broken_framing_is_answered_then_closed(server):
    with connect(server) as sock:
        sock.sendall(struct.pack(">I", framing.MAX_FRAME + 1))
        reply = framing.recv(sock)
        assert reply["ok"] is False and "frame too large" in reply["error"]
        assert framing.recv(sock) is None                        # closed
    with connect(server, hello=False) as sock:                   # a stat before the hello
        sock.sendall(framing.encode(m.to_frame(m.Stat())))
        assert "first message must be a hello" in framing.recv(sock)["error"]
    alive(server)


def test_a_frame_never_finished_is_cut_off_after_the_frame_timeout(server):
    # (both at once: the second, silent from connect, times out meanwhile)
    with connect(server) as sock, connect(server, hello=False) as silent:
        sock.sendall(b"\x00\x00")                                # half a header
        began = time.monotonic()
        reply = framing.recv(sock)
        waited = time.monotonic() - began
        assert reply["ok"] is False and "took over" in reply["error"]
        assert framing.recv(sock) is None
        reply = framing.recv(silent)
        assert reply["ok"] is False and "took over" in reply["error"]
    assert Limits().frame_timeout - 1 < waited < Limits().frame_timeout + 10
    alive(server)


def rss(server: WqServer) -> int:
    assert server.proc is not None
    return int(psutil.Process(server.proc.pid).memory_info().rss)


def test_partial_frames_are_bounded_and_their_memory_given_back(server):
    """Ten clients each start a 30 MB frame and stall: the server holds no more than
    its budget (the others are told which limit they hit) and gives the memory
    back when they go."""
    size = 30 * 2**20
    before = rss(server)
    socks, refused = [], []
    try:
        for _ in range(10):
            sock = connect(server)
            socks.append(sock)
            try:
                sock.sendall(struct.pack(">I", size) + b"x" * (size - 1))
            except BrokenPipeError:            # refused at the header: the reply waits
                pass
        for sock in socks:
            sock.settimeout(0.5)
            try:
                reply = framing.recv(sock)
            except (TimeoutError, socket.timeout):
                continue
            refused.append(reply)
        held = rss(server) - before
        assert len(refused) == 10 - Limits().pending_bytes // size, refused
        assert all("too much unfinished data" in r["error"] and "128 MiB" in r["error"]
                   for r in refused)
        assert held < Limits().pending_bytes + 32 * 2**20, f"holds {held >> 20} MiB"
    finally:
        for sock in socks:
            sock.close()
    alive(server)
    deadline = time.monotonic() + 10
    while rss(server) - before > 32 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rss(server) - before < 32 * 2**20, f"kept {(rss(server) - before) >> 20} MiB"


def test_too_many_connections_are_told_the_limit(server):
    limit = Limits().connections
    socks = []
    try:
        for _ in range(limit):
            socks.append(connect(server))
        extra = connect(server, hello=False)
        socks.append(extra)
        reply = framing.recv(extra)
        assert reply["ok"] is False and f"too many connections open (limit {limit})" in \
            reply["error"]
    finally:
        for sock in socks:
            sock.close()
    alive(server)


def test_the_server_outlived_it_all(server):
    alive(server)
    assert Path(server.socket).exists()
