"""wq's Python API: `import wq; c = wq.Client()`.

    c = wq.Client()
    job = c.submit("./simulate --seed 1", cores=4, time="2h")
    jobs = c.submit_many([{"command": f"./run {i}"} for i in range(1000)])
    c.wait(jobs)                         # {id: Status}, once they all ended
    print(c.log(job).stdout)

Every call is one request to the server (submit_many: one submission, in
requests of MANY_CHUNK jobs, each environment sent once per request).
Results are the protocol's typed rows (`JobRow`, `StatusRow`, `RemoveRow`,
`LogReply`); errors are `wq.errors` exceptions: `ServerError` for a refusal
(its message says why), `ServerNotRunning`/`ServerLost` without a server,
`ParseError` for bad requirements. docs/python.md has the whole of it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shlex
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from typing import Any

from wq import codec
from wq.client import Client as Connection
from wq.errors import ParseError, TooLarge, UsageError
from wq.model import After, JobSpec, Mode, Requirements
from wq.parsing import deps, requirements as reqs
from wq.parsing import units
from wq.protocol import messages as m
from wq.protocol.replies import (AcceptedMany, JobRow, Listing, LogReply, Removed, RemoveRow,
                                 StatusReply, StatusRow)
from wq.protocol.rows import Accepted

__all__ = ["Client", "JobRow", "StatusRow", "RemoveRow", "LogReply"]

LIVE = ("waiting", "running")
MANY_CHUNK = 5000           # separate jobs per request of a submit_many (halved if too big)


class Client:
    """A connection to your wq server (or your lab's), opened for each call."""

    def __init__(self, socket: str | None = None, *, reconnect: float | None = None) -> None:
        """`socket`: the server's socket (default: as the `wq` command finds it);
        `reconnect`: how long a call waits for a restarting server (default
        WQ_RECONNECT, 60 s)."""
        self.socket, self.reconnect = socket, reconnect
        self._last_env: tuple[dict[str, str], codec.Env] | None = None

    def _connect(self) -> Connection:
        return Connection(self.socket, reconnect=self.reconnect)

    # -- submitting -----------------------------------------------------------------------

    def spec(self, command: str | Sequence[str], *, cwd: str | None = None,
             env: Mapping[str, str] | None = None,
             requirements: str | Mapping[str, Any] | None = None, cores: int | None = None,
             time: str | float | None = None, name: str | None = None,
             after: str | Sequence[str | int] = (), stdout: str | None = None,
             stderr: str | None = None, retries: int | None = None,
             session: str | None = None, on_end: str | None = None) -> JobSpec:
        """The job that submit() would send (checked here: bad requirements raise
        ParseError). `command`: a shell command line, or an argv list (quoted for
        you). `env`: the job's environment (default: this process's).
        `requirements`: a -r string ("mode: bycore1; N: 4") or a mapping of
        job-file keys. `cores`: N cores on one host. `time`: a limit (90s, 2h,
        HH:MM:SS, or seconds). `after`: dependencies ("afterok:12", [12, 13]).
        `on_end`: a shell command run as you once the job has ended."""
        if not isinstance(command, str):
            command = shlex.join(command)
        if not command.strip():
            raise UsageError("the command is empty")
        req = _requirements(requirements)
        if cores is not None:
            req = dataclasses.replace(req, mode=Mode.BYCORE1, n=units.positive_int(cores))
        if time is not None:
            seconds = float(time) if isinstance(time, (int, float)) else units.duration(time)
            req = dataclasses.replace(req, time_limit=seconds)
        if name is not None:
            req = dataclasses.replace(req, job_name=name)
        if retries is not None:
            req = dataclasses.replace(req, retries=retries)
        return JobSpec(command=command, cwd=os.path.abspath(cwd or os.getcwd()),
                       env=self._environment(os.environ if env is None else env),
                       requirements=req, stdout=stdout, stderr=stderr,
                       after=_after(after), session=session, on_end=on_end)

    def _environment(self, env: Mapping[str, str]) -> codec.Env:
        """A job's environment as a spec holds it; one equal to the last one asked
        for is the same (sorted once, and shared, over a loop of spec() calls)."""
        last = self._last_env
        if last is not None and last[0] == env:
            return last[1]
        made = dict(env)
        self._last_env = (made, tuple(sorted(made.items())))
        return self._last_env[1]

    def submit(self, command: str | Sequence[str], *, array: str | None = None,
               throttle: int | None = None, **options: Any) -> str:
        """Submit one job (or, with `array` "1-100[:step][%N]", an array); its id.
        The options are spec()'s."""
        spec = self.spec(command, **options)
        shape: dict[str, Any] = {}
        if array is not None:
            from wq.parsing.arrays import parse_range

            tasks = parse_range(array)
            shape = {"array": [tasks.first, tasks.last, tasks.step],
                     "throttle": throttle or tasks.throttle}
        with self._connect() as conn:
            frame, shape = self._signed(conn, codec.spec_to_dict(spec), shape)
            return conn.ask(m.Submit(spec=frame, **shape), Accepted).id

    def submit_many(self, jobs: Iterable[Mapping[str, Any] | JobSpec]) -> list[str]:
        """Many separate jobs (up to a million) in one submission: each a mapping
        of submit()'s arguments (`command` and the options) or a spec(); their
        ids, in order. All are accepted, or none (the error names the first
        refused). `jobs` is read as it is sent (a generator need not fit in
        memory twice)."""
        total = len(jobs) if isinstance(jobs, Sized) else None
        given = iter(jobs)
        pending = self._specs(given, MANY_CHUNK + 1)
        if not pending:
            raise UsageError("no jobs given")
        with self._connect() as conn:
            if conn.by_launcher:
                from wq.submission import ensure_launcher

                ensure_launcher(conn, self.socket)
            size = MANY_CHUNK
            while True:
                pending += self._specs(given, size + 1 - len(pending))
                chunk, rest = pending[:size], pending[size:]
                try:
                    reply = conn.ask(_many(chunk, conn, more=bool(rest), total=total),
                                     AcceptedMany, timeout=None)
                except TooLarge:                # (nothing was sent)
                    if size == 1:
                        raise
                    size //= 2
                    continue
                if not rest:
                    return reply.ids
                pending = rest

    def _specs(self, given: Iterator[Mapping[str, Any] | JobSpec], count: int) -> list[JobSpec]:
        """The next `count` jobs of a submit_many, as specs (fewer at its end)."""
        return [j if isinstance(j, JobSpec) else self.spec(**j)
                for j in itertools.islice(given, max(0, count))]

    def _signed(self, conn: Connection, frame: dict[str, Any], shape: dict[str, Any]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        if not conn.by_launcher:
            return frame, shape
        from wq.submission import ensure_launcher, signed

        ensure_launcher(conn, self.socket)
        return signed(frame, shape, conn.user)

    # -- reading ----------------------------------------------------------------------------

    def jobs(self, ids: Sequence[str | int] | None = None, *, finished: bool = False,
             user: str | None = None, states: Sequence[str] | None = None) -> list[JobRow]:
        """Jobs as `wq ls -e` has them (a row per array task): those named (12,
        12.3, 3-9, last), else the waiting and running ones, and with `finished`
        the most recent that ended too."""
        request = m.ListJobs(select=None if ids is None else [str(i) for i in ids],
                             all=finished, user=user,
                             states=None if states is None else list(states),
                             full=True, expand=True, page=1000)
        with self._connect() as conn:
            return [row for page in conn.paged(request, Listing) for row in page.jobs]

    def status(self, ids: Sequence[str | int]) -> dict[str, StatusRow]:
        """Each job's state (waiting, running, done, failed, cancelled, lost,
        timeout, or unknown), in one request; an array's is running while any
        task is, then done or failed."""
        with self._connect() as conn:
            rows = conn.ask(m.Status(select=[str(i) for i in ids]), StatusReply).jobs
        return {row.id: row for row in rows}

    def wait(self, ids: Sequence[str | int], *, timeout: float | None = None,
             any: bool = False, poll: float = 1.0) -> dict[str, StatusRow]:
        """Block until the jobs have ended (with `any`: one of them); their
        states. Raises TimeoutError after `timeout` seconds. Rides through a
        server restart."""
        from wq.errors import ServerLost

        names = [str(i) for i in ids]
        deadline = None if timeout is None else time.monotonic() + timeout
        ended: dict[str, StatusRow] = {}
        pause = 0.05
        while True:
            left = [i for i in names if i not in ended]
            try:
                now = self.status(left)
            except ServerLost:
                now = {}
            ended.update((i, row) for i, row in now.items() if row.state not in LIVE)
            if len(ended) == len(names) or (any and ended):
                return ended
            if deadline is not None and time.monotonic() + pause > deadline:
                raise TimeoutError(f"{len(names) - len(ended)} of {len(names)} jobs had "
                                   f"not ended after {timeout:g}s")
            time.sleep(pause)
            pause = min(poll, pause * 1.5)

    def log(self, job: str | int, *, instance: int | None = None,
            max_bytes: int = 4 << 20) -> LogReply:
        """A job's output (`.stdout`, `.stderr`, the last `max_bytes` of each)."""
        with self._connect() as conn:
            return conn.ask(m.Log(id=str(job), max_bytes=max_bytes, instance=instance),
                            LogReply, timeout=None)

    # -- changing -----------------------------------------------------------------------------

    def cancel(self, ids: Sequence[str | int]) -> list[RemoveRow]:
        """Cancel jobs (waiting ones leave the queue, running ones are killed);
        what became of each."""
        with self._connect() as conn:
            return conn.ask(m.Remove(select=[str(i) for i in ids]), Removed,
                            timeout=None).results


def _many(specs: Sequence[JobSpec], conn: Connection, more: bool, total: int | None
          ) -> m.SubmitMany:
    """A request of a submit_many: its specs naming their environments by index
    in the request's `envs`, each once (and, a lab member's, signed whole)."""
    distinct = list(dict.fromkeys(spec.env for spec in specs))
    envs = [dict(env) for env in distinct]
    index = {env: number for number, env in enumerate(distinct)}
    frames = [codec.spec_to_dict(spec, env=False) for spec in specs]
    if conn.by_launcher:
        from wq.submission import sign_all

        frames = sign_all(frames, [envs[index[spec.env]] for spec in specs], conn.user)
    return m.SubmitMany(specs=[{**frame, "env": index[spec.env]}
                               for spec, frame in zip(specs, frames, strict=True)],
                        envs=envs, more=more, total=total)


def _requirements(given: str | Mapping[str, Any] | None) -> Requirements:
    if given is None:
        return Requirements()
    if isinstance(given, str):
        pairs = ((k, v, None) for k, v in reqs.split_string(given))
    else:
        pairs = ((str(k), v, None) for k, v in given.items())
    return reqs.build(pairs, source="requirements")


def _after(given: str | Sequence[str | int]) -> tuple[After, ...]:
    if isinstance(given, str):
        return deps.parse(given, source="after") if given.strip() else ()
    if not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in given):
        raise ParseError("expected job ids or dependency strings", source="after")
    return deps.parse_ids([str(i) for i in given], source="after")
