"""A hostile operator's server, for tests: it speaks wq's protocol on a lab
socket (as the operator, root here), so a member's client trusts it, and
answers with what a hostile operator would forge. Each `Script` says what it
answers a request with; everything the client sent is kept in `received`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wq.protocol import framing
from wq.protocol import messages as m

Frame = dict[str, Any]


@dataclass
class HostileServer:
    """Listens on `path` (in a directory of its own, 0711, as a lab's) and answers
    each connection: the hello as `hello` says, then each request with the
    frames `answer(request)` returns."""

    answer: Callable[[Frame], list[Frame]]
    hello: Frame = field(default_factory=dict)
    received: list[Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="wq-hostile-", dir="/tmp"))
        self.base.chmod(0o755)
        directory = self.base / "sock"
        directory.mkdir(mode=0o711)
        directory.chmod(0o711)
        self.path = str(directory / "lab.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return                              # closed
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            try:
                first = framing.recv(conn)
                if first is None:
                    return
                self.received.append(first)
                conn.sendall(framing.encode({"ok": True, "version": m.PROTOCOL_VERSION,
                                             "user": "", "pid": os.getpid(),
                                             **self.hello}))
                while (frame := framing.recv(conn)) is not None:
                    self.received.append(frame)
                    for reply in self.answer(frame):
                        conn.sendall(framing.encode(reply))
            except (OSError, ValueError, Exception):    # (the client went, or sent junk)
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        import shutil
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def hostile(answer: Callable[[Frame], list[Frame]], **hello: Any) -> Iterator[HostileServer]:
    server = HostileServer(answer, hello)
    try:
        yield server
    finally:
        server.close()
