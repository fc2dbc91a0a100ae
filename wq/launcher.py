"""A lab member's launcher: runs that member's jobs on the nodes, as them.

It connects to the lab's server (checked to be the operator's, as any client
does) and offers itself; from then on the server sends it calls for its
user's jobs (wq.protocol.calls) and it carries them out with its user's
own ssh configuration, keys and agent, reporting back. It keeps no state:
the jobs run detached on the nodes and a later launcher (or this one, after
the server restarts) finds them there.

What it runs it checks first: a job of its own user, whose spec carries the
signature its user's client made (wq.signing), and for an array entry the
entry's tag. Node directories and output files are worked out here, from
the signed spec and checked ids, never taken from the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pwd
import time
from collections.abc import Callable, Coroutine
from typing import Any

from wq import hooks, ledger, signing
from wq.client import Client
from wq.errors import (ExecutorError, HostUnreachable, ParseError, ProtocolError, ServerLost,
                       ServerNotRunning, WqError)
from wq.executor import wrapper
from wq.executor.base import ShellExecutor
from wq.executor.helper import Reach
from wq.executor.local import LocalExecutor
from wq.executor.outcome import Started
from wq.ledger import Ledger
from wq.model import Host, Job
from wq.parsing import arrays, requirements, units
from wq.protocol import framing
from wq.protocol import messages as m
from wq.protocol.calls import INSTANCE, OPS, SERVER_ID, Call, Report
from wq.submission import READY, SERVING, WAITING
from wq.server import onnode

log = logging.getLogger("wq.launcher")

SIGNALS = ("TERM", "KILL", "HUP", "INT")
LOCAL = "localhost"                     # how the launcher's executor knows this machine
RETRY = (0.2, 0.5, 1.0, 2.0, 5.0)       # seconds between tries to reach the server again
GIVE_UP = 3600.0                        # seconds without a server after which it ends


Send = Callable[[Report], Coroutine[Any, Any, None]]


class Refused(WqError):
    """A call this launcher will not carry out (not its user's, not signed)."""


class AlreadyServing(WqError):
    """Another launcher of this user's serves the server: nothing to do."""


class Launcher:
    def __init__(self, user: str, key: bytes, ledger: Ledger, umask: int = 0o022) -> None:
        from wq.executor.ssh import SshExecutor

        self.user, self.key, self.ledger = user, key, ledger
        self.local = LocalExecutor(umask)
        self.ssh = SshExecutor(on_lost=lambda name, why: log.warning("%s: %s", name, why))
        self.tasks: set[asyncio.Task[None]] = set()
        self.socket: str | None = None     # the lab's socket it serves, which its jobs reach

    def executor(self, host: Host) -> ShellExecutor:
        return self.local if host.local else self.ssh

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Carry out the server's calls until it goes; the calls still running then
        are dropped (their jobs run on, and the next server watches them)."""
        lock = asyncio.Lock()

        async def send(report: Report) -> None:
            async with lock:
                writer.write(framing.encode(report.to_frame()))
                await writer.drain()
        try:
            while True:
                frame = await _read_frame(reader)
                if frame is None:
                    return
                try:
                    call = Call.from_frame(frame)
                except ProtocolError as exc:
                    log.warning("a call wq cannot read: %s", exc)
                    continue
                self._spawn(self.answer(call, send))
        finally:
            for task in list(self.tasks):
                task.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro`, keeping a reference until it ends (cancelled with the server)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def answer(self, call: Call, send: Send) -> None:
        try:
            result = await self.do(call, send)
            await send(Report(call.call, "done", result=result))
        except Refused as exc:
            log.warning("refused call %d (%s): %s", call.call, call.op, exc)
            await send(Report(call.call, "failed", error=f"{self.user}'s launcher refused: "
                                                        f"{exc}"))
        except HostUnreachable as exc:
            await send(Report(call.call, "failed", error=str(exc), unreachable=True))
        except (ExecutorError, ParseError, ValueError) as exc:
            await send(Report(call.call, "failed", error=str(exc)))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:            # a bug: say so, keep serving
            log.exception("call %d (%s) failed", call.call, call.op)
            await send(Report(call.call, "failed", error=f"internal launcher error: {exc}"))

    async def do(self, call: Call, send: Send) -> Any:
        if call.op not in OPS:
            raise Refused(f"unknown call {call.op!r}")
        if not SERVER_ID.fullmatch(call.server_id):
            raise Refused("a server id that is not one")
        if self.socket is not None and self.local.reach is None:
            self.local.reach = self.ssh.reach = Reach(call.server_id, self.socket)
        for ref in (call.host, *call.hosts):      # (they name output files: %h)
            try:
                units.name(ref.name)
            except ValueError:
                raise Refused(f"a host name that is not one: {units.shown(ref.name)}") from None
        host = call.host.host()
        if host.local:                # this machine, whatever the server calls it: one helper
            host = dataclasses.replace(host, name=LOCAL)
        executor = self.executor(host)
        match call.op:
            case "launch":
                job = self._job(call)
                known = {h.name: h.host() for h in call.hosts}
                assert job.placement is not None
                if not set(job.placement.hosts) <= set(known):
                    raise Refused("a placement on hosts the call does not describe")
                self._once(job, "launch")
                launch = onnode.launch_spec(job, known, call.server_id, call.grace)

                def started(info: Started) -> None:
                    self._spawn(send(Report(call.call, "started", pid=info.pid)))
                return dataclasses.asdict(await executor.launch(host, launch, started))
            case "watch":
                job = self._job(call)

                def running() -> None:
                    self._spawn(send(Report(call.call, "running")))
                return dataclasses.asdict(await executor.watch(
                    host, onnode.directory(call.server_id, job), running))
            case "follow":
                job = self._job(call)
                words = onnode.output_words(job)

                async def emit(stream: str, data: bytes) -> None:
                    await send(Report(call.call, "output", stream=stream,
                                      data=data.decode("utf-8", "surrogateescape")))
                await executor.follow(host, onnode.directory(call.server_id, job), *words,
                                      emit)
                return None
            case "cat":
                job = self._job(call)
                out_word, err_word = onnode.output_words(job)
                out, err = await executor.cat(host, onnode.directory(call.server_id, job),
                                              out_word, err_word,
                                              max(1, min(call.max_bytes, 16 << 20)))
                return [out.decode("utf-8", "surrogateescape"),
                        err.decode("utf-8", "surrogateescape")]
            case "kill":
                _instances([call.name])
                if call.first not in SIGNALS:
                    raise Refused(f"signal {call.first!r}")
                return await executor.kill(host, wrapper.job_dir(call.server_id, call.name),
                                           max(0.0, min(call.grace, 3600.0)), call.first)
            case "signal":
                _instances([call.name])
                try:
                    name = requirements.signal_name(call.first)
                except ValueError as exc:
                    raise Refused(str(exc)) from None
                if call.scope not in requirements.SCOPES:
                    raise Refused(f"signal scope {call.scope!r}")
                return await executor.signal(host, wrapper.job_dir(call.server_id, call.name),
                                             name, call.scope)
            case "status":
                return await executor.status(host, call.server_id, _instances(call.names))
            case "hook":
                job = self._job(call, placed=False)
                if not job.spec.on_end:
                    raise Refused(f"job {job.label} has no on_end command")
                self._once(job, "hook")
                code, said = await hooks.run(job.spec.on_end, job.spec.cwd,
                                             hooks.environment(dict(job.spec.env), call.facts))
                return [code, said]
            case _:                                                  # remove
                await executor.remove(host, call.server_id, _instances(call.names))
                return None

    def _job(self, call: Call, placed: bool = True) -> Job:
        """The call's job, if it is this user's and signed by them (and, `placed`,
        placed on the call's host)."""
        if call.job is None:
            raise Refused(f"a {call.op} call without its job")
        job = call.job.job()
        if job.user != self.user:
            raise Refused(f"job {job.label} is {job.user}'s, not {self.user}'s")
        if not signing.verify(self.key, call.job.spec, self.user):
            raise Refused(f"job {job.label}: its spec is not as {self.user} signed it")
        spec, signature = job.spec, job.spec.signature or ""
        if spec.seal is None:
            raise Refused(f"job {job.label}: its spec has no seal (signed by an old wq?)")
        if spec.again is not None and not signing.verify_again(
                self.key, signature, spec.again, spec.again_tag or ""):
            raise Refused(f"job {job.label}: {self.user} did not ask for this rerun")
        sealed = signing.sealed_at(spec.again or spec.seal)
        if sealed < time.time() - signing.MAX_AGE:
            raise Refused(f"job {job.label}: signed more than {signing.MAX_AGE // 86400} days "
                          f"ago; submit it again")
        if (job.task is None) != (spec.tasks is None) or (
                job.task is not None and spec.tasks is not None
                and not arrays.contains(spec.tasks, job.task)):
            raise Refused(f"job {job.label}: not a task {self.user} signed")
        if job.entry is not None and (job.entry_tag is None or job.task is None
                                      or not signing.verify_entry(
                                          self.key, signature, job.task,
                                          job.entry, job.entry_tag)):
            raise Refused(f"job {job.label}: its entry is not as {self.user} gave it")
        if spec.entries and job.entry is None:
            raise Refused(f"job {job.label}: its entry is missing")
        if placed and (job.placement is None or job.placement.first_host != call.host.name):
            raise Refused(f"job {job.label}: placed elsewhere than the call's host")
        return job

    def _once(self, job: Job, what: str) -> None:
        """`what` of this instance of the job has not been done before (the ledger)."""
        seal = job.spec.again or job.spec.seal or ""
        if not self.ledger.first(seal, job.task, job.instance, what):
            raise Refused(f"job {job.label}: its instance {job.instance} was given to this "
                          f"launcher before (a {what} is done once: a replay?)")

    async def close(self) -> None:
        await self.ssh.close()
        self.ledger.close()


def _instances(names: list[str]) -> list[str]:
    for name in names:
        if not INSTANCE.fullmatch(name):
            raise Refused(f"{name[:40]!r} is not an instance's name")
    return names


async def _read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        header = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed in the middle of a frame") from None
        return None
    body = await reader.readexactly(framing.length(header))
    return framing.decode(body)


def offer(socket_path: str | None) -> Client:
    """Connect to the lab's server (trusted as any client's) and offer this
    user's launcher; raises WqError (one line) when the server will not."""
    client = Client(socket_path, revive=False)
    try:
        if not client.by_launcher:
            raise WqError("this server runs your jobs itself: you need no launcher")
        if client.launcher_up:
            raise AlreadyServing(f"a launcher of {client.user}'s already serves the wq "
                                 f"server at {client.path}")
        client.request(m.Launcher())
    except BaseException:
        client.close()
        raise
    return client


async def run(socket_path: str | None, once: bool = False, ready: int | None = None) -> None:
    """Serve the lab's server; when it goes, wait for it to come back (up to
    GIVE_UP seconds), unless `once`. Once it serves (or finds another launcher
    of its user's serving, or waits for a server that is not running), it says
    so on the pipe `ready`, if given (detach)."""
    key = signing.load_key()
    umask = os.umask(0o077)
    os.umask(umask)
    launcher = Launcher(pwd.getpwuid(os.getuid()).pw_name, key, Ledger(ledger.default_path()),
                        umask)
    waited = 0.0
    tries = 0
    try:
        while True:
            try:
                client = await asyncio.to_thread(offer, socket_path)
            except AlreadyServing:
                _say_ready(ready, SERVING)
                raise
            except WqError as exc:
                if once or waited >= GIVE_UP:
                    raise
                if not isinstance(exc, (ServerNotRunning, ServerLost)) and ready is not None:
                    raise           # (its starter just reached that server: say why there)
                if not tries:
                    log.warning("%s; trying again (for up to %g s)", exc, GIVE_UP - waited)
                _say_ready(ready, WAITING)
                ready = None
                delay = RETRY[min(tries, len(RETRY) - 1)]
                tries += 1
                waited += delay
                await asyncio.sleep(delay)
                continue
            tries, waited = 0, 0.0
            _say_ready(ready, SERVING)
            ready = None
            log.info("serving %s's jobs for the wq server at %s", client.user, client.path)
            launcher.socket = client.path
            sock = client.sock
            sock.settimeout(None)
            sock.setblocking(False)
            reader, writer = await asyncio.open_unix_connection(sock=sock)
            try:
                await launcher.serve(reader, writer)
            except (ConnectionError, ProtocolError, asyncio.IncompleteReadError) as exc:
                log.warning("lost the server: %s", exc)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            if once:
                return
            log.info("the server went away; waiting for it to come back")
    finally:
        await launcher.close()


def ready_pipe() -> int | None:
    """The pipe whoever started this launcher (detach) waits on, taken out of
    the environment that its jobs and hooks inherit."""
    fd = os.environ.pop(READY, "")
    return int(fd) if fd.isdigit() else None


def _say_ready(fd: int | None, word: bytes) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, word)
            os.close(fd)
