"""Listener: the Unix socket, the peer's uid, frames in and replies out.

The socket's directory is 0700 and the socket 0600; a peer of another uid is
refused. A bad frame gets an error reply and the connection is closed; a
handler's WqError becomes an error reply; nothing a client sends can stop the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from wq.errors import ProtocolError, WqError
from wq.protocol import framing
from wq.protocol import messages as m

log = logging.getLogger(__name__)

Handler = Callable[["Connection", m.Request], Awaitable[bool]]   # False: close


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 user: str) -> None:
        self.reader, self.writer, self.user = reader, writer, user

    async def send(self, message: dict[str, Any]) -> None:
        self.writer.write(framing.encode(message))
        await self.writer.drain()

    async def recv(self) -> dict[str, Any] | None:
        try:
            header = await self.reader.readexactly(4)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ProtocolError("connection closed in the middle of a frame") from None
            return None
        size = framing.length(header)
        try:
            body = await self.reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise ProtocolError("connection closed in the middle of a frame") from None
        return framing.decode(body)


def prepare_socket_dir(path: str) -> None:
    """Create the socket's directory 0700, or check that an existing one is ours and private."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise WqError(f"{directory}: not a directory owned by you; refusing to use it "
                      "for the wq socket")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)


def check_not_running(path: str) -> None:
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)                 # a stale socket from a server that died
        return
    finally:
        probe.close()
    raise WqError(f"a wq server is already running on {path}; stop it first, "
                  "or give this one another --socket")


def peer_uid(writer: asyncio.StreamWriter) -> int:
    sock = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


async def serve_unix(path: str, handle: Handler) -> asyncio.AbstractServer:
    prepare_socket_dir(path)
    check_not_running(path)
    me = os.getuid()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = peer_uid(writer)
            conn = Connection(reader, writer, user_name(uid))
            if uid != me:
                await conn.send({"ok": False, "error": "this wq server belongs to "
                                 f"{user_name(me)}; connections from other users are refused"})
                return
            await _session(conn, handle)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("connection handler failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(on_connect, path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


async def _session(conn: Connection, handle: Handler) -> None:
    """Handshake, then requests until the client closes."""
    try:
        first = await conn.recv()
        if first is None:
            return
        hello = m.from_frame(first)
        if not isinstance(hello, m.Hello):
            raise ProtocolError("the first message must be a hello")
        if hello.version != m.PROTOCOL_VERSION:
            await conn.send({"ok": False, "error": (
                f"protocol version mismatch: the server speaks {m.PROTOCOL_VERSION}, "
                f"the client {hello.version}; use the same wq version for both")})
            return
        await conn.send({"ok": True, "version": m.PROTOCOL_VERSION, "user": conn.user,
                         "pid": os.getpid()})
        while True:
            frame = await conn.recv()
            if frame is None:
                return
            request = m.from_frame(frame)
            try:
                if not await handle(conn, request):
                    return
            except WqError as exc:
                await conn.send({"ok": False, "error": str(exc)})
            except (ConnectionError, asyncio.IncompleteReadError):
                raise
            except Exception as exc:          # a bug: log it, answer, keep serving
                log.exception("handling %s failed", request.type)
                await conn.send({"ok": False, "error": f"internal server error: "
                                 f"{type(exc).__name__}: {exc} (see the server's log)"})
    except ProtocolError as exc:
        with contextlib.suppress(Exception):
            await conn.send({"ok": False, "error": f"protocol error: {exc}"})

