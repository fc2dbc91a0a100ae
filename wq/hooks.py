"""Running a job's on_end command (`wq sub --on-end CMD`): by the server for
its own user's jobs, by a lab member's launcher for theirs.

The command is the job's, as signed; its environment is the job's own plus
the facts of how it ended, WQ_* variables only (a server can tell a launcher
those, never what else to put in a member's environment). It runs once, in
the job's directory, without a terminal, for at most HOOK_TIMEOUT seconds; a
failure is logged by the caller and never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Mapping

HOOK_TIMEOUT = 600.0
FACT = re.compile(r"WQ_(JOB_ID|JOB_NAME|STATE|EXIT|HOST|TASKS_[A-Z]{1,16})")


def environment(job_env: Mapping[str, str], facts: Mapping[str, str]) -> dict[str, str]:
    """The job's environment with the facts of its end (ValueError for a fact that
    is not one)."""
    for key, value in facts.items():
        if not FACT.fullmatch(key) or "\0" in value or len(value) > 4096:
            raise ValueError(f"not a fact of a job's end: {key!r}")
    return {**job_env, **facts}


async def run(command: str, cwd: str, env: Mapping[str, str],
              timeout: float = HOOK_TIMEOUT) -> tuple[int | None, str]:
    """Run it with /bin/sh -c: its exit status (None: it could not run, or ran
    out of time) and the last line of its stderr (or why)."""
    where = cwd if os.path.isdir(cwd) else os.path.expanduser("~")
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command, cwd=where, env=dict(env),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return None, f"could not start: {exc.strerror or exc}"
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None, f"still running after {timeout:g}s: killed"
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return proc.returncode, lines[-1][:300] if lines else ""
