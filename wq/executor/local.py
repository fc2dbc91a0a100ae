"""LocalExecutor: jobs on this machine (hosts with `local: true`, and so the
embedded default), through the same per-host helper as over ssh, spoken to
over a pipe; `sh -s` per operation where it cannot run (`helper: false`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

from wq.executor import helper as helpers
from wq.executor.base import Proc, Reader
from wq.model import Host

log = logging.getLogger(__name__)


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


def _link_socket(reach: helpers.Reach, name: str) -> None:
    """BASE/wq-NAME.sock, where the jobs of host NAME (this machine) find wq, as
    ssh hosts' find the socket forwarded there: a symbolic link to it, replaced
    atomically."""
    base = os.path.expanduser(f"~/.cache/wq/{reach.server_id}")
    path = os.path.join(base, f"wq-{name}.sock")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        if os.path.realpath(path) != os.path.realpath(reach.socket):
            temporary = f"{path}.{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(reach.socket, temporary)
            os.replace(temporary, path)
    except OSError as exc:
        log.warning("jobs on this machine cannot reach wq (wq's and Slurm's commands in a "
                    "job): %s", exc)


class LocalExecutor(helpers.HelperExecutor):
    def __init__(self, umask: int = 0o022) -> None:
        self.umask = umask        # the user's, as a login over ssh would give the scripts
        self.helpers = helpers.Helpers(self._start_helper)
        self._procs: list[asyncio.subprocess.Process] = []

    async def _start_helper(self, host: Host) -> helpers.HelperLink:
        """This server's own python runs the helper (it needs nothing else), in a
        session of its own: the server's terminal never reaches it or its jobs.
        Closing its stdin ends it; the jobs it started run on."""
        text = helpers.source()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-E", "-S", "-c", helpers.bootstrap_code(len(text)),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True,
                cwd=os.path.expanduser("~"), umask=self.umask)
        except OSError as exc:
            raise helpers.HelperUnavailable(f"{host.name}: {exc}") from None
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._procs = [p for p in self._procs if p.returncode is None] + [proc]
        stdin = proc.stdin

        def close() -> None:
            if not stdin.is_closing():
                stdin.close()
        link = helpers.HelperLink(host.name, stdin.write, proc.stdout, proc.stderr, close)
        hello = await link.start()
        log.info("%s: local helper running (pid %s)", host.name, hello.get("pid"))
        if self.reach is not None:
            _link_socket(self.reach, host.name)
        return link

    @contextlib.asynccontextmanager
    async def _plain(self, host: Host, script: str) -> AsyncIterator[Proc]:
        """The plain path: `sh -s` with the script, in a new session (the
        server's Ctrl-C must never reach jobs)."""
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

    async def close(self) -> None:
        await self.helpers.close()
        for proc in self._procs:         # its stdin closed: it ends at once
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.communicate(), 5)
