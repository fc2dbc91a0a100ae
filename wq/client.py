"""The Python client: one blocking Unix-socket connection to the server.

Used by the CLI and usable from scripts:

    with Client() as c:
        job_id = c.submit(spec)["id"]

`ask` returns a request's typed reply (wq.protocol.replies); `request`
and `pages` the raw frames. It imports neither asyncio nor asyncssh, so
`wq ls` starts fast.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from wq import __version__, clientconfig, trust
from wq.errors import ClientError, ServerError, ServerLost, ServerNotRunning, WqError
from wq.protocol import framing
from wq.protocol import messages as m
from wq.protocol.rows import HelloReply, Row

if TYPE_CHECKING:
    from wq.protocol.events import Event

R = TypeVar("R", bound=Row)


def reconnect_window() -> float:
    """How long a client waits for a server that is restarting (WQ_RECONNECT
    seconds, default 60)."""
    try:
        return max(0.0, float(os.environ.get("WQ_RECONNECT", DEFAULT_RECONNECT)))
    except ValueError:
        return DEFAULT_RECONNECT


DEFAULT_RECONNECT = 60.0


class Client:
    def __init__(self, socket_path: str | None = None, timeout: float | None = 60.0,
                 reconnect: float | None = None, revive: bool = True) -> None:
        """Connect to the server, having checked that it is who it must be (the
        socket's directory, the socket and the peer's uid: see wq.trust).

        A socket that is there but refuses connections is a server that died or
        is restarting: wait up to `reconnect` seconds (default: WQ_RECONNECT, 60)
        for it, saying so once on stderr. No socket at all is no server: at once.
        A lab member whose jobs wait for their launcher, which is not connected,
        gets it started (unless `revive` is false: the launcher's own client)."""
        where = clientconfig.target(socket_path)
        self.path = next((p for p in where.candidates if _present(p)), where.candidates[0])
        owner = where.owner
        self.start_launcher = where.start_launcher
        trust.check_socket(self.path, owner, where.shared)
        window = reconnect_window() if reconnect is None else reconnect
        deadline = time.monotonic() + window
        while True:
            self._connect(owner, timeout, window, deadline)
            try:
                hello = self.ask(m.Hello(m.PROTOCOL_VERSION, f"wq {__version__}"), HelloReply)
                break
            except ServerLost:       # a server dying as we connected: wait for the next
                self.sock.close()
                if time.monotonic() + 0.1 > deadline:
                    raise
                time.sleep(0.1)
        self.user = hello.user
        self.server_pid = hello.pid
        # a lab member (jobs signed, run by one's launcher, sessions built here): by
        # one's own configuration, which names another user's server, never by what
        # that server says of itself (one that said no would run its own sessions);
        # its yes is taken too (a job's wq reaches the lab through the socket its
        # launcher forwarded, which is the member's own)
        self.by_launcher = owner != os.getuid() or hello.launcher
        self.launcher_up = hello.launcher_up
        if revive and self.by_launcher and hello.waiting and not self.launcher_up:
            self._revive(socket_path)

    def _revive(self, socket_path: str | None) -> None:
        """Start the member's launcher: their jobs wait for it, and any command of
        theirs starts it (a launcher that cannot start is said, not fatal here)."""
        from wq.submission import ensure_launcher

        try:
            ensure_launcher(self, socket_path)
        except WqError as exc:
            sys.stderr.write(f"wq: {exc}\n")

    def _connect(self, owner: int, timeout: float | None, window: float,
                 deadline: float) -> None:
        pause, told = 0.05, False
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(self.path)
                trust.check_peer(self.sock, self.path, owner)
                break
            except ConnectionRefusedError:
                self.sock.close()
                if time.monotonic() + pause > deadline:
                    raise ServerNotRunning(
                        f"the wq server at {self.path} did not come back within {window:g}s "
                        "(it stopped without cleaning up its socket: start it again with "
                        "'wq serve')") from None
                if not told:
                    told = True
                    sys.stderr.write(f"wq: the wq server at {self.path} is not answering "
                                     f"(restarting?); waiting up to {window:g}s\n")
                    sys.stderr.flush()
                time.sleep(pause)
                pause = min(0.5, pause * 2)
            except FileNotFoundError:
                self.sock.close()
                if told and time.monotonic() + pause <= deadline:     # (it is binding anew)
                    time.sleep(pause)
                    continue
                if owner != os.getuid():
                    raise ServerNotRunning(
                        f"the lab's wq server at {self.path} is not running; ask "
                        f"{trust.user_name(owner)}, its operator, to start it") from None
                raise ServerNotRunning(f"no wq server is running on {self.path}; start one "
                                       "with 'wq serve [CLUSTER_FILE]'") from None
            except OSError as exc:
                self.sock.close()
                raise ClientError(f"cannot connect to the wq server at {self.path}: "
                                  f"{exc.strerror or exc}") from None
            except BaseException:
                self.sock.close()
                raise

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, request: m.Request) -> None:
        try:
            self.sock.sendall(framing.encode(m.to_frame(request)))
        except OSError as exc:
            raise ServerLost(f"lost the connection to the wq server: {exc}") from None

    def receive(self, timeout: float | None = 60.0) -> dict[str, Any]:
        self.sock.settimeout(timeout)
        try:
            reply = framing.recv(self.sock)
        except TimeoutError:
            raise ClientError("the wq server did not answer in time") from None
        except OSError as exc:
            raise ServerLost(f"lost the connection to the wq server: {exc}") from None
        if reply is None:
            raise ServerLost("the wq server closed the connection")
        return reply

    def request(self, request: m.Request, timeout: float | None = 60.0) -> dict[str, Any]:
        """Send a request and return its reply; an error reply raises ServerError."""
        self.send(request)
        reply = self.receive(timeout)
        if not reply.get("ok", False):
            raise ServerError(str(reply.get("error", "the server refused the request")))
        return reply

    def ask(self, request: m.Request, reply: type[R], timeout: float | None = 60.0) -> R:
        """Send a request and return its reply, checked (ProtocolError if it does
        not fit); an error reply raises ServerError."""
        return reply.from_frame(self.request(request, timeout))

    def paged(self, request: m.Request, reply: type[R], timeout: float | None = 60.0
              ) -> Iterator[R]:
        """The replies of a paged request, checked, until one says no `more`."""
        return (reply.from_frame(frame) for frame in self.pages(request, timeout))

    def pages(self, request: m.Request, timeout: float | None = 60.0
              ) -> Iterator[dict[str, Any]]:
        """The replies of a paged request (a listing with `page`), until one says no
        `more` (each within `timeout`); an error reply raises ServerError."""
        self.send(request)
        while True:
            reply = self.receive(timeout)
            if not reply.get("ok", False):
                raise ServerError(str(reply.get("error", "the server refused the request")))
            yield reply
            if not reply.get("more"):
                return

    def events(self) -> Iterator[Event]:
        """The events of an attached job (or array), until its Exit (ArrayEnd)."""
        from wq.protocol import events        # only an attached client needs them

        while True:
            frame = self.receive(timeout=None)
            if "error" in frame and not frame.get("ok", True):
                raise ServerError(str(frame["error"]))
            if frame.get("event") not in events.EVENTS:
                continue                # a newer server's: nothing this client knows to do
            event = events.from_frame(frame)
            yield event
            if isinstance(event, events.LAST):
                return


def _present(path: str) -> bool:
    """Something is at `path` (or hidden from us there, which check_socket reports)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True
