"""The Executor: one interface, two transports (ssh and local).

Both run the same node-side scripts (wrapper.py) through `sh -s`; a transport
only supplies `_run`, which starts `sh -s` on a host with a script on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from wq.errors import ExecutorError
from wq.executor import contract, wrapper
from wq.executor.outcome import Outcome, Started
from wq.model import Host

log = logging.getLogger(__name__)


class Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...
    async def readline(self) -> bytes: ...


class Proc(Protocol):
    """A running `sh -s` on a host."""

    @property
    def stdout(self) -> Reader: ...
    @property
    def stderr(self) -> Reader: ...
    async def wait(self) -> int | None: ...     # None: the connection was lost
    def terminate(self) -> None: ...


Emit = Callable[[str, bytes], Awaitable[None]]


class ShellExecutor:
    """Job operations over `sh -s`; subclasses provide the transport."""

    def _run(self, host: Host, script: str) -> contextlib.AbstractAsyncContextManager[Proc]:
        raise NotImplementedError

    async def probe(self, host: Host) -> str:
        """Reach the host and return its boot id; raises ExecutorError if unreachable."""
        async with self._run(host, wrapper.probe_script()) as proc:
            out = await proc.stdout.read()
            await proc.wait()
        return out.decode(errors="replace").strip()

    async def run(self, host: Host, script: str) -> tuple[int | None, str]:
        """Run `script`; its exit status (None: the connection was lost) and its
        output, stdout then stderr."""
        async with self._run(host, script) as proc:
            err = asyncio.ensure_future(proc.stderr.read())
            out = await proc.stdout.read()
            code = await proc.wait()
            out += await err
        return code, out.decode(errors="replace")

    async def launch(self, host: Host, job: wrapper.Launch,
                     on_started: Callable[[Started], None]) -> Outcome:
        """Run one job instance through the launch script (`sh -s`), reading what
        it prints; returns when it ends (or its channel is lost)."""
        async with self._run(host, wrapper.launch_script(job)) as proc:
            errors = asyncio.ensure_future(proc.stderr.read())
            exit_code: int | None = None
            error: str | None = None
            exited = timed_out = False
            async for line in _lines(proc.stdout):
                word, _, rest = line.partition(" ")
                if word == contract.STARTED:
                    pid, start, boot = (rest.split() + ["", "", ""])[:3]
                    on_started(Started(int(pid), start, boot))
                elif word == contract.EXITED:
                    exited = True
                    exit_code = _exit_code(rest)
                elif word == contract.TIMED_OUT:
                    timed_out = True
                elif word == contract.ERROR:
                    error = rest.strip()
            status = await proc.wait()
            stderr = (await errors).decode(errors="replace").strip()
        if error is not None:
            return Outcome(exit_code=exit_code, error=error)
        if exited and exit_code is not None:
            return Outcome(exit_code=exit_code, timed_out=timed_out)
        if status is None:
            return Outcome(lost=True)
        if exited:
            detail = "the wrapper ended without an exit status"
        else:
            detail = stderr.splitlines()[-1] if stderr else f"exit status {status}"
        return Outcome(error=f"the launch on {host.name} failed: {detail}")

    async def watch(self, host: Host, directory: str,
                    on_running: Callable[[], None] = lambda: None) -> Outcome:
        """Wait for a job launched earlier (by this or a previous server) to end;
        `on_running` is called once if it is seen alive first."""
        timed_out, ended = False, None
        async with self._run(host, wrapper.watch_script(directory)) as proc:
            async for line in _lines(proc.stdout):
                word, _, rest = line.partition(" ")
                if word == contract.RUNNING:
                    on_running()
                elif word == contract.TIMED_OUT:
                    timed_out = True
                elif word == contract.ENDED:
                    ended = _seconds(rest)
                elif word == contract.EXITED:
                    return Outcome(exit_code=_exit_code(rest), timed_out=timed_out,
                                   ended=ended)
                elif word == contract.LOST:
                    return Outcome(lost=True, error=rest.strip())
                elif word == contract.NOT_STARTED:
                    return Outcome(lost=True, never_started=True,
                                   error="its launch never reached the node")
            status = await proc.wait()
        return Outcome(lost=True, error=None if status is None else "the watcher failed")

    async def status(self, host: Host, server_id: str, names: list[str]) -> dict[str, str]:
        """What became of instances (`job.instance`) a server lost track of:
        exit N, running, rebooted, vanished or notstarted, by name."""
        async with self._run(host, wrapper.status_script(server_id, names)) as proc:
            out = (await proc.stdout.read()).decode(errors="replace")
            if await proc.wait() is None:
                raise ExecutorError(f"lost the connection to {host.name}")
        found = {}
        for line in out.splitlines():
            name, _, word = line.partition(" ")
            if name in names:
                found[name] = word.strip()
        return found

    async def remove(self, host: Host, server_id: str, names: list[str]) -> None:
        """Delete the directories of forgotten instances on a host."""
        async with self._run(host, wrapper.remove_script(server_id, names)) as proc:
            await proc.stdout.read()
            await proc.wait()

    async def kill(self, host: Host, directory: str, grace: float, first: str = "TERM") -> str:
        async with self._run(host, wrapper.kill_script(directory, grace, first)) as proc:
            out = await proc.stdout.read()
            await proc.wait()
        return out.decode(errors="replace").strip()

    async def signal(self, host: Host, directory: str, signal: str, scope: str = "job"
                     ) -> str:
        """Send `signal` to a running job, to whom `scope` says (requirements.SCOPES):
        signalled, gone, nostep or notstarted."""
        async with self._run(host, wrapper.signal_script(directory, signal, scope)) as proc:
            out = await proc.stdout.read()
            await proc.wait()
        return out.decode(errors="replace").strip()

    async def follow(self, host: Host, directory: str, stdout_word: str, stderr_word: str,
                     emit: Emit) -> None:
        """Stream a job's output to `emit(stream, data)` until the job ends."""
        async with self._run(host, wrapper.follow_script(directory, stdout_word,
                                                         stderr_word)) as proc:
            try:
                await asyncio.gather(_pump(proc.stdout, "stdout", emit),
                                     _pump(proc.stderr, "stderr", emit))
                await proc.wait()
            finally:
                proc.terminate()

    async def step(self, host: Host, script: str, emit: Emit) -> int | None:
        """Run a job step's tasks (wrapper.step_script), their output to `emit(stream,
        data)` as it comes; their worst exit status (None: the host was lost). A
        cancelled step is stopped (TERM to its process group)."""
        async with self._run(host, script) as proc:
            try:
                await asyncio.gather(_pump(proc.stdout, "stdout", emit),
                                     _pump(proc.stderr, "stderr", emit))
                return await proc.wait()
            finally:
                proc.terminate()

    async def cat(self, host: Host, directory: str, stdout_word: str, stderr_word: str,
                  max_bytes: int) -> tuple[bytes, bytes]:
        async with self._run(host, wrapper.cat_script(directory, stdout_word, stderr_word,
                                                      max_bytes)) as proc:
            out, err = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
            await proc.wait()
        return out, err

    def allow_retry(self, host: Host) -> None:
        """Let the next connection to `host` try again at once (after `wq refresh`)."""

    async def close(self) -> None:
        """Release connections; running jobs are not touched."""


def _exit_code(text: str) -> int | None:
    """The status of a WQ-EXIT line: a number, or `none` when no rc file was found."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _seconds(text: str) -> float | None:
    """Epoch seconds from `date +%s.%N` (a date without %N leaves it as is)."""
    whole, _, fraction = text.strip().partition(".")
    if not whole.isdigit():
        return None
    return float(f"{whole}.{fraction}") if fraction.isdigit() else float(whole)


async def _lines(reader: Reader) -> AsyncIterator[str]:
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line.decode(errors="replace").rstrip("\n")


async def _pump(reader: Reader, stream: str, emit: Emit) -> None:
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        await emit(stream, chunk)
