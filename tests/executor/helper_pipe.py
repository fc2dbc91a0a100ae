"""The per-host helper over a local pipe: python3 started here, spoken to exactly
as SshExecutor speaks to it over a channel, so tests can compare the helper's
launch path with the plain sh path without sshd."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from wq.executor import helper as helpers
from wq.executor import wrapper
from wq.executor.base import Proc, ShellExecutor
from wq.model import Host


class PipeHelperExecutor(ShellExecutor):
    def __init__(self) -> None:
        self.link: helpers.HelperLink | None = None
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> dict[str, object]:
        text = helpers.source()
        self.proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", helpers.bootstrap_command(len(text)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=os.path.expanduser("~"),
            start_new_session=True)
        proc = self.proc
        assert proc.stdin and proc.stdout and proc.stderr

        def close() -> None:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
        self.link = helpers.HelperLink("pipe", proc.stdin.write, proc.stdout, proc.stderr,
                                       close)
        return await self.link.start()

    @contextlib.asynccontextmanager
    async def _run(self, host: Host, script: str) -> AsyncIterator[Proc]:
        assert self.link is not None
        async with self.link.running(script) as proc:
            yield proc

    @contextlib.asynccontextmanager
    async def _launch(self, host: Host, job: wrapper.Launch) -> AsyncIterator[Proc]:
        assert self.link is not None
        yield self.link.open(wrapper.helper_request(job))

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
        if self.proc is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
