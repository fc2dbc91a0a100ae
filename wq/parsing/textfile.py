"""Reading a file that is about to be parsed: a regular file, UTF-8, of bounded size.

A path naming a directory, a FIFO or a device (`/dev/zero`) gets one clear
line instead of a hang or a read that never ends.
"""

from __future__ import annotations

import os
import stat

from wq.errors import ParseError

MAX_BYTES = 4 * 1024 * 1024


def read(path: str, what: str, max_bytes: int = MAX_BYTES, errors: str = "strict") -> str:
    """The text of the `what` (e.g. "cluster file") at `path`; ParseError otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ParseError(f"cannot read the {what}: {exc.strerror}", source=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ParseError(f"the {what} is a directory, not a file", source=path)
        if not stat.S_ISREG(info.st_mode):
            raise ParseError(f"the {what} is not a regular file", source=path)
        if info.st_size > max_bytes:
            raise ParseError(f"the {what} is too large ({info.st_size} bytes; "
                             f"the limit is {max_bytes})", source=path)
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:          # it grew while being read
                raise ParseError(f"the {what} is too large (over {max_bytes} bytes)",
                                 source=path)
    except OSError as exc:
        raise ParseError(f"cannot read the {what}: {exc.strerror}", source=path) from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8", errors)
    except UnicodeDecodeError:
        raise ParseError(f"the {what} is not UTF-8 text", source=path) from None
