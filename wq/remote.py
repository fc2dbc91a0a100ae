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

import base64
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
    # ssh hands the line to the login shell there, which may be sh, bash, zsh,
    # fish, tcsh or csh, each quoting its own way (fish reads backslashes in
    # single quotes, csh expands ! in them): the line holds only a fixed script
    # in single quotes (none of \ ' ! or a newline in it) and base64, which
    # every shell leaves alone; sh gets the words back from the base64
    words = " ".join([shlex.quote(cwd), command, *(shlex.quote(a) for a in args)])
    payload = base64.b64encode(words.encode("utf-8", "surrogateescape")).decode("ascii")
    script = f"exec env {INSIDE}=1 sh -c '{_HOP}' sh {payload}"
    return ["ssh", "-q", *(["-t"] if tty else ["-T"]), "--", server, script]


#: the remote end: the words back (WQ_REMOTE_COMMAND unquoted, so that a ~ in
#: it is expanded there), then in the same directory, if there, the command
_HOP = 'eval "set -- $(printf %s "$1" | base64 -d)"; cd "$1" 2>/dev/null; shift; exec "$@"'


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
