"""Where wq keeps things: the server socket, the state directory.

The socket lives in a private (0700) directory on the local disk (a socket in
an NFS home would be seen, but not reachable, from other hosts):
`$XDG_RUNTIME_DIR/wq/` when the session has one (created by the system,
private, and nobody else can create it first), else `/tmp/wq-UID/`. A client
looks in both, so a server started where XDG_RUNTIME_DIR was unset (cron,
`nohup` from another session) is found too.
The state (the SQLite database) lives in ~/.local/state/wq.
"""

from __future__ import annotations

import os
import stat

SOCKET_NAME = "wq.sock"


def fallback_socket() -> str:
    return os.path.join(f"/tmp/wq-{os.getuid()}", SOCKET_NAME)


def default_sockets() -> list[str]:
    """The default socket paths, the one a new server uses first."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    out = []
    if os.path.isabs(runtime) and _mine(runtime):    # (after `su`, it may be another's)
        out.append(os.path.join(runtime, "wq", SOCKET_NAME))
    out.append(fallback_socket())
    return out


def _mine(directory: str) -> bool:
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def explicit_socket(explicit: str | None = None) -> str | None:
    """The socket named by --socket or WQ_SOCKET, if any."""
    chosen = explicit or os.environ.get("WQ_SOCKET")
    return os.path.abspath(os.path.expanduser(chosen)) if chosen else None


def socket_path(explicit: str | None = None) -> str:
    """Where a server listens: the explicit path, else the first default."""
    return explicit_socket(explicit) or default_sockets()[0]


def socket_candidates(explicit: str | None = None) -> list[str]:
    """Where a client looks for its server, in order."""
    chosen = explicit_socket(explicit)
    return [chosen] if chosen else default_sockets()


def state_dir(explicit: str | None = None) -> str:
    chosen = explicit or os.environ.get("WQ_STATE")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    return user_state()


def launcher_log() -> str:
    """Where a lab member's launcher, started in the background, logs."""
    return user_state("launcher.log")


def user_state(name: str = "") -> str:
    """The user's own wq state directory (XDG_STATE_HOME/wq), or `name` in it: a
    lab member's launcher log and ledger live there whatever WQ_STATE says."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "wq", name) if name else os.path.join(base, "wq")
