"""LocalExecutor: the node-side scripts run by a local /bin/sh (hosts with `local: true`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

from wq.executor.base import Proc, Reader, ShellExecutor
from wq.model import Host


class _LocalProc:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def stdout(self) -> Reader:
        assert self._proc.stdout is not None
        return self._proc.stdout

    @property
    def stderr(self) -> Reader:
        assert self._proc.stderr is not None
        return self._proc.stderr

    async def wait(self) -> int | None:
        return await self._proc.wait()

    def terminate(self) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGTERM)


class LocalExecutor(ShellExecutor):
    def __init__(self, umask: int = 0o022) -> None:
        self.umask = umask        # the user's, as a login over ssh would give the scripts

    @contextlib.asynccontextmanager
    async def _run(self, host: Host, script: str) -> AsyncIterator[Proc]:
        # A new session: the server's terminal (Ctrl-C) must never reach jobs.
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-s", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
            cwd=os.path.expanduser("~"), umask=self.umask)
        assert proc.stdin is not None
        proc.stdin.write(script.encode("utf-8", "surrogateescape"))
        proc.stdin.close()
        local = _LocalProc(proc)
        try:
            yield local
        finally:
            if proc.returncode is None:
                local.terminate()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5)
