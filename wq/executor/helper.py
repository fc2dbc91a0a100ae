"""The per-host helper, server side: one long-lived channel carries every job
operation on a host, so a launch costs neither an sshd fork nor a login shell.

The channel's command is stage one, a one-line `python3 -c` that any login
shell can run: it reads the helper's text (node/helper.py, standard library
only) from stdin and runs it. From then on stdin carries JSON requests, one per
line, and stdout the replies, each tagged with the id of the operation it
belongs to, a line (a JSON array) per turn of the helper's loop; `HelperProc`
turns one operation back into a `Proc`, so the executor reads a run through
the helper exactly as it reads `sh -s`.

The cost is per batch, not per task: the launches of one turn of the event loop
go out as one request (what they share said once), a turn's replies come back
as one line, and a job that ends within the helper's START_HOLD is told in one
reply, its start with its end (Outcome.pid).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wq.errors import ExecutorError, HostUnreachable
from wq.executor import contract, wrapper
from wq.executor.base import Proc, Reader, ShellExecutor
from wq.executor.outcome import Outcome, Started
from wq.model import Host

log = logging.getLogger(__name__)

#: how long a helper may take to answer its first line (python3's start-up
#: plus the login shell's)
HANDSHAKE_TIMEOUT = 30.0
#: after a helper failed to start on a host, use plain channels there this long
HELPER_RETRY = 600.0
#: bytes of the helper's replies read at a time
PUMP_READ = 1 << 16


class HelperUnavailable(ExecutorError):
    """The helper could not start on a host (no python3, a broken one, ...)."""


@functools.cache
def source() -> bytes:
    """The helper's text as shipped: node/helper.py with the launch contract filled in."""
    text = resources.files("wq.executor").joinpath("node", "helper.py").read_text()
    scripts = {"run": wrapper.wrapper_text(),
               "timer": wrapper.node_script("timer.sh", "killgroup.sh", "signal.sh")}
    # a JSON string is a Python string literal too (ASCII, the same escapes)
    literal = json.dumps(json.dumps(scripts))[1:-1]
    return contract.substitute(text).replace("@SCRIPTS@", literal).encode()


def bootstrap_code(length: int) -> str:
    """Stage one: read exactly `length` bytes of stdin, then run them."""
    loop = f"while len(b)<{length}:b+=os.read(0,{length}-len(b)) or sys.exit(3)"
    return f"import os,sys;b=b'';exec('{loop}');exec(compile(b,'wq-helper','exec'))"


def bootstrap_command(length: int) -> str:
    """Stage one as a command line: in double quotes without `$`, `!` or
    backquotes, so sh, bash, zsh, csh and fish all pass it through untouched;
    -E -S: no PYTHON* variables, no site."""
    return f'python3 -E -S -c "{bootstrap_code(length)}"'


def _line(request: dict[str, Any]) -> bytes:
    return json.dumps(request, separators=(",", ":")).encode()


def as_one(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Launch requests as one: alone as it is; many (an array's tasks placed in one
    pass) as what they all share, said once (the command, the submitter's
    environment, ...), and what each adds (its id, name, wq's own variables)."""
    if len(requests) == 1:
        return requests[0]
    first, rest = requests[0], requests[1:]
    common = {key: value for key, value in first.items() if key != "op" and all(
        key in other and other[key] == value for other in rest)}
    each = [{key: value for key, value in request.items()
             if key not in common and key != "op"} for request in requests]
    return {"op": "launches", "common": common, "each": each}


class HelperProc:
    """One operation on the helper, seen as a Proc: stdout, stderr, wait()."""

    def __init__(self, link: HelperLink, rid: int) -> None:
        self._link, self.id = link, rid
        self._stdout, self._stderr = asyncio.StreamReader(), asyncio.StreamReader()
        self._exit: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    @property
    def stdout(self) -> Reader:
        return self._stdout

    @property
    def stderr(self) -> Reader:
        return self._stderr

    async def wait(self) -> int | None:
        return await asyncio.shield(self._exit)

    def terminate(self) -> None:
        if not self._exit.done():
            self._link.send({"op": "stop", "id": self.id})

    def _reply(self, message: dict[str, Any]) -> None:
        if "out" in message:
            self._stdout.feed_data(str(message["out"]).encode("latin-1"))
        if "err" in message:
            self._stderr.feed_data(str(message["err"]).encode("latin-1"))
        if "exit" in message:
            code = message["exit"]
            self._end(code if isinstance(code, int) else None)

    def _end(self, code: int | None) -> None:
        """The operation ended; None: the helper (or its connection) went away."""
        if not self._exit.done():
            self._stdout.feed_eof()
            self._stderr.feed_eof()
            self._exit.set_result(code)


class HelperLaunch:
    """One job instance started by the helper: its replies are structured (see
    node/helper.py), so a launch reads no lines; `outcome` resolves once it ended."""

    def __init__(self, link: HelperLink, rid: int, on_started: Callable[[Started], None]
                 ) -> None:
        self._link, self.id, self._on_started = link, rid, on_started
        self.outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

    def _reply(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            if not self.outcome.done():
                self.outcome.set_result(_outcome(self._link.name, message))
            return
        started = message.get("started")
        if isinstance(started, list) and len(started) == 3:
            pid, start, boot = started
            self._on_started(Started(int(pid), str(start), str(boot)))

    def _end(self, code: int | None) -> None:
        """The helper (or its connection) went away: the node tells the rest."""
        if not self.outcome.done():
            self.outcome.set_result(Outcome(lost=True))


def _outcome(host: str, message: dict[str, Any]) -> Outcome:
    code = message.get("exited")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    started = message.get("started")        # its start, told with its end
    pid = started[0] if isinstance(started, list) and started and \
        type(started[0]) is int else None
    error = message.get("error")
    if isinstance(error, str):
        return Outcome(exit_code=code, error=error, pid=pid)
    if code is None:
        return Outcome(error=f"the launch on {host} failed: the wrapper ended without "
                             "an exit status", pid=pid)
    return Outcome(exit_code=code, timed_out=message.get("timeout") is True, pid=pid)


class HelperLink:
    """A running helper: sends requests, routes replies to their operations.
    When it goes, every operation still open ends as lost (wait() is None)."""

    def __init__(self, name: str, write: Callable[[bytes], None], stdout: Reader,
                 stderr: Reader, close: Callable[[], None]) -> None:
        self.name = name
        self._write, self._stdout, self._stderr, self._close = write, stdout, stderr, close
        self._ops: dict[int, HelperProc | HelperLaunch] = {}
        self._ids = itertools.count(1)
        self._outbox: list[bytes] = []
        self._launches: list[dict[str, Any]] = []       # this turn's, sent as one
        self._tasks: list[asyncio.Task[None]] = []
        self.alive = False
        self.closed = asyncio.Event()

    async def start(self) -> dict[str, Any]:
        """Send the helper's text and wait for its greeting."""
        text = source()
        try:
            self._write(text)
        except OSError:                 # the connection closed under it: nothing ran
            self._close()
            raise HostUnreachable(f"{self.name}: the connection closed while the helper "
                                  "was starting") from None
        try:
            line = await asyncio.wait_for(self._stdout.readline(), HANDSHAKE_TIMEOUT)
        except asyncio.TimeoutError:
            line = b""
        try:
            hello = json.loads(line) if line else None
        except ValueError:
            hello = None
        if not isinstance(hello, dict) or "ready" not in hello:
            self._close()
            why = (await self._stderr.read()).decode(errors="replace").strip()
            why = why.splitlines()[-1] if why else (line.decode(errors="replace").strip()
                                                    or "no answer")
            raise HelperUnavailable(f"{self.name}: the helper did not start: {why}")
        self.alive = True
        self._tasks = [asyncio.ensure_future(self._pump()),
                       asyncio.ensure_future(self._complain())]
        return hello

    def open(self, request: dict[str, Any]) -> HelperProc:
        """Start an operation (`run` or `launch`)."""
        proc = HelperProc(self, next(self._ids))
        if not self.alive:
            proc._end(None)
            return proc
        self._ops[proc.id] = proc
        self.send({**request, "id": proc.id})
        return proc

    async def launch(self, request: dict[str, Any], on_started: Callable[[Started], None]
                     ) -> Outcome:
        """Start a job instance (wrapper.helper_request) and wait until it ended,
        or the helper went (lost: the node then tells what became of it). The
        launches of one turn go out as one request (`_flush`)."""
        op = HelperLaunch(self, next(self._ids), on_started)
        if not self.alive:
            return Outcome(lost=True)
        self._ops[op.id] = op
        if not self._outbox and not self._launches:
            asyncio.get_running_loop().call_soon(self._flush)
        self._launches.append({**request, "id": op.id})
        try:
            return await asyncio.shield(op.outcome)
        finally:
            if not op.outcome.done():          # cancelled: the job runs on regardless
                self._ops.pop(op.id, None)

    @contextlib.asynccontextmanager
    async def running(self, script: str) -> AsyncIterator[HelperProc]:
        """`sh -s` with `script` on the node, stopped (TERM) once the caller is done."""
        proc = self.open({"op": "run", "script": script})
        try:
            yield proc
        finally:
            proc.terminate()

    def send(self, request: dict[str, Any]) -> None:
        """Queue a request; the requests of one turn of the event loop go out in
        one write (one ssh packet for a burst of launches)."""
        if not self.alive:
            return
        if not self._outbox and not self._launches:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(_line(request))

    def _flush(self) -> None:
        """Write what was queued; a channel found closed ends the link (every open
        operation then reads as lost, and is checked on the node)."""
        if self._launches:
            self._outbox.append(_line(as_one(self._launches)))
            self._launches = []
        data, self._outbox = b"\n".join(self._outbox) + b"\n", []
        if not self.alive:
            return
        try:
            self._write(data)
        except OSError:                 # the connection went before the pump noticed
            self._gone()

    async def _pump(self) -> None:
        """Read the helper's replies as they come, many lines at a time."""
        rest = b""
        try:
            while data := await self._stdout.read(PUMP_READ):
                *lines, rest = (rest + data).split(b"\n")
                for line in lines:
                    self._route(line)
        finally:
            self._gone()

    def _route(self, line: bytes) -> None:
        """Hand each reply of one line (a JSON array) to its operation."""
        try:
            replies = json.loads(line)
        except ValueError:
            replies = None
        if not isinstance(replies, list):
            log.warning("%s: the helper said something odd: %.200r", self.name, line)
            return
        for message in replies:
            try:
                proc = self._ops.get(message["id"])
            except (KeyError, TypeError):
                log.warning("%s: the helper said something odd: %.200r", self.name, message)
                continue
            if proc is not None:
                proc._reply(message)
                if "exit" in message or "exited" in message:
                    del self._ops[proc.id]

    async def _complain(self) -> None:
        """Whatever the helper itself writes to stderr is a bug worth logging."""
        while line := await self._stderr.readline():
            log.warning("%s: helper: %s", self.name, line.decode(errors="replace").rstrip())

    def _gone(self) -> None:
        if self.alive:
            log.info("%s: the helper's channel closed; open operations are checked "
                     "on the node", self.name)
        self.alive = False
        for proc in self._ops.values():
            proc._end(None)
        self._ops.clear()
        self._close()
        self.closed.set()

    async def close(self) -> None:
        self._close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._gone()


class Helpers:
    """Each host's running helper, started by `start` when first needed; where
    it cannot start, None (plain channels) for HELPER_RETRY."""

    def __init__(self, start: Callable[[Host], Awaitable[HelperLink]]) -> None:
        self._start = start
        self.links: dict[str, HelperLink] = {}
        self._failed: dict[str, float] = {}           # host -> when its helper failed
        self._starting: dict[str, asyncio.Lock] = {}

    async def get(self, host: Host) -> HelperLink | None:
        if not host.ssh.helper:
            return None
        link = self.links.get(host.name)
        if link is not None and link.alive:
            return link
        failed = self._failed.get(host.name)
        if failed is not None and time.monotonic() - failed < HELPER_RETRY:
            return None
        async with self._starting.setdefault(host.name, asyncio.Lock()):
            link = self.links.get(host.name)
            if link is not None and link.alive:
                return link
            try:
                link = await self._start(host)
            except HelperUnavailable as exc:
                log.warning("%s; using a channel per job there", exc)
                self._failed[host.name] = time.monotonic()
                return None
            self._failed.pop(host.name, None)
            self.links[host.name] = link
            return link

    def allow_retry(self, host: Host) -> None:
        self._failed.pop(host.name, None)

    async def close(self) -> None:
        for link in list(self.links.values()):
            await link.close()


@dataclass(frozen=True, slots=True)
class Reach:
    """Where jobs reach wq from their node: `socket`, this machine's (the server's,
    or a launcher's lab socket), made to appear on every host with a helper as
    BASE/wq-HOST.sock (BASE: $HOME/.cache/wq/SERVER_ID, the jobs' directories'
    parent; HOST its name, as homes may be shared), where the runner finds it
    and sets WQ_SOCKET (node/wrapper.sh)."""
    server_id: str
    socket: str


class HelperExecutor(ShellExecutor):
    """Each host's operations through its helper where it runs, else through
    `_plain` (`sh -s` by a transport of the subclass's)."""

    helpers: Helpers
    reach: Reach | None = None

    def _plain(self, host: Host, script: str) -> contextlib.AbstractAsyncContextManager[Proc]:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def _run(self, host: Host, script: str) -> AsyncIterator[Proc]:
        link = await self.helpers.get(host)
        if link is None:
            async with self._plain(host, script) as plain:
                yield plain
            return
        async with link.running(script) as proc:
            yield proc

    async def launch(self, host: Host, job: wrapper.Launch,
                     on_started: Callable[[Started], None]) -> Outcome:
        link = await self.helpers.get(host)
        if link is None:
            return await super().launch(host, job, on_started)
        return await link.launch(wrapper.helper_request(job), on_started)

    def allow_retry(self, host: Host) -> None:
        self.helpers.allow_retry(host)
