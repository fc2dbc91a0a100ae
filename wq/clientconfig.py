"""Which server a client talks to, and whose it must be.

In order: `--socket` or `WQ_SOCKET` (with `WQ_OPERATOR` naming the user who
runs that server, oneself by default, and `WQ_LAUNCHER` as the file's
`launcher` below); else the first of
`~/.config/wq/client.yaml` and `/etc/wq/client.yaml` that exists; else one's
own private server at the default places (wq.paths). A config file holds flat
`key: value` lines (YAML's simplest form), `#` comments allowed:

    socket: /srv/wq/lab.sock      # the lab's shared socket
    operator: alice               # who runs the lab's server
    launcher: manual              # I run my launcher myself (default: auto, started
                                  # by `wq sub` when none is connected)
    on_end: notify-send "wq $WQ_JOB_ID $WQ_STATE"   # my jobs' default on_end command

The client then trusts only a server run by that user (wq.trust).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from wq import paths
from wq.errors import ClientError

SYSTEM_CONFIG = "/etc/wq/client.yaml"
KEYS = ("socket", "operator", "launcher", "on_end")


@dataclass(frozen=True, slots=True)
class Target:
    candidates: list[str]           # where to look for the socket, in order
    owner: int                      # the uid the server must run as
    start_launcher: bool = True     # `wq sub` starts one's launcher when none is connected
    shared: bool = False            # a lab's socket, which others may reach (wq.trust)


def user_config() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "wq", "client.yaml")


def target(explicit: str | None = None) -> Target:
    """Whose server to talk to, and where. A socket named by an operator (in
    WQ_OPERATOR, or a config file's `operator`, the operator's own included)
    is a lab's shared socket: its directory may let others in. `--socket` or
    WQ_SOCKET naming the socket of the config file takes that file's operator."""
    chosen = paths.explicit_socket(explicit)
    if chosen is not None:
        operator = os.environ.get("WQ_OPERATOR", "").strip()
        if operator:
            return Target([chosen], _uid(operator, "WQ_OPERATOR"), _launcher(True),
                          shared=True)
        try:
            configured = _configured()
        except ClientError:             # (an explicit socket does not need the file)
            configured = None
        if configured is None or configured.candidates != [chosen]:
            return Target([chosen], os.getuid())
        return configured
    return _configured() or Target(paths.socket_candidates(), os.getuid())


def _configured() -> Target | None:
    """The server the first config file that names a socket points at."""
    for path in (user_config(), SYSTEM_CONFIG):
        if os.path.exists(path):
            config = read(path)
            if "socket" in config:
                operator = config.get("operator")
                return Target([config["socket"]],
                              _uid(operator, f"{path}: operator") if operator else os.getuid(),
                              _launcher(config.get("launcher", "auto") == "auto"),
                              operator is not None)
    return None


def _launcher(auto: bool) -> bool:
    """Whether `wq sub` starts one's launcher: WQ_LAUNCHER (auto or manual) if
    set, else `auto`."""
    given = os.environ.get("WQ_LAUNCHER", "").strip()
    if not given:
        return auto
    if given not in ("auto", "manual"):
        raise ClientError(f"WQ_LAUNCHER: expected auto or manual, got {given[:60]!r}")
    return given == "auto"


def default_on_end() -> str | None:
    """The on_end command of jobs that name none (`on_end:` in the first config
    file that exists)."""
    for path in (user_config(), SYSTEM_CONFIG):
        if os.path.exists(path):
            return read(path).get("on_end")
    return None


def read(path: str) -> dict[str, str]:
    """A client config file's keys; a bad line is a ClientError naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read(65536).splitlines()
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ClientError(f"{path} is not UTF-8 text") from None
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        key, sep, value = text.partition(":")
        key, value = key.strip(), value.strip().strip("'\"")
        if not sep or key not in KEYS or not value:
            raise ClientError(f"{path}:{number}: expected 'key: value' with a key of "
                              f"{', '.join(KEYS)}, got {text[:60]!r}")
        if key == "launcher" and value not in ("auto", "manual"):
            raise ClientError(f"{path}:{number}: launcher: expected auto or manual, got "
                              f"{value[:60]!r}")
        if key == "socket":
            value = os.path.expanduser(value)
            if not os.path.isabs(value):
                raise ClientError(f"{path}:{number}: socket: expected an absolute path, "
                                  f"got {value[:60]!r}")
        out[key] = value
    return out


def _uid(name: str, where: str) -> int:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ClientError(f"{where} names {name!r}, who is no user here") from None
