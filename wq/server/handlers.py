"""Request handlers: one `on_<request>` per message type; each returns its typed
reply (wq.protocol.replies), or for a paged one the rows to page.

Handlers validate what the client sent (it is never trusted), commit through
the store, and feed the engine through the runner. A WqError becomes an error reply.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import heapq
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wq import codec, scheduler
from wq.errors import ExecutorError, HostUnreachable, ParseError, WqError
from wq.executor import wrapper
from wq.model import (Host, HostState, Job, JobId, JobSpec, JobState, Limits, Requirements,
                      priority_name)
from wq.parsing import arrays, requirements, selectors
from wq.parsing.units import format_duration
from wq.protocol import messages as m
from wq.scheduler.deps import Key, Tally
from wq.protocol.replies import (NO_STEP, Attached, Cleaned, Done, EventRow, HostRow,
                                 InstanceRow, JobInfo,
                                 JobRow, LicenseRow, LimitReply, Listing, LogReply, NodeReply,
                                 Refreshed, Removed, RemoveRow, Signalled,
                                 Changed, ChangeRow, SignalRow, Signed,
                                 StatReply, StatusReply, StatusRow, UserRow, WhyHost, WhyReply)
from wq.server import effects as fx
from wq.server import rights
from wq.server import onnode, targets
from wq.server.lab import Members
from wq.server.ops import Ops
from wq.server.runner import Runner, Runs, long_lived, pause
from wq.server.counting import decrement
from wq.server.watchers import Watcher
from wq.store import Store

MAX_LISTED_FINISHED = 1000
MAX_SINCE = 1_000_000       # finished jobs listed with `since` (sacct over a workflow)
ACCEPT_CHUNK = 5_000        # an array's tasks written, and given to the engine, per step
MAX_TASKS = 1_000_000
MAX_STATUS = 100_000
MAX_UNPAGED = 10_000        # rows of a listing in one reply, not paged
LIST_CHUNK = 250            # rows of such a listing built per step
MAX_SELECT = 1_000          # selectors (ids, ranges) in one request
MAX_SIGNALLED = 10_000      # running jobs one `wq signal` reaches
MAX_REQUEUED = 100_000      # jobs (ended, or running) one `wq requeue` reaches
MAX_STEP_TASKS = 4096       # tasks of one step on one host
MAX_MANY = 100_000          # separate jobs in one SubmitMany request
CHECK_CHUNK = 1_000         # separate jobs checked per step
WRITE_CHUNK = 2_000         # separate jobs written, and given to the engine, per step (~50 ms)
RERUN_STATES = {JobState.FAILED, JobState.LOST, JobState.TIMEOUT, JobState.CANCELLED}
_STATUS_ID = re.compile(r"([0-9]{1,18})(?:[._]([0-9]{1,9}))?")     # 12, 12.3, 12_3


@dataclass
class Taken:
    """The separate jobs of one submit_many taken so far: its requests come one
    by one on a connection (Handlers.take_many, accept_many, release_many)."""
    user: str
    specs: list[JobSpec] = field(default_factory=list)
    counted: bool = False              # it counts as one of the user's submissions


class Handlers:
    def __init__(self, store: Store, runner: Runner, reload: Callable[[], Refreshed],
                 members: Members | None = None) -> None:
        self.store = store
        self.runner = runner
        self.engine = runner.engine
        self.reload = reload
        self.members = members or Members(None)
        self.submitting: Counter[str] = Counter()   # submissions being accepted, per user
        self.staged: Counter[str] = Counter()       # jobs of submissions not yet accepted

    def allowed(self, req: m.Request, user: str) -> None:
        """Refuse a request that is for the lab's admins or its operator alone."""
        members = self.members
        rights.request(req.type, user, members.is_admin(user), members.operator,
                       self._admins())

    def _admins(self) -> list[str]:
        lab = self.members.lab
        return sorted({self.members.operator, *(lab.admins if lab else ())})

    def _may(self, request: str, job: Job, user: str) -> None:
        """`request` to `job`, if its rule (rights.RULES) lets `user` act on it."""
        rights.job(request, job.label, user, job.user, self.members.is_admin(user))

    async def submit(self, req: m.Submit, user: str) -> tuple[Job, int, Watcher | None]:
        """A job, or an array's tasks: its first job and how many. A big array is
        written and handed to the engine a chunk at a time, letting other work
        through in between; it counts as accepted (and is answered) once all of it
        is in the store."""
        try:
            spec = codec.spec_from_dict(req.spec)
        except ParseError as exc:
            raise WqError(f"bad job: {exc}") from None
        return await self._submit(req, user, spec, _tasks(req))

    async def rerun(self, req: m.Rerun, user: str) -> tuple[Job, int, Watcher | None]:
        """Submit again what of a job (or of an array's tasks) ended in `states`
        (default: failed, lost, timeout, cancelled): the same spec, the same task
        numbers and entries, as a new job or array."""
        states = _states(req.states) or RERUN_STATES
        if any(not s.final for s in states):
            raise WqError("--state: only the states of jobs that ended (failed, lost, timeout, "
                          "cancelled, done)")
        found = self._one(req.id, user, req.type)
        again = [j for j in found if j.state in states]
        if not again:
            words = ", ".join(sorted(s.value for s in states))
            raise WqError(f"{req.id} has nothing that ended {words}")
        spec, first = again[0].spec, again[0]
        if self.members.by_launcher(user) and not spec.interactive:
            if req.again is None or req.again_tag is None:
                raise WqError("refused: a lab member's rerun must be tagged by their wq "
                              "client (this client is too old, or not wq's)")
            try:
                spec = codec.spec_from_dict({**codec.spec_to_dict(spec), "again": req.again,
                                             "again_tag": req.again_tag})
            except ParseError as exc:
                raise WqError(f"bad rerun: {exc}") from None
        frame = codec.spec_to_dict(spec)
        if first.task is None:
            return await self._submit(m.Submit(spec=frame, attach=req.attach), user, spec, None)
        entries = None if all(j.entry is None for j in again) else [j.entry or "" for j in again]
        tags = None if entries is None or any(j.entry_tag is None for j in again) else \
            [j.entry_tag or "" for j in again]
        submit = m.Submit(spec=frame, attach=req.attach, entries=entries, entry_tags=tags,
                          throttle=self.store.throttle_of(first.number))
        return await self._submit(submit, user, spec, [(j.task or 0, j.entry) for j in again])

    def _one(self, select: str, user: str, request: str) -> list[Job]:
        """The jobs of the one job or array `select` names, if `request` to it is
        `user`'s to make."""
        if len(list(itertools.islice(self._stream([select], user, heads=True), 2))) > 1:
            raise WqError(f"{select} names several jobs; name one job or array at a time")
        found = self.find([select], user)
        if not found:
            raise WqError(f"no job {select}")
        self._may(request, found[0], user)
        return found

    def on_signature(self, req: m.Signature, user: str) -> Signed:
        return Signed(self._one(req.id, user, req.type)[0].spec.signature)

    async def _submit(self, req: m.Submit, user: str, spec: JobSpec,
                      tasks: list[tuple[int, str | None]] | None
                      ) -> tuple[Job, int, Watcher | None]:
        adding = 1 if tasks is None else len(tasks)
        self._admit(spec, tasks, req.entry_tags, user)
        self._within_bounds(user, adding)
        self.submitting[user] += 1
        self.staged[user] += adding          # (counted while a big array goes in, in steps)
        try:
            return await self._accept(req, user, spec, tasks)
        finally:
            decrement(self.submitting, user)
            decrement(self.staged, user, adding)

    async def take_many(self, taken: Taken, req: m.SubmitMany) -> None:
        """Check the separate jobs of one request of a submit_many and add them to
        `taken` (those of its requests so far). A refused job refuses them all,
        naming it; nothing is written before the last request (accept_many).
        Until then they count, for a lab's bounds, as a submission being
        accepted and as waiting jobs; release_many gives that back."""
        user, count = taken.user, len(taken.specs) + len(req.specs)
        if not req.specs:
            raise WqError("no jobs given")
        if len(req.specs) > MAX_MANY:
            raise WqError(f"at most {MAX_MANY} jobs in one request ({len(req.specs)} given)")
        if count > MAX_TASKS:
            raise WqError(f"at most {MAX_TASKS} jobs in one submission")
        if not taken.counted:
            self._within_bounds(user, count)
            self.submitting[user] += 1
            taken.counted = True
        else:
            self._within_bounds(user, len(req.specs), submitting=False)
        total = req.total or (None if req.more else count)
        try:
            envs = [codec.env_from_dict(env) for env in req.envs or ()]
        except ParseError as exc:
            raise WqError(f"bad job: {exc}") from None
        for offset, frame in enumerate(req.specs):
            if offset and not offset % CHECK_CHUNK:
                await pause()
            try:
                spec = codec.spec_from_dict(frame, env=_env_of(frame, envs))
                if spec.interactive:
                    raise WqError("an interactive job is submitted alone (wq sub)")
                self._admit(spec, None, None, user)
            except (ParseError, WqError) as exc:
                which = f"job {len(taken.specs) + 1}" + (f" of {total}" if total else "")
                raise WqError(f"{which}: {exc}") from None
            taken.specs.append(spec)
            self.staged[user] += 1
        long_lived()                # (kept until accepted: out of the collector's sweeps)

    async def accept_many(self, taken: Taken) -> list[str]:
        """Separate jobs, all checked (take_many): written and handed to the engine a
        chunk at a time, letting other work through in between; their ids. They
        count as accepted once all are in the store: until then they are a batch
        the store forgets if the server stops (as an array being accepted)."""
        user, specs = taken.user, taken.specs
        now = time.time()
        batch = self.store.open_batch() if len(specs) > WRITE_CHUNK else None
        try:
            jobs: list[Job] = []
            for start in range(0, len(specs), WRITE_CHUNK):
                if start:
                    await pause()
                jobs += self.store.add_jobs(user, specs[start:start + WRITE_CHUNK], now, batch)
                long_lived()
            if batch is not None:
                self.store.close_batch(batch)
        except Exception:          # (cancelled at shutdown: forgotten at the next start)
            if batch is not None:
                self.store.forget_batches(batch)
            raise
        finally:
            self.release_many(taken)
        ids: list[str] = []
        for start in range(0, len(jobs), WRITE_CHUNK):
            if start:
                await pause()
            chunk = tuple(jobs[start:start + WRITE_CHUNK])
            self.runner.feed(fx.Submitted(chunk, tallies=self._tallies(chunk)))
            ids += (job.label for job in chunk)
        return ids

    def release_many(self, taken: Taken) -> None:
        """A submit_many is accepted, refused or abandoned: what it held of its
        user's bounds is theirs again (once)."""
        user = taken.user
        decrement(self.staged, user, len(taken.specs))
        taken.specs = []
        if taken.counted:
            taken.counted = False
            decrement(self.submitting, user)

    def _admit(self, spec: JobSpec, tasks: list[tuple[int, str | None]] | None,
               entry_tags: list[str] | None, user: str) -> None:
        """Refuse, with the reason, a job that may not be accepted as it is."""
        if tasks is not None and spec.interactive:
            raise WqError("an interactive job cannot be an array")
        if self.members.by_launcher(user) and not spec.interactive:
            _check_signed(spec, tasks, entry_tags)
        never = self.engine.never_fits(spec.requirements)
        if never is not None:
            raise WqError(f"refused: this job can never fit the cluster: {never}")
        if spec.after:
            targets.check(self.store, spec.after,
                          None if tasks is None else [t for t, _ in tasks], self.engine.tallies)

    def _within_bounds(self, user: str, adding: int, submitting: bool = True) -> None:
        """A lab's bounds on what one member may have waiting (or taken by a
        submit_many not yet accepted) and, `submitting`, being accepted."""
        bounds = self.members.bounds(user)
        if bounds is not None:
            waiting = self.engine.waiting.of_user[user] + self.engine.aside_of[user] + \
                self.staged[user]
            if waiting + adding > bounds.queued:
                raise WqError(f"refused: the lab allows {bounds.queued} waiting jobs a user; "
                              f"you have {waiting} waiting and this adds {adding}")
            if submitting and self.submitting[user] >= bounds.submitting:
                raise WqError(f"refused: you have {self.submitting[user]} submissions being "
                              f"accepted (the lab allows {bounds.submitting} at once); "
                              "submit again when they are in")

    async def _accept(self, req: m.Submit, user: str, spec: JobSpec,
                      tasks: list[tuple[int, str | None]] | None
                      ) -> tuple[Job, int, Watcher | None]:
        watcher = Watcher() if req.attach else None
        now = time.time()
        if tasks is None:
            job = self.store.add_job(user, spec, now, held=req.hold)
            if watcher is not None:
                self.runner.hub.watch(job.id, watcher)
            self.runner.feed(fx.Submitted((job,), watched=watcher is not None,
                                          tallies=self._tallies((job,))))
            return job, 1, watcher
        array = self.store.open_array(user, spec, now, len(tasks), req.throttle, held=req.hold)
        try:
            jobs: list[Job] = []
            for start in range(0, len(tasks), ACCEPT_CHUNK):
                if start:
                    await pause()
                tags = None if req.entry_tags is None or req.entries is None else \
                    req.entry_tags[start:start + ACCEPT_CHUNK]
                jobs += self.store.add_tasks(array, tasks[start:start + ACCEPT_CHUNK], tags)
                long_lived()
            self.store.close_array(array)
        except Exception:          # (cancelled at shutdown: forgotten at the next start)
            self.store.forget_incomplete(array.number)
            raise
        if watcher is not None:
            self.runner.hub.watch_array(array.number, watcher)
        for start in range(0, len(jobs), ACCEPT_CHUNK):
            if start:
                await pause()
            end = start + ACCEPT_CHUNK
            chunk = tuple(jobs[start:end])
            self.runner.feed(fx.Submitted(chunk, req.throttle,
                                          watched=watcher is not None and not start,
                                          more=end < len(jobs), tallies=self._tallies(chunk)))
        return jobs[0], len(jobs), watcher

    def _tallies(self, jobs: tuple[Job, ...]) -> dict[Key, Tally]:
        if not jobs[0].spec.after:
            return {}
        return targets.tallies(self.store, jobs, self.engine.tallies)

    def unsubscribe(self, job: Job, watcher: Watcher) -> None:
        """An attached client is done with its job (or array)."""
        if job.task is None:
            self.runner.hub.unwatch(job.id, watcher)
            self.runner.feed(fx.Unwatched(job.id))
        else:
            self.runner.hub.unwatch_array(job.number, watcher)
            self.runner.feed(fx.ArrayUnwatched(job.number))

    def find(self, texts: list[str], user: str, limit: int | None = None) -> list[Job]:
        """The jobs (and tasks) that selectors name (at most `limit` per selector):
        live ones as the engine has them, the others from the store; in id order,
        each once."""
        found: dict[JobId, Job] = {}
        for sel, mine in self._selections(texts, user):
            for job in self.store.selecting(sel.first, sel.last, sel.tasks, user=mine,
                                            limit=limit):
                found[job.id] = self.engine.jobs.get(job.id, job)
        return sorted(found.values(), key=_order)

    def _selections(self, texts: list[str], user: str
                    ) -> list[tuple[selectors.Segment, str | None]]:
        """What the selectors name, at most MAX_SELECT of them, as segments in
        order that do not overlap (selectors.disjoint), and whose: `all` is the
        user's own jobs, each other selector anyone's."""
        given = selectors.parse_all(_capped(texts))
        numbers = [n for sel in given if sel.special != "all"
                   and (n := self._numbers(sel, user)) is not None]
        out: list[tuple[selectors.Segment, str | None]] = [
            (segment, None) for segment in selectors.disjoint(numbers)]
        if any(sel.special == "all" for sel in given):
            out.append((selectors.Segment(0, 1 << 62, None), user))
        return out

    def _stream(self, texts: list[str], user: str, heads: bool) -> Iterator[
            tuple[Job, selectors.Tasks]]:
        """The jobs the selectors name (with `heads`, the first of each job or
        array), in order, each once, taken from the store as they are consumed."""
        picked = self._selections(texts, user)
        take = self.store.heads if heads else self.store.selecting
        anyone = itertools.chain.from_iterable(
            ((job, s.tasks) for job in take(s.first, s.last, s.tasks)) for s, mine in picked
            if mine is None)
        own = [((job, s.tasks) for job in take(s.first, s.last, s.tasks, user=mine))
               for s, mine in picked if mine is not None]
        seen = None
        for job, tasks in heapq.merge(anyone, *own, key=lambda pair: _order(pair[0])):
            key = job.number_shown if heads else job.id
            if key != seen:
                yield self.engine.jobs.get(job.id, job), tasks
            seen = key

    def _selected_rows(self, req: m.ListJobs, user: str, states: set[JobState] | None
                       ) -> Iterator[tuple[Job, JobRow | None]]:
        """A selection's listing, in order, taken as it is paged: unless `expand`,
        a row per job or array, an array's counted by the store (so naming a range
        or a big array costs a lookup per job or array, never its history)."""
        if req.expand:
            for job, _ in self._stream(req.select or [], user, heads=False):
                if states is None or job.state in states:
                    yield job, None
            return
        for job, tasks in self._stream(req.select or [], user, heads=True):
            if job.task is None:
                if states is None or job.state in states:
                    yield job, None
                continue
            number = job.number_shown
            counts, started = self.store.counts_in(number, tasks)
            if states is not None:
                counts = {k: v for k, v in counts.items() if JobState(k) in states}
            if counts:
                yield job, _array_row(_row(job), number, counts, started)

    def _numbers(self, sel: selectors.Selector, user: str) -> selectors.Selector | None:
        """The numbers a selector stands for: `last` is the user's last job (None
        when they have none), `all` every number (of theirs), the number Slurm's
        commands gave an array's task that task."""
        if sel.special == "all":
            return selectors.Selector(0, 1 << 62)
        if sel.special == "last":
            number = self.store.last_number(user)
            return None if number is None else selectors.Selector(number, number)
        if sel.first == sel.last and sel.tasks is None:
            alias = self.store.slurm_alias(sel.first)      # a task's id in Slurm's way
            if alias is not None:
                return selectors.Selector(alias[0], alias[0], (alias[1], alias[1]))
        return sel

    async def on_ls(self, req: m.ListJobs, user: str) -> Listing:
        """The whole listing in one reply (a client that does not page), if it has
        at most MAX_UNPAGED rows, built a page at a time with other work between."""
        rows: list[JobRow] = []
        for row in self.ls_rows(req, user):
            rows.append(row)
            if len(rows) > MAX_UNPAGED:
                raise WqError(f"a listing of over {MAX_UNPAGED} rows comes in pages: ask "
                              "for them (page)")
            if not len(rows) % LIST_CHUNK:
                await pause()
        return Listing(time.time(), rows)

    def ls_rows(self, req: m.ListJobs, user: str) -> Iterator[JobRow]:
        """The rows of a listing in order (by number, then task), built as they are
        taken, so a paged listing of any size holds only a page of rows. The queue
        is read in place: rows taken later may see jobs that moved meanwhile."""
        states = _states(req.states)
        finished = {s for s in (states or ()) if s.final}
        if req.all and states is None:
            finished = {s for s in JobState if s.final}
        admin = self.members.is_admin(user)
        view = self.engine.view() if req.full else None
        reasons: dict[tuple[Requirements, str], str] = {}      # one per kind of waiting job
        if req.select is not None:
            for job, array in self._selected_rows(req, user, states):
                if not req.user or job.user == req.user:
                    yield array if array is not None else self._job_row(
                        job, req, view, reasons, admin or job.user == user)
            return
        jobs: Iterable[Job] = self._active(states, req.expand)
        if finished:
            past = self.store.jobs(finished, user=req.user, ended_since=req.since,
                                   limit=MAX_LISTED_FINISHED if req.since is None
                                   else MAX_SINCE, tasks=req.expand)
            jobs = heapq.merge(jobs, sorted(past, key=_order), key=_order)
        if req.user:
            jobs = (j for j in jobs if j.user == req.user)
        summaries: list[JobRow] = []
        if not req.expand:
            listed = list(jobs)             # a row per array: its head stands for its queue
            summaries = sorted(self._array_rows(listed, finished, req.user),
                               key=lambda r: r.number)
            jobs = [j for j in listed if j.task is None]
        rows = (self._job_row(j, req, view, reasons, admin or j.user == user) for j in jobs)
        yield from heapq.merge(summaries, rows, key=lambda r: (r.number, r.task or 0))

    def _job_row(self, job: Job, req: m.ListJobs, view: scheduler.ClusterView | None,
                 reasons: dict[tuple[Requirements, str], str], details: bool) -> JobRow:
        """A job's row; its command and cwd (with `full`) only when `details` (the
        asker owns it, or is an admin)."""
        more: dict[str, Any] = {}
        if job.spec.interactive:
            more["interactive"] = True
        if job.state is JobState.WAITING:
            unfit = self.engine.never_fits(job.spec.requirements)
            aside = self.engine.blocked_reason(job) or self.engine.throttled(job)
            if unfit:
                more.update(unfit=True, reason=f"can no longer fit: {unfit}")
            elif aside is not None:
                more["reason"] = aside
            elif view is not None:
                kind = (job.spec.requirements, job.user)
                if kind not in reasons:
                    reasons[kind] = scheduler.waiting_reason(
                        job, view, usage=self.engine.usage(),
                        limits=self.engine.limits, ready=self.engine.ready())
                more["reason"] = reasons[kind]
        if req.full:
            more.update(hosts=list(job.placement.hosts) if job.placement else [],
                        requirements=codec.requirements_to_dict(job.spec.requirements))
            if job.spec.slurm is not None:
                more["slurm"] = self._slurm_facts(job)
            if details:
                more.update(command=job.spec.command, cwd=job.spec.cwd)
        if not details:
            more["reason"] = public(more.get("reason", job.reason))
        return _row(job, **more)

    def _slurm_facts(self, job: Job) -> dict[str, Any]:
        """What Slurm's commands show of a job of sbatch's: what it was asked
        (codec.slurm_to_dict), its Slurm id, priority, array throttle and the
        dependencies it still waits for, as Slurm writes them."""
        assert job.spec.slurm is not None
        shape = codec.slurm_to_dict(job.spec.slurm)
        throttle = self.engine.throttles.get(job.number) if job.task is not None else None
        left = self.engine.blocked.get(job.id) if job.state is JobState.WAITING else None
        waits = ",".join(str(a).replace(".", "_") + "(unfulfilled)" for a in left or ())
        return {**(shape if isinstance(shape, dict) else {}), "id": onnode.slurm_number(job),
                **({"dependency": waits} if waits else {}),
                "priority": job.spec.requirements.priority,
                **({} if throttle is None else {"throttle": throttle})}

    def _active(self, states: set[JobState] | None, expand: bool) -> Iterator[Job]:
        """Waiting and running jobs in `states`, in order; unless `expand`, of an
        array's waiting tasks only the first stands for them all (see _array_rows)."""
        running: dict[int, list[Job]] = {}
        for job in self.engine.running.values():
            if states is None or job.state in states:
                running.setdefault(job.number_shown, []).append(job)
        queued = self.engine.queued_numbers() \
            if states is None or JobState.WAITING in states else set()
        for number in sorted(running.keys() | queued):
            group: Iterable[Job] = self.engine.queued(number) if number in queued else ()
            first = next(iter(group), None)
            if first is not None and not expand and first.task is not None:
                group = (first,)
            yield from heapq.merge(sorted(running.get(number, ()), key=_order), group,
                                   key=_order)

    def _array_rows(self, jobs: list[Job], finished: set[JobState], user: str | None
                    ) -> list[JobRow]:
        """One row per array: how many of its tasks are in each state. `jobs` has
        only the first of an array's queue (_active), standing for all."""
        by_number: dict[int, tuple[JobRow, dict[str, int]]] = {}     # its first row, counts
        started: dict[int, float] = {}                           # its first task's start
        for job in jobs:
            if job.task is None:
                continue
            if job.number not in by_number:
                by_number[job.number] = (_row(job), {})
            counts = by_number[job.number][1]
            queue = self.engine.queued(job.number)
            many = len(queue) if queue and queue[0] is job else 1
            counts[job.state.value] = counts.get(job.state.value, 0) + many
            if job.started and (job.number not in started or job.started < started[job.number]):
                started[job.number] = job.started
        if finished:
            for number, past in self.store.array_counts(finished, user=user).items():
                if number not in by_number:
                    first = self.store.first_of(number)
                    if first is None:
                        continue
                    by_number[number] = (_row(first), {})
                counts = by_number[number][1]
                for state, count in past.items():
                    counts[state] = counts.get(state, 0) + count
        return [_array_row(first, number, counts, started.get(number))
                for number, (first, counts) in by_number.items()]

    def on_stat(self, req: m.Stat, user: str) -> StatReply:
        view = self.engine.view()
        status = self.runner.monitor.status
        hosts = []
        for use in view.hosts():
            st = status.get(use.host.name)
            reason = st.reason if st else ""
            if not use.online:
                state, reason = "offline", self.engine.offline.get(use.host.name, "")
            elif st is None or st.state is HostState.UNKNOWN:
                state = "unknown"
            else:
                state = st.state.value
            sample = self.engine.samples.get(use.host.name)
            hosts.append(HostRow(
                use.host.name, use.host.cores, use.host.cores - use.free_cores, use.host.mem,
                use.host.gpus, list(use.host.labels), state, reason,
                load=None if sample is None else sample.load,
                mem_free=None if sample is None else sample.mem_free,
                gpu_free=None if sample is None or not sample.gpus else
                [round(g.free, 2) for g in sorted(sample.gpus, key=lambda g: g.index)],
                over=use.over or ""))
        licenses = [LicenseRow(name, view.licenses.get(name, 0), view.licenses_used[name])
                    for name in sorted(view.licenses.keys() | +view.licenses_used)]
        return StatReply(hosts, len(self.engine.running), self.engine.waiting_count(),
                         licenses)

    async def on_rm(self, req: m.Remove, user: str) -> Removed:
        missing: list[RemoveRow] = []
        if req.all:
            jobs = sorted((j for j in self.engine.jobs.values() if j.user == user),
                          key=_order)
        else:
            jobs = []
            active = sorted(self.engine.active_in)
            for text in dict.fromkeys(_capped(req.select)):
                live = self._live(text, user, active)
                if live:            # of many (an array, a range), the ended ones are no news
                    jobs += live
                    continue
                found = self.find([text], user, limit=2)
                if not found:
                    missing.append(RemoveRow(text, "no such job", False))
                elif len(found) > 1:
                    missing.append(RemoveRow(text, "already ended", False))
                else:
                    jobs += found
        results = await self.runner.remove(jobs, user, admin=self.members.is_admin(user))
        return Removed(results.rows() + missing)

    async def on_signal(self, req: m.Signal, user: str) -> Signalled:
        """A signal to each running job named (not cancelled), on its first host:
        by the server, or in a lab by the owner's launcher."""
        try:
            name = requirements.signal_name(req.signal)
        except ValueError as exc:
            raise WqError(str(exc)) from None
        if req.scope not in requirements.SCOPES:
            raise WqError(f"a signal goes to one of {', '.join(requirements.SCOPES)}, "
                          f"not {req.scope!r}")
        rows: list[SignalRow] = []
        running: list[Job] = []
        active = sorted(self.engine.active_in)
        for text in dict.fromkeys(_capped(req.select)):
            live = self._live(text, user, active)
            for job in live:
                self._may(req.type, job, user)
            live = [j for j in live if j.state is JobState.RUNNING]
            if not live:
                rows.append(SignalRow(text, "not running", False))
            running += live
            if len(running) > MAX_SIGNALLED:
                raise WqError(f"signal at most {MAX_SIGNALLED} running jobs at once")

        async def one(job: Job) -> SignalRow:
            assert job.placement is not None
            host = self.engine.known.get(job.placement.first_host)
            if host is None:
                return SignalRow(job.label, "its host left the cluster", False)
            try:
                said = await self.runner.ops(host, job.user).signal(
                    host, onnode.directory(self.engine.server_id, job), name, req.scope,
                    name=onnode.instance_name(job))
            except (ExecutorError, HostUnreachable) as exc:
                return SignalRow(job.label, str(exc), False)
            if said == "nostep":
                return SignalRow(job.label, NO_STEP, False)
            return SignalRow(job.label, said, said == "signalled")
        rows += await asyncio.gather(*(one(job) for job in running))
        return Signalled(rows)

    def on_change(self, req: m.Hold | m.Release | m.Requeue | m.Update, user: str) -> Changed:
        """wq hold, release, requeue and update of the jobs the selectors name: the
        engine's answer, a row per job or run of tasks alike."""
        admin = self.members.is_admin(user)
        rows: list[ChangeRow] = []
        jobs: list[Job] = []
        active = sorted(self.engine.active_in)
        for text in dict.fromkeys(_capped(req.select)):
            if isinstance(req, m.Update):
                sel = self._numbers(selectors.parse(text), user)
                if sel is not None and sel.tasks is not None:
                    rows.append(ChangeRow(text, f"an array's tasks share one spec: update the "
                                          f"whole array ({sel.first})", False))
                    continue
            if isinstance(req, m.Requeue):       # ended jobs too
                found = self.find([text], user, limit=MAX_REQUEUED + 1)
                if len(jobs) + len(found) > MAX_REQUEUED:
                    raise WqError(f"requeue at most {MAX_REQUEUED} jobs at once")
            elif not (found := self._live(text, user, active)):
                found = self.find([text], user, limit=2)
                if len(found) > 1:
                    rows.append(ChangeRow(text, "already ended", False))
                    continue
            if not found:
                rows.append(ChangeRow(text, "no such job", False))
            jobs += found
        runs = Runs()
        match req:
            case m.Hold() | m.Release():
                runs.add(self.runner.change(fx.Hold(tuple(jobs), user, isinstance(req, m.Hold),
                                                    admin)))
            case m.Requeue():
                runs.add(self.runner.change(fx.Requeue(tuple(jobs), user, admin)))
            case m.Update():
                for event in _updates(jobs, req.time_limit, user):
                    runs.add(self.runner.change(event))
        return Changed([ChangeRow(r.id, r.result, r.removed) for r in runs.rows()] + rows)

    def _live(self, text: str, user: str, active: list[int]) -> list[Job]:
        """The waiting and running jobs a selector names, from the engine (no store
        rows read: an array of a million tasks is named at the cost of its queue);
        `active`: the numbers with live jobs, in order."""
        engine = self.engine
        running: dict[int, list[Job]] = {}
        for job in engine.running.values():
            running.setdefault(job.number_shown, []).append(job)
        out: list[Job] = []
        given = selectors.parse_all([text])
        for one in given:
            if one.special == "all":
                out += (j for j in engine.jobs.values() if j.user == user)
                continue
            sel = self._numbers(one, user)
            if sel is None:
                continue
            numbers = active[bisect.bisect_left(active, sel.first):
                             bisect.bisect_right(active, sel.last)]
            for number in numbers:
                if number not in engine.active_in:
                    continue
                queued = engine.queued(number)
                group: Iterable[Job] = queued
                if number in running:
                    group = heapq.merge(sorted(running[number], key=_order), queued,
                                        key=_order)
                if sel.tasks is None:
                    out += group
                else:
                    low, high = sel.tasks
                    out += (j for j in group if j.task is not None and low <= j.task <= high)
        if len(given) == 1 and given[0].special != "all":
            return out                         # in order, each once already
        return sorted({j.id: j for j in out}.values(), key=_order)

    def on_refresh(self, req: m.Refresh, user: str) -> Refreshed:
        changes = self.reload()
        self.runner.monitor.refresh()
        self.runner.wake()
        return changes

    def on_node(self, req: m.NodeState, user: str) -> NodeReply:
        known = {h.name for h in self.engine.cluster.hosts}
        unknown = [h for h in req.hosts if h not in known]
        if unknown:
            raise WqError(f"no host named {unknown[0]!r} in the cluster "
                          f"(hosts: {', '.join(sorted(known))})")
        if not req.hosts:
            raise WqError("name at least one host")
        self.runner.feed(fx.SetOffline(tuple(req.hosts), req.offline))
        self.runner.setups.offline(req.hosts, req.offline)
        return NodeReply(req.hosts, req.offline)

    def user_rows(self, req: m.Users, user: str) -> Iterator[UserRow]:
        """`wq users`: a row per user with jobs or limits, by name."""
        usage = self.engine.usage()
        waiting = self.engine.waiting.of_user
        names = sorted(set(usage) | set(waiting) | set(self.engine.limits))
        for name in names:
            used = usage.get(name, scheduler.Usage())
            limits = self.engine.limits.get(name, Limits())
            yield UserRow(name, used.jobs, used.cores, waiting.get(name, 0),
                          {"jobs": limits.jobs, "cores": limits.cores})

    def on_limit(self, req: m.SetLimits, user: str) -> LimitReply:
        """None leaves a limit as it is; -1 removes it."""
        for label, value in (("jobs", req.jobs), ("cores", req.cores)):
            if value is not None and value < -1:
                raise WqError(f"limit {label} must be 0 or more (or -1 to remove it)")
        whose = req.user or user
        if whose != user:
            rights.admins_only("setting another user's limits", self.members.is_admin(user),
                               self._admins())
        current = self.engine.limits.get(whose, Limits())
        old = Limits() if req.clear else current

        def pick(new: int | None, now: int | None) -> int | None:
            return now if new is None else (None if new == -1 else new)

        limits = Limits(pick(req.jobs, old.jobs), pick(req.cores, old.cores))
        if not self.members.is_admin(user):          # a member may only tighten their own
            for label, new, now in (("run", limits.jobs, current.jobs),
                                    ("cores", limits.cores, current.cores)):
                if now is not None and (new is None or new > now):
                    raise WqError(f"you may only lower your own limits ({label}: {now}); "
                                  "ask the lab's admins to raise or remove them")
        self.runner.feed(fx.SetLimits(whose, limits))
        return LimitReply(whose, {"jobs": limits.jobs, "cores": limits.cores})

    def on_session_end(self, req: m.SessionEnd, user: str) -> Done:
        job = next((j for j in self.engine.running.values() if j.label == req.id), None)
        if job is None or not job.spec.interactive:
            raise WqError(f"no interactive job {req.id} of yours is running")
        self._may(req.type, job, user)
        self.runner.feed(fx.SessionEnded(job.id, req.code, req.reason, req.lost))
        return Done()

    def attach(self, req: m.Attach, user: str) -> tuple[Job, Attached, Watcher | None]:
        """Follow a job already submitted: a watcher while it is live (and its
        output from the start of the running instance), none once it has ended."""
        job = self.one(req.id, user)
        self._may(req.type, job, user)
        if job.spec.interactive:
            raise WqError(f"job {job.label} is interactive: its output goes to its terminal")
        live = self.engine.jobs.get(job.id)
        if live is None:
            return job, Attached(job.label, job.state.value, job.exit_code, job.reason), None
        watcher = Watcher()
        self.runner.hub.watch(live.id, watcher)
        self.runner.feed(fx.Watched(live.id))
        if live.state is JobState.RUNNING:
            self.runner.follow_for(live, watcher)
        return live, Attached(live.label, live.state.value), watcher

    def on_why(self, req: m.Why, user: str) -> WhyReply:
        job = self.one(req.select, user)
        job = self.engine.jobs.get(job.id, job)
        if job.state is JobState.RUNNING and job.placement is not None:
            summary = f"it is running, on {','.join(job.placement.hosts)}"
        elif job.state is not JobState.WAITING:
            mine = job.user == user or self.members.is_admin(user)
            reason = job.reason if mine else public(job.reason)
            summary = f"it has ended: {job.state.value}" + (f" ({reason})" if reason else "")
        else:
            down = {name: st.reason for name, st in self.runner.monitor.status.items()
                    if st.reason}
            summary, hosts = self.engine.why(job, time.time(), down)
            return WhyReply(job.label, job.state.value, summary,
                            [WhyHost(h.host, h.rule, h.detail, h.change) for h in hosts])
        return WhyReply(job.label, job.state.value, summary)

    async def on_status(self, req: m.Status, user: str) -> StatusReply:
        """Each job's state, looked up a few hundred at a time with other work
        between."""
        if len(req.select) > MAX_STATUS:
            raise WqError(f"ask for at most {MAX_STATUS} jobs at once")
        rows = []
        for count, text in enumerate(req.select, start=1):
            rows.append(self._status(text))
            if not count % LIST_CHUNK:
                await pause()
        return StatusReply(rows)

    def _status(self, text: str) -> StatusRow:
        match = _STATUS_ID.fullmatch(text.strip())
        if match is None:
            return StatusRow(text, "unknown")
        number, task = int(match[1]), None if match[2] is None else int(match[2])
        if task is None and self.store.array_info(number) is not None:
            counts = self.store.states_of(number)
            if counts.get("waiting", 0) + counts.get("running", 0):
                return StatusRow(text, "running" if counts.get("running") else "waiting")
            return StatusRow(text, "done" if set(counts) == {"done"} else "failed")
        found = self.store.select(number, number, None if task is None else ((task, task),),
                                  limit=1)
        if not found:
            return StatusRow(text, "unknown")
        job = self.engine.jobs.get(found[0].id, found[0])
        return StatusRow(text, job.state.value, job.exit_code)

    def one(self, text: str, user: str) -> Job:
        """The one job (or task) a selector names."""
        jobs = self.find([text], user, limit=2)
        if not jobs:
            raise WqError(f"no job {text} (finished jobs are forgotten by wq clean "
                          "and after the server's --keep period)")
        if len(jobs) > 1:
            first = jobs[0]
            if first.task is not None and all(j.number == first.number for j in jobs):
                info = self.store.array_info(first.number)
                count = f" of {info[0]} tasks" if info else ""
                raise WqError(f"{text} is an array{count}; name one, e.g. {first.label}")
            raise WqError(f"{text} names several jobs; name one")
        return jobs[0]

    async def on_log(self, req: m.Log, user: str) -> LogReply:
        job = self.one(req.id, user)
        self._may(req.type, job, user)
        if job.spec.interactive:
            raise WqError(f"job {req.id} is interactive: its output went to its terminal")
        started = [i for i in self.store.instances(job.id) if i.placement is not None]
        if req.instance is not None:
            started = [i for i in started if i.number == req.instance]
            if not started:
                raise WqError(f"job {req.id} has no instance {req.instance} (instances: "
                              f"{job.instance or 'none yet'})")
        if not started:
            raise WqError(f"job {req.id} has not started yet, so it has no output")
        instance = started[-1]
        host = self.engine.known.get(instance.host)
        if host is None:
            raise WqError(f"job {req.id} ran on {instance.host}, "
                          "which is no longer in the cluster")
        shown = dataclasses.replace(job, instance=instance.number, placement=instance.placement)
        out_word, err_word = onnode.output_words(shown)
        directory = onnode.instance_directory(self.engine.server_id, instance)
        out, err = await self.runner.ops(host, job.user).cat(
            shown, host, directory, out_word, err_word, max(1, min(req.max_bytes, 16 << 20)))
        return LogReply(job.label, host.name, instance.number,
                        out.decode("utf-8", "surrogateescape"),
                        err.decode("utf-8", "surrogateescape"))

    def step(self, req: m.Step, user: str) -> tuple[Ops, Host, str]:
        """Where and how to run a step's tasks (srun inside a running job of the
        user's, on one of its hosts): the job's operations, the host, the script."""
        job = self._one(req.job, user, req.type)[0]
        if job.state is not JobState.RUNNING or job.placement is None:
            raise WqError(f"job {job.label} is not running ({job.state.value})")
        if req.host not in job.placement.hosts:
            raise WqError(f"job {job.label} has no cores on {req.host} (it has "
                          f"{', '.join(dict.fromkeys(job.placement.hosts))})")
        host = self.engine.known.get(req.host)
        if host is None:
            raise WqError(f"{req.host} is no longer in the cluster")
        if not req.argv or not req.tasks or len(req.tasks) > MAX_STEP_TASKS:
            raise WqError(f"a step runs a command, 1 to {MAX_STEP_TASKS} tasks a host")
        script = wrapper.step_script(req.argv, req.env, req.cwd, host.name, req.node, req.tasks)
        return self.runner.ops(host, job.user), host, script

    def on_info(self, req: m.Info, user: str) -> tuple[JobInfo,
                                                       Iterator[InstanceRow | EventRow]]:
        """One job in full, and its history to page: its instances, then its events
        (each row built as it is taken)."""
        job = self.one(req.id, user)
        self._may(req.type, job, user)
        row = _row(job)
        info = JobInfo(**{
            **{f.name: getattr(row, f.name) for f in dataclasses.fields(row)},
            "interactive": job.spec.interactive, "command": job.spec.command,
            "cwd": job.spec.cwd, "hosts": list(job.placement.hosts) if job.placement else [],
            "requirements": codec.spec_to_dict(job.spec)["requirements"],
            "crashes": job.crashes, "failures": job.failures, "stdout": job.spec.stdout,
            "stderr": job.spec.stderr})
        instances = self.store.instances(job.id)
        events = self.store.events(job.id)
        history: Iterator[InstanceRow | EventRow] = itertools.chain(
            (InstanceRow(i.number, list(i.hosts), i.started, i.ended, i.outcome,
                         i.exit_code, i.detail, i.settled) for i in instances),
            (EventRow(t, k, d) for t, k, d in events))
        return info, history

    async def on_clean(self, req: m.Clean, user: str) -> Cleaned:
        states = _states(req.states) or {s for s in JobState if s.final}
        unfinished = sorted(s.value for s in states if not s.final)
        if unfinished:
            raise WqError(f"wq clean forgets finished jobs only, not {', '.join(unfinished)} "
                          "ones (wq rm removes those)")
        if req.older_than < 0:
            raise WqError("--older-than must not be negative")
        whose = rights.whose(req.type, user, self.members.is_admin(user))
        count, left = await self.runner.forget(time.time() - req.older_than, states, whose)
        return Cleaned(count, left)


def _states(names: list[str] | None) -> set[JobState] | None:
    if names is None:
        return None
    out = set()
    for name in names:
        try:
            out.add(JobState(name))
        except ValueError:
            raise WqError(f"unknown state {name!r} (one of: "
                          f"{', '.join(s.value for s in JobState)})") from None
    return out


def _tasks(req: m.Submit) -> list[tuple[int, str | None]] | None:
    """An array's tasks (index, entry), checked; None for a single job."""
    if req.array is not None and req.entries is not None:
        raise WqError("an array has either a range or entries, not both")
    if req.throttle is not None and req.throttle < 1:
        raise WqError("an array's throttle (%N) must be 1 or more")
    if req.array is not None:
        ranges = arrays.from_json(req.array)
        if ranges is None:
            raise WqError("an array range is [first, last, step] with first <= last, step >= 1 "
                          f"(or up to {arrays.MAX_PIECES} of them, in order, apart)")
        count = arrays.count(ranges)
        if count > MAX_TASKS:
            raise WqError(f"an array has at most {MAX_TASKS} tasks ({count} asked)")
        return [(i, None) for i in arrays.each(ranges)]
    if req.entries is not None:
        if not req.entries:
            raise WqError("the array has no entries (an empty file or list?)")
        if len(req.entries) > MAX_TASKS:
            raise WqError(f"an array has at most {MAX_TASKS} tasks ({len(req.entries)} given)")
        if any(not isinstance(e, str) or "\0" in e for e in req.entries):
            raise WqError("array entries must be text without NUL bytes")
        return [(i, e) for i, e in enumerate(req.entries, start=1)]
    if req.throttle is not None:
        raise WqError("a throttle (%N) is for arrays")
    return None


def _updates(jobs: list[Job], time_limit: float, user: str) -> list[fx.Update]:
    """The engine events of a wq update: one per job, or array, named (their specs
    differ); a job signed by its user in a lab is refused (its launcher would
    refuse a spec changed without its user's signature; another's job the engine
    refuses as not theirs)."""
    limit = time_limit or None
    detail = "time limit " + (format_duration(limit) if limit else "none")
    by_number: dict[int, list[Job]] = {}
    for job in jobs:
        by_number.setdefault(job.number_shown, []).append(job)
    for group in by_number.values():
        if group[0].spec.signature is not None and group[0].user == user:
            raise WqError(f"job {group[0].number_shown} is signed by its user, in a "
                          "lab: its time limit cannot change after submission (wq rm it and "
                          "submit it again)")
    return [fx.Update(tuple(group), dataclasses.replace(spec, requirements=dataclasses.replace(
        spec.requirements, time_limit=limit)), user, detail)
        for group in by_number.values() for spec in (group[0].spec,)]


def _check_signed(spec: JobSpec, tasks: list[tuple[int, str | None]] | None,
                  tags: list[str] | None) -> None:
    """A lab member's batch job is signed by its user's client (and each entry of
    an array tagged), or refused: their launcher would refuse it anyway."""
    if spec.signature is None or spec.seal is None:
        raise WqError("refused: a lab member's job must be signed by their wq client "
                      "(this client is too old, or not wq's)")
    if tasks is not None and (spec.tasks is None or not all(
            arrays.contains(spec.tasks, t) for t, _ in tasks)):
        raise WqError("refused: a lab member's array must be signed with its task numbers "
                      "by their wq client")
    if spec.entries != any(e is not None for _, e in tasks or ()):
        raise WqError("refused: a lab member's array must be signed as one of entries "
                      "(or not) by their wq client")
    entries = [e for _, e in tasks or () if e is not None]
    if entries and (tags is None or len(tags) != len(entries)
                    or not all(isinstance(t, str) and len(t) == 32 for t in tags)):
        raise WqError("refused: each entry of a lab member's array must be tagged by "
                      "their wq client")


def _capped(texts: list[str]) -> list[str]:
    """A request's selectors, if there are at most MAX_SELECT of them."""
    if len(texts) > MAX_SELECT:
        raise WqError(f"name at most {MAX_SELECT} jobs or ranges at once "
                      f"({len(texts)} given)")
    return texts


def _order(job: Job) -> tuple[int, int]:
    return (job.number_shown, job.task or 0)


def _array_state(counts: dict[str, int]) -> str:
    """An array's state in one word: running while any task runs, else waiting while
    any waits, else failed when any task did not end done, else done."""
    for state in ("running", "waiting"):
        if counts.get(state):
            return state
    return "done" if set(counts) <= {"done"} else "failed"


#: a path in a reason: after a space, a quote or a bracket (not 2/4, not a:b/c)
_PATH = re.compile(r"(?<![\w.~:/-])/[^\s'\":,;()\[\]]*")


def public(reason: str) -> str:
    """A job's reason as members other than its owner see it: without the paths
    in it (the owner's working directory and files: `cannot write the output
    files …: Permission denied`)."""
    return _PATH.sub("…", reason)


def _array_row(first: JobRow, number: int, counts: dict[str, int],
               started: float | None) -> JobRow:
    """An array's row: its first task's, with how many tasks are in each state."""
    return dataclasses.replace(
        first, id=str(number), task=None, state=_array_state(counts), nc=None, nh=None,
        host0=None, started=started, exit=None, reason="", array=True, counts=counts,
        tasks=sum(counts.values()))


def _row(job: Job, **more: Any) -> JobRow:
    """A job's row: its own fields, and `more` (JobRow's optional ones, or a
    reason of the listing's) in one go."""
    p = job.placement
    return JobRow(id=job.label, number=job.number_shown, task=job.task, user=job.user,
                  state=job.state.value, pri=priority_name(job.spec.requirements.priority),
                  nc=p.cores if p else None, nh=len(p.slices) if p else None,
                  host0=p.first_host if p else None, submitted=job.submitted,
                  started=job.started, ended=job.ended, exit=job.exit_code, name=job.name,
                  reason=more.pop("reason", job.reason), instance=job.instance, **more)


def _env_of(frame: Any, envs: list[codec.Env]) -> codec.Env | None:
    """The environment a spec of a submit_many request names by its index in the
    request's `envs` (each is sent once), or None: it holds its own."""
    env = frame.get("env") if isinstance(frame, dict) else None
    if not isinstance(env, int) or isinstance(env, bool):
        return None
    if not 0 <= env < len(envs):
        raise ParseError("env names no environment of the request", source="request",
                         key="env")
    return envs[env]
