"""Listener: the Unix socket, the peer's uid, frames in and replies out.

The operator's socket's directory is 0700 and the socket 0600; a lab's shared
socket is reachable by its members (wq.server.lab says who), and anyone else
who connects is refused with a line saying why. A frame that does not decode
or fit a request gets an error reply and the connection goes on; a frame that
breaks the framing (oversize, cut off, too slow) gets an error reply and the
connection is closed; a handler's WqError becomes an error reply; nothing a
client sends can stop the server.

What clients can make the server hold is bounded (`Limits`): the number of
connections, how long a frame may take once begun (and the hello from
connect), and the bytes of unfinished frames across all connections. Large
frames are read into anonymous memory maps, so what a connection held is
given back to the system when it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import socket
import stat
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wq import trust
from wq.errors import FrameError, ProtocolError, WqError
from wq.protocol import framing
from wq.protocol import messages as m
from wq.protocol.rows import HelloReply
from wq.server.lab import Members

log = logging.getLogger(__name__)

Handler = Callable[["Connection", m.Request], Awaitable[bool]]   # False: close

#: frames up to this size are read in one piece; larger ones into a memory map
SMALL_FRAME = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    connections: int = 512                  # open client connections
    frame_timeout: float = 10.0             # seconds for a frame once begun, and the hello
    pending_bytes: int = 128 * 1024 * 1024  # unfinished frames, all connections together


class Budget:
    """The bytes of unfinished frames held across all connections (or those of
    one lab member, within the whole server's budget, `parent`)."""

    def __init__(self, limit: int, parent: Budget | None = None) -> None:
        self.limit, self.held, self.parent = limit, 0, parent

    def take(self, size: int) -> None:
        if self.held + size > self.limit:
            whose = "from clients" if self.parent is None else "from you"
            raise FrameError(f"the server holds too much unfinished data {whose} "
                             f"(limit {self.limit // 2**20} MiB); try again")
        if self.parent is not None:
            self.parent.take(size)
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size
        if self.parent is not None:
            self.parent.give(size)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 user: str, limits: Limits | None = None, budget: Budget | None = None) -> None:
        self.reader, self.writer, self.user = reader, writer, user
        self.limits = limits or Limits()
        self.budget = budget or Budget(self.limits.pending_bytes)

    async def send(self, *messages: dict[str, Any]) -> None:
        """Frames, in one write."""
        self.writer.write(b"".join(framing.encode(m) for m in messages))
        await self.writer.drain()

    async def recv(self, first: bool = False) -> dict[str, Any] | None:
        """The next frame, decoded; None at a clean end of stream. FrameError: the
        framing broke (close); ProtocolError: a whole frame that does not decode.
        Between frames a connection may idle; a frame once begun (or, `first`, the
        hello from connect) must be complete within frame_timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.frame_timeout
        try:
            if first:
                async with asyncio.timeout_at(deadline):
                    return await self._frame(deadline)
            return await self._frame(None)
        except TimeoutError:
            raise FrameError(f"a frame took over {self.limits.frame_timeout:g} s to "
                             "arrive; closing the connection") from None
        except asyncio.IncompleteReadError:
            raise FrameError("connection closed in the middle of a frame") from None

    async def _frame(self, deadline: float | None) -> dict[str, Any] | None:
        start = await self.reader.read(1)
        if not start:
            return None
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self.limits.frame_timeout
        async with asyncio.timeout_at(deadline):
            header = start + await self.reader.readexactly(3)
            try:
                size = framing.length(header)
            except ProtocolError as exc:
                raise FrameError(str(exc)) from None
            if size <= SMALL_FRAME:
                body = await self.reader.readexactly(size)
                return framing.decode(body)
            self.budget.take(size)
            try:
                with mmap.mmap(-1, size) as buffer:
                    got = 0
                    while got < size:
                        chunk = await self.reader.read(min(size - got, 1 << 20))
                        if not chunk:
                            raise asyncio.IncompleteReadError(b"", size - got)
                        buffer[got:got + len(chunk)] = chunk
                        got += len(chunk)
                    return framing.decode(buffer[:])
            finally:
                self.budget.give(size)


def check_not_running(path: str) -> None:
    """Make room for the socket: only a stale socket is removed; a live server, or
    anything that is not a socket, is an error (nothing of the user's is replaced)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise WqError(f"{path} exists and is not a socket; wq will not replace it: give "
                      "--socket another path, or move it away")
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


async def serve_unix(path: str, handle: Handler, limits: Limits | None = None,
                     members: Members | None = None,
                     shared: bool = False) -> asyncio.AbstractServer:
    """Listen at `path`: the operator's private socket, or (`shared`) a lab's, in
    a directory members can reach; `members` says who is let in, and bounds what
    each lab member holds (connections, unfinished frames)."""
    limits = limits or Limits()
    members = members or Members(None)
    gid = members.socket_group() if shared else None
    if shared:
        trust.prepare_shared_dir(path, gid)
    else:
        trust.prepare_socket_dir(path)
    check_not_running(path)
    budget = Budget(limits.pending_bytes)
    budgets: dict[str, Budget] = {}
    open_now = 0
    open_by: Counter[str] = Counter()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now
        open_now += 1
        user = ""
        try:
            uid = trust.peer_uid(writer.get_extra_info("socket"))
            user = trust.user_name(uid)
            open_by[user] += 1
            bounds = members.bounds(user)
            mine = budget
            if bounds is not None:
                mine = budgets.setdefault(user, Budget(bounds.pending_mb << 20, budget))
            conn = Connection(reader, writer, user, limits, mine)
            refusal = members.refusal(uid)
            if refusal is not None:
                await conn.send({"ok": False, "error": refusal})
                return
            if open_now > limits.connections:
                await conn.send({"ok": False, "error": (
                    f"the wq server has too many connections open (limit "
                    f"{limits.connections}); try again when some have ended")})
                return
            if bounds is not None and open_by[user] > bounds.connections:
                await conn.send({"ok": False, "error": (
                    f"you have too many connections to the lab's wq server open (limit "
                    f"{bounds.connections} a user); try again when some have ended")})
                return
            await _session(conn, handle, members)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:      # the server is stopping: the connection ends
            pass                            # here (asyncio would log a cancelled handler)
        except Exception:
            log.exception("connection handler failed")
        finally:
            open_now -= 1
            if user:
                open_by[user] -= 1
                if not open_by[user]:
                    del open_by[user]
                    if user in budgets and not budgets[user].held:
                        del budgets[user]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    old = os.umask(0o177)            # the socket is 0600 from the moment it exists
    try:
        server = await asyncio.start_unix_server(on_connect, path)
    finally:
        os.umask(old)
    if shared:                       # then open to the lab (the server turns others away)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, 0o660 if gid is not None else 0o666)
    return server


class Endpoint:
    """The server's listening socket, kept listening.

    The default socket lives in the session's runtime directory, which systemd
    removes when the user's last login ends (unless they linger), while the
    server lives on. So every few seconds the endpoint checks that its socket
    is still there; when it is gone it listens again at the first of `paths`
    that works (/tmp/wq-UID/wq.sock after the runtime directory; clients look
    there too)."""

    CHECK_EVERY = 5.0

    def __init__(self, paths: list[str], handle: Handler, limits: Limits | None = None,
                 members: Members | None = None, shared: bool = False) -> None:
        self.paths, self.handle, self.limits = paths, handle, limits
        self.members, self.shared = members, shared
        self.path = paths[0]
        self._server: asyncio.AbstractServer | None = None
        self._inode = 0

    async def start(self) -> None:
        """Listen at the first path; its errors are the caller's (the server stops)."""
        await self._listen(self.paths[0])

    async def _listen(self, path: str) -> None:
        self._server = await serve_unix(path, self.handle, self.limits, self.members,
                                        self.shared)
        self.path, self._inode = path, os.lstat(path).st_ino

    def _present(self) -> bool:
        try:
            return os.lstat(self.path).st_ino == self._inode
        except OSError:
            return False

    async def keep(self) -> None:
        """Run until cancelled: listen again when the socket vanishes."""
        while True:
            await asyncio.sleep(self.CHECK_EVERY)
            if self._present():
                continue
            gone = self.path
            if self._server is not None:
                self._server.close()
                self._server = None
            for path in self.paths:
                if not os.path.isdir(os.path.dirname(os.path.dirname(path))):
                    continue            # a removed runtime directory is not made again
                try:
                    await self._listen(path)
                except (WqError, OSError) as exc:
                    log.warning("cannot listen at %s: %s", path, exc)
                    continue
                log.warning("the socket %s vanished (its directory is removed when your last "
                            "login ends, unless you linger); listening at %s now", gone, path)
                break
            else:
                log.error("the socket %s vanished and no other place to listen works; "
                          "trying again in %g s", gone, self.CHECK_EVERY)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._present():                      # still ours: leave no stale socket
            with contextlib.suppress(OSError):
                os.unlink(self.path)


async def _session(conn: Connection, handle: Handler, members: Members) -> None:
    """Handshake, then requests until the client closes."""
    try:
        first = await conn.recv(first=True)
        if first is None:
            return
        hello = m.from_frame(first)
        if not isinstance(hello, m.Hello):
            raise FrameError("the first message must be a hello")
        if hello.version != m.PROTOCOL_VERSION:
            await conn.send({"ok": False, "error": (
                f"protocol version mismatch: the server speaks {m.PROTOCOL_VERSION}, "
                f"the client {hello.version}; use the same wq version for both")})
            return
        launcher, up = members.by_launcher(conn.user), conn.user in members.connected
        hello_reply = HelloReply(m.PROTOCOL_VERSION, conn.user, os.getpid(), launcher, up,
                                 members.waiting(conn.user) if launcher and not up else 0)
        await conn.send({"ok": True, **hello_reply.to_frame()})
        while True:
            try:
                frame = await conn.recv()
                if frame is None:
                    return
                request = m.from_frame(frame)
            except FrameError:
                raise
            except ProtocolError as exc:          # a whole frame: answer, carry on
                await conn.send({"ok": False, "error": f"protocol error: {exc}"})
                continue
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
