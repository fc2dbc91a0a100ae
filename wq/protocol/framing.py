"""Frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (an object).

Bounded by MAX_FRAME; anything else is a ProtocolError, never a crash.
Job output travels as text decoded with surrogateescape, so any bytes survive.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from wq.errors import ProtocolError, TooLarge

MAX_FRAME = 32 * 1024 * 1024
MAX_DECODED = 5 * MAX_FRAME     # bytes a frame may take once decoded (by decoded_size)
_HEADER = struct.Struct(">I")


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if len(body) > MAX_FRAME:
        raise TooLarge(f"message too large ({len(body)} bytes, limit {MAX_FRAME})")
    return _HEADER.pack(len(body)) + body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def decoded_size(body: bytes) -> int:
    """About what `body` takes once decoded, from above: a list or mapping takes
    56 bytes, any item or string a pointer and an object of its own (JSON
    `[],[],…` decodes into 20 times its size; a job's frames, into under 5)."""
    return (len(body) + 56 * (body.count(b"[") + body.count(b"{"))
            + 32 * body.count(b",") + 24 * body.count(b'"'))


def decode(body: bytes) -> dict[str, Any]:
    if len(body) > 4096 and (size := decoded_size(body)) > MAX_DECODED:
        raise ProtocolError(f"a frame that would take {size >> 20} MiB once read "
                            f"(limit {MAX_DECODED >> 20} MiB)")
    try:
        message = json.loads(body.decode("utf-8", "surrogatepass"),
                             parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"undecodable frame: {exc}") from None
    except RecursionError:
        raise ProtocolError("undecodable frame: nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("a frame must hold a JSON object")
    return message


def length(header: bytes) -> int:
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame too large ({size} bytes, limit {MAX_FRAME})")
    return int(size)


def recv(sock: socket.socket) -> dict[str, Any] | None:
    """Blocking read of one frame; None at a clean end of stream."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    body = _recv_exactly(sock, length(header))
    if body is None:
        raise ProtocolError("connection closed in the middle of a frame")
    return decode(body)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            if got == 0:
                return None
            raise ProtocolError("connection closed in the middle of a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
