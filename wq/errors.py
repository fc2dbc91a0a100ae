"""The one tree of errors wq raises on purpose.

    WqError                  anything wq reports to a user as one line
    ├── ParseError           bad cluster file, job file, requirement string (file, line, key)
    ├── UsageError           a command used wrongly (exit code 2)
    ├── ClientError          the client cannot talk to the server
    │   └── ServerNotRunning no server listens on the socket
    ├── ServerError          the server refused a request (its message is the reason)
    ├── ProtocolError        a frame that is undecodable or of an unknown type
    │   ├── FrameError       the framing broke: oversize, cut off, too slow (the connection ends)
    │   └── TooLarge         a message to send is over the frame limit (nothing was sent)
    └── ExecutorError        a host could not be reached or refused what was asked
        └── HostUnreachable  connect, authentication or host key failure

cli/main.py is the one place that catches them: it prints the message on
stderr and exits non-zero. Anything else reaching it is a bug.
"""

from __future__ import annotations


class WqError(Exception):
    """An error with a message fit for a user: one line, says what and where."""

    exit_code = 1


class ParseError(WqError):
    """Text that does not parse or validate; names the source, line and key."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None,
                 key: str = "") -> None:
        message, key = one_line(message), one_line(key, 80)
        self.source = source
        self.line = line
        self.key = key
        self.detail = message
        where = source
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")


def one_line(text: str, limit: int = 300) -> str:
    """Text fit for one line of an error: whitespace runs as one space, cut short."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


class UsageError(WqError):
    exit_code = 2


class ClientError(WqError):
    pass


SERVER_LOST_EXIT = 69         # EX_UNAVAILABLE: no server, or it went away for good


class ServerNotRunning(ClientError):
    exit_code = SERVER_LOST_EXIT


class ServerLost(ClientError):
    """The connection ended mid-request (the server stopped or died)."""
    exit_code = SERVER_LOST_EXIT


class ServerError(WqError):
    pass


class ProtocolError(WqError):
    pass


class FrameError(ProtocolError):
    pass


class TooLarge(ProtocolError):
    pass


class ExecutorError(WqError):
    pass


class HostUnreachable(ExecutorError):
    pass
