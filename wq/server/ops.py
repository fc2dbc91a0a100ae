"""Who carries out the node work of a job: the server itself, or its user's launcher.

`Ops` is what the runner asks of a host for a job. `OwnOps` does it with the
server's own executor (a server alone, and the operator's jobs in a lab);
`LauncherOps` sends it to a lab member's launcher over that launcher's
connection (`Link`) and waits for its reports. Every method takes both what
the node scripts need (a launch, a directory) and the job it is for: the
server's executor uses the first, a launcher only the second, since it
rebuilds the rest from what its user signed (wq.protocol.calls).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from wq import hooks
from wq.errors import ExecutorError, HostUnreachable, ProtocolError, WqError
from wq.executor import wrapper
from wq.executor.base import Emit, ShellExecutor
from wq.executor.outcome import Outcome, Started
from wq.model import Host, Job
from wq.protocol.calls import Call, HostRef, JobRef, Report
from wq.protocol.messages import checked
from wq.server.listener import Connection

log = logging.getLogger(__name__)

#: seconds a launcher has to answer a short call (a kill, a status, a deletion,
#: wq log): a member's launcher that hangs must not hold up the others' requests
SHORT_CALL = 60.0


class LauncherAway(ExecutorError):
    """The user's launcher is not connected (or went away during the call)."""


class Ops(Protocol):
    async def launch(self, job: Job, host: Host, launch: wrapper.Launch,
                     hosts: list[Host], on_started: Callable[[Started], None]) -> Outcome: ...

    async def watch(self, job: Job, host: Host, directory: str,
                    on_running: Callable[[], None] = lambda: None) -> Outcome: ...

    async def follow(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                     emit: Emit) -> None: ...

    async def kill(self, host: Host, directory: str, grace: float,
                   first: str = "TERM", name: str = "") -> str: ...

    async def signal(self, host: Host, directory: str, signal: str, scope: str = "job",
                     name: str = "") -> str: ...

    async def status(self, host: Host, server_id: str, names: list[str]) -> dict[str, str]: ...

    async def remove(self, host: Host, server_id: str, names: list[str]) -> None: ...

    async def cat(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                  max_bytes: int) -> tuple[bytes, bytes]: ...

    async def step(self, host: Host, script: str, emit: Emit) -> int | None: ...


class OwnOps:
    """The server's own executor (the job is the server's user's)."""

    def __init__(self, executor: ShellExecutor) -> None:
        self.executor = executor

    async def launch(self, job: Job, host: Host, launch: wrapper.Launch,
                     hosts: list[Host], on_started: Callable[[Started], None]) -> Outcome:
        return await self.executor.launch(host, launch, on_started)

    async def watch(self, job: Job, host: Host, directory: str,
                    on_running: Callable[[], None] = lambda: None) -> Outcome:
        return await self.executor.watch(host, directory, on_running)

    async def follow(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                     emit: Emit) -> None:
        await self.executor.follow(host, directory, stdout, stderr, emit)

    async def kill(self, host: Host, directory: str, grace: float,
                   first: str = "TERM", name: str = "") -> str:
        return await self.executor.kill(host, directory, grace, first)

    async def signal(self, host: Host, directory: str, signal: str, scope: str = "job",
                     name: str = "") -> str:
        return await self.executor.signal(host, directory, signal, scope)

    async def status(self, host: Host, server_id: str, names: list[str]) -> dict[str, str]:
        return await self.executor.status(host, server_id, names)

    async def remove(self, host: Host, server_id: str, names: list[str]) -> None:
        await self.executor.remove(host, server_id, names)

    async def cat(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                  max_bytes: int) -> tuple[bytes, bytes]:
        return await self.executor.cat(host, directory, stdout, stderr, max_bytes)

    async def step(self, host: Host, script: str, emit: Emit) -> int | None:
        return await self.executor.step(host, script, emit)


class Link:
    """A member's launcher, connected: calls out, reports back, matched by number."""

    def __init__(self, user: str, conn: Connection) -> None:
        self.user, self.conn = user, conn
        self._numbers = itertools.count(1)
        self._calls: dict[int, tuple[asyncio.Future[Any], Callable[[Report], None]]] = {}
        self.closed = False

    async def call(self, call: Call, progress: Callable[[Report], None] = lambda r: None
                   ) -> Any:
        """Send a call; its `done` report's result, or the ExecutorError it failed with."""
        if self.closed:
            raise LauncherAway(f"{self.user}'s launcher went away")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[call.call] = (future, progress)
        try:
            await self.conn.send(call.to_frame())
            return await future
        finally:
            self._calls.pop(call.call, None)

    def number(self) -> int:
        return next(self._numbers)

    async def serve(self) -> None:
        """Route the launcher's reports to their calls until it goes; then every
        call still open fails with LauncherAway."""
        try:
            while True:
                frame = await self.conn.recv()
                if frame is None:
                    return
                try:
                    report = Report.from_frame(frame)
                except ProtocolError as exc:
                    log.warning("%s's launcher sent a bad report: %s", self.user, exc)
                    continue
                entry = self._calls.get(report.call)
                if entry is None:
                    continue                    # a call given up on (its task cancelled)
                future, progress = entry
                if future.done():
                    continue
                if report.kind == "done":
                    future.set_result(report.result)
                elif report.kind == "failed":
                    kind = HostUnreachable if report.unreachable else ExecutorError
                    future.set_exception(kind(report.error))
                else:
                    progress(report)
        finally:
            self.closed = True
            for future, _ in list(self._calls.values()):
                if not future.done():
                    future.set_exception(LauncherAway(f"{self.user}'s launcher went away"))


class LauncherOps:
    """A member's job operations, by their launcher."""

    async def step(self, host: Host, script: str, emit: Emit) -> int | None:
        """A launcher runs nothing its member did not sign, and a step's command
        is not signed: a step across hosts is not for a lab's members (yet)."""
        raise WqError("srun across a job's hosts is not available to a lab's members: "
                      "the job's first host runs its tasks alone (srun -N 1)")

    def __init__(self, link: Link, server_id: str) -> None:
        self.link, self.server_id = link, server_id

    def _call(self, op: str, host: Host, **fields: Any) -> Call:
        return Call(self.link.number(), op, self.server_id, HostRef.of(host), **fields)

    async def _short(self, call: Call, more: float = 0.0) -> Any:
        """A short call's result, within SHORT_CALL seconds (and `more`)."""
        limit = SHORT_CALL + more
        try:
            return await asyncio.wait_for(self.link.call(call), limit)
        except TimeoutError:
            raise ExecutorError(f"{self.link.user}'s launcher did not answer a {call.op} "
                                f"in {limit:g} s") from None

    async def hook(self, job: Job, facts: dict[str, str]) -> tuple[int | None, str]:
        """Run the job's on_end command as its user, by their launcher (which takes
        the command and environment from the spec its user signed)."""
        call = Call(self.link.number(), "hook", self.server_id, HostRef.here(),
                    job=JobRef.of(job), facts=facts)
        result = await self._short(call, hooks.HOOK_TIMEOUT)
        return result[0], str(result[1])

    async def launch(self, job: Job, host: Host, launch: wrapper.Launch,
                     hosts: list[Host], on_started: Callable[[Started], None]) -> Outcome:
        def progress(report: Report) -> None:
            if report.kind == "started":
                on_started(Started(report.pid, "", ""))
        call = self._call("launch", host, job=JobRef.of(job),
                          hosts=[HostRef.of(h) for h in hosts], grace=launch.grace)
        try:
            return _outcome(await self.link.call(call, progress))
        except LauncherAway:
            raise
        except ExecutorError as exc:    # the member's own doing (keys, a refusal): their
            return Outcome(error=str(exc), exit_code=-1)      # job's, never the host's

    async def watch(self, job: Job, host: Host, directory: str,
                    on_running: Callable[[], None] = lambda: None) -> Outcome:
        def progress(report: Report) -> None:
            if report.kind == "running":
                on_running()
        call = self._call("watch", host, job=JobRef.of(job))
        try:
            return _outcome(await self.link.call(call, progress))
        except LauncherAway:
            raise
        except ExecutorError as exc:
            return Outcome(lost=True, unreachable=True, error=str(exc))

    async def follow(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                     emit: Emit) -> None:
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        def progress(report: Report) -> None:
            if report.kind == "output":
                queue.put_nowait((report.stream, report.data.encode("utf-8", "surrogateescape")))

        async def pump() -> None:
            while True:
                stream, data = await queue.get()
                await emit(stream, data)
        pumping = asyncio.ensure_future(pump())
        try:
            await self.link.call(self._call("follow", host, job=JobRef.of(job)), progress)
            while not queue.empty():
                await emit(*queue.get_nowait())
        finally:
            pumping.cancel()

    async def kill(self, host: Host, directory: str, grace: float,
                   first: str = "TERM", name: str = "") -> str:
        call = self._call("kill", host, name=name, grace=grace, first=first)
        return str(await self._short(call, more=grace))

    async def signal(self, host: Host, directory: str, signal: str, scope: str = "job",
                     name: str = "") -> str:
        call = self._call("signal", host, name=name, first=signal, scope=scope)
        return str(await self._short(call))

    async def status(self, host: Host, server_id: str, names: list[str]) -> dict[str, str]:
        result = await self._short(self._call("status", host, names=names))
        if not isinstance(result, dict):
            raise ExecutorError(f"{self.link.user}'s launcher answered a status oddly")
        return {str(k): str(v) for k, v in result.items()}

    async def remove(self, host: Host, server_id: str, names: list[str]) -> None:
        await self._short(self._call("remove", host, names=names))

    async def cat(self, job: Job, host: Host, directory: str, stdout: str, stderr: str,
                  max_bytes: int) -> tuple[bytes, bytes]:
        result = await self._short(self._call("cat", host, job=JobRef.of(job),
                                              max_bytes=max_bytes))
        if not (isinstance(result, list) and len(result) == 2
                and all(isinstance(r, str) for r in result)):
            raise ExecutorError(f"{self.link.user}'s launcher answered wq log oddly")
        return (result[0].encode("utf-8", "surrogateescape"),
                result[1].encode("utf-8", "surrogateescape"))


def _outcome(result: Any) -> Outcome:
    try:
        if not isinstance(result, dict):
            raise ValueError("not an object")
        outcome: Outcome = checked(Outcome, result, "outcome")
        return outcome
    except (ValueError, ProtocolError) as exc:
        raise ExecutorError(f"a launcher reported an outcome wq cannot read: {exc}") from None
