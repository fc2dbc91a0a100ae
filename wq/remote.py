"""Using a lab's server from another machine: the command runs on the head node.

With `WQ_SERVER=head` (an ssh destination: a host, `user@host`, or a Host of
`~/.ssh/config`), every `wq` command is carried out by `wq` on that machine,
over the user's own ssh login: no new secret, no open port. The remote
command's output and exit code are this command's; with a terminal on both
ends ssh gets one too (`-t`), so interactive sessions and Ctrl-C work as on
the head node. It runs in the same directory as here when that exists there
(a shared home), else in the login's home; the job takes the environment of
the login on the head node. `WQ_REMOTE_COMMAND` names the command there
(default `wq`; e.g. `~/venv/bin/wq`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from wq.errors import ClientError

#: set in the remote command's environment, so that it never goes remote again
INSIDE = "WQ_REMOTE_HOP"


def destination() -> str | None:
    """Where commands go (WQ_SERVER), unless this is already the remote end."""
    if os.environ.get(INSIDE):
        return None
    return os.environ.get("WQ_SERVER", "").strip() or None


def argv(server: str, args: list[str], cwd: str, tty: bool) -> list[str]:
    """The ssh command line that runs `wq ARGS` on `server` in `cwd` (if there)."""
    if server.startswith("-") or any(c.isspace() for c in server):
        raise ClientError(f"WQ_SERVER={server!r} is not an ssh destination")
    command = os.environ.get("WQ_REMOTE_COMMAND", "wq").strip() or "wq"
    # one plain command line, whatever the login shell there (sh, bash, zsh, fish,
    # csh): env and sh do the rest
    script = " ".join([f"exec env {INSIDE}=1 sh -c", shlex.quote(_HOP), "sh",
                       shlex.quote(cwd), command, *(shlex.quote(a) for a in args)])
    return ["ssh", "-q", *(["-t"] if tty else ["-T"]), "--", server, script]


_HOP = 'cd "$1" 2>/dev/null; shift; exec "$@"'     # in the same directory, if there


def run(server: str, args: list[str]) -> None:
    """Replace this process with ssh running the command on `server`."""
    ssh = shutil.which("ssh")
    if ssh is None:
        raise ClientError("WQ_SERVER is set but there is no ssh command here")
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    line = argv(server, args, os.getcwd(), tty)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(ssh, line)
