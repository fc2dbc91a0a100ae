"""Where wq keeps things: the server socket, the state directory.

The socket lives in a private (0700) directory under /tmp, on the local disk
(a socket in an NFS home would be seen, but not reachable, from other hosts).
The state (the SQLite database) lives in ~/.local/state/wq.
"""

from __future__ import annotations

import os


def socket_path(explicit: str | None = None) -> str:
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if os.environ.get("WQ_SOCKET"):
        return os.path.abspath(os.path.expanduser(os.environ["WQ_SOCKET"]))
    return os.path.join(f"/tmp/wq-{os.getuid()}", "wq.sock")


def state_dir(explicit: str | None = None) -> str:
    chosen = explicit or os.environ.get("WQ_STATE")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "wq")
