"""What every submitter does before it sends a job (wq sub, the Slurm shims,
the Python API): in a lab, sign it with the member's key and make sure their
launcher is running."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from wq.errors import WqError

if TYPE_CHECKING:
    from wq.client import Client

READY = "WQ_LAUNCHER_READY"             # (environment) a pipe that detach() waits on
READY_WAIT = 30.0                       # seconds detach() waits for the launcher to serve
SERVING, WAITING = b"s", b"w"           # what it writes there: it serves, or waits for one


def ensure_launcher(client: Client, socket_path: str | None) -> None:
    """A lab member's jobs run through their launcher: start one in the
    background when none serves the server yet."""
    if client.launcher_up or not client.start_launcher:
        return
    from wq import paths

    detach(socket_path, paths.launcher_log())
    client.launcher_up = True


def signed(frame: dict[str, Any], shape: dict[str, Any], user: str
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A lab member's job, signed (and each array entry tagged) with their key, so
    that their launcher runs it (wq.signing)."""
    from wq import signing

    key = signing.load_key()
    entries, array = shape.get("entries"), shape.get("array")
    tasks = array if array is not None else None if entries is None else [1, len(entries), 1]
    frame = {**frame, "seal": signing.seal(), **({} if tasks is None else {"tasks": tasks}),
             **({} if entries is None else {"entries": True})}
    frame = {**frame, "signature": signing.sign(key, frame, user)}
    if entries is not None:
        shape = {**shape, "entry_tags": [signing.sign_entry(key, frame["signature"], i, e)
                                         for i, e in enumerate(entries, start=1)]}
    return frame, shape


def sign_all(frames: list[dict[str, Any]], envs: list[dict[str, str]], user: str
             ) -> list[dict[str, Any]]:
    """Separate jobs of a lab member's (specs without their environments, and
    those), each signed whole with their key (read once)."""
    from wq import signing

    key = signing.load_key()
    sealed = [{**frame, "seal": signing.seal()} for frame in frames]
    return [{**frame, "signature": signing.sign(key, {**frame, "env": env}, user)}
            for frame, env in zip(sealed, envs, strict=True)]


def sealed_rerun(signature: str) -> tuple[str, str]:
    """A lab member's word that their job signed `signature` runs again: a new
    seal, and its tag (wq.signing.sign_again)."""
    from wq import signing

    again = signing.seal()
    return again, signing.sign_again(signing.load_key(), signature, again)


def detach(socket_path: str | None, log_path: str, wait: float = READY_WAIT) -> int:
    """Start a launcher in the background, in a session of its own (so it
    outlives the terminal), logging to `log_path`; returns its pid once it
    serves the server (or has found another launcher of its user's that does,
    or waits for a server that is not running), or after `wait` seconds. One
    that ends before is a WqError quoting its log.

    The socket goes to it as to any other command (`wq --socket PATH launcher`),
    and WQ_OPERATOR with the rest of the environment; it says it serves by
    writing to a pipe whose descriptor READY names."""
    import select
    import subprocess
    import sys

    os.makedirs(os.path.dirname(log_path), mode=0o700, exist_ok=True)
    args = [sys.executable, "-m", "wq"]
    if socket_path:
        args += ["--socket", socket_path]
    args.append("launcher")
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    logged = os.fstat(fd).st_size
    ready_read, ready_write = os.pipe()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                start_new_session=True, close_fds=True,
                                pass_fds=(ready_write,),
                                env={**os.environ, READY: str(ready_write)})
    finally:
        os.close(fd)
        os.close(ready_write)
    try:
        readable, _, _ = select.select([ready_read], [], [], wait)
        if readable and not os.read(ready_read, 1):         # ended without serving
            proc.wait()
            raise WqError(f"your wq launcher could not start (exit {proc.returncode}): "
                          f"{_last_line(log_path, logged)} (its log: {log_path})")
    finally:
        os.close(ready_read)
    return proc.pid


def _last_line(path: str, since: int) -> str:
    """The last line written to `path` after offset `since`."""
    try:
        with open(path, "rb") as fh:
            fh.seek(since)
            text = fh.read(65536).decode("utf-8", "replace")
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "it said nothing"
