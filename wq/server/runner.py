"""The runner: feeds the engine events and carries out the effects it returns.

Everything asynchronous lives here, and only here: launching and watching
instances, following output, kills, timers, the store's group commit and the
scheduling wake-up. Every task is referenced until it ends, and its result,
or its exception, goes back to the engine as an event.

Ordering: the store writes share a transaction, committed two turns of the
event loop after the first (or before any reply): a job's end and the start
its scheduling pass gives its slot share one.
The commit is durable once the store's syncer has fsynced it, off the event
loop (`durable`); events for watchers are held until then, and so is a
Launch's task, so nobody learns of a job, and no other machine runs one,
before it would survive a power loss.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ctypes
import dataclasses
import functools
import gc
import logging
import operator
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from wq import codec
from wq.errors import ExecutorError, HostUnreachable
from wq.executor import wrapper
from wq.executor.base import ShellExecutor
from wq.executor.outcome import Outcome, Started
from wq.executor.ssh import connect_options
from wq.model import Host, HostState, Instance, Job, JobId, JobState
from wq.protocol import calls, events
from wq.protocol.replies import RemoveRow
from wq import hooks
from wq.server import effects as fx
from wq.server import onnode, targets
from wq.server.hosts import HostMonitor, HostStatus
from wq.server.ops import LauncherAway, LauncherOps, Link, Ops, OwnOps
from wq.server.setups import SetupFailed, Setups
from wq.server.state import Engine, Inconsistent, internal
from wq.server.watchers import Hub, Watcher
from wq.store import Store

log = logging.getLogger(__name__)

FOLLOW_DRAIN = 10.0       # seconds to let a job's output reach its watchers after it ends
REMOVE_CHUNK = 1000       # jobs removed (node directories deleted) at a time
STEP = 0.01               # seconds a big request holds the event loop at a time
BIG_REMOVAL = 10_000      # jobs removed at once after which their space goes back
PAUSE = 0.002             # seconds of the event loop other work gets between two steps
LOAD_PAGE = 5_000         # waiting jobs loaded per step at start
LONG_LIVED = 5_000        # jobs taken in at once after which long_lived() is called
SUMMARY = 5.0             # seconds between the log's lines of jobs started and ended
MEMORY_BACK = 1.0         # seconds after a big removal (its answer sent) to return the heap


class Runner:
    def __init__(self, engine: Engine, store: Store, *, local: ShellExecutor,
                 ssh: ShellExecutor, monitor: HostMonitor, operator: str = "") -> None:
        self.engine = engine
        self.store = store
        self.own_local, self.own_ssh = OwnOps(local), OwnOps(ssh)
        self.operator = operator
        self.links: dict[str, Link] = {}           # lab members' launchers, connected
        self.monitor = monitor
        self.setups = Setups(monitor.executor_for, engine.server_id)
        self.hub = Hub()
        self.runs: dict[JobId, tuple[int, asyncio.Task[None]]] = {}   # launch/watch tasks
        self.follows: dict[JobId, list[asyncio.Task[None]]] = {}
        self.timers: dict[JobId, asyncio.TimerHandle] = {}
        self._side: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self.loaded = asyncio.Event()     # the whole queue is in the engine
        self.synced = store.generation    # the commits known to be on disk
        self._summary: asyncio.TimerHandle | None = None
        self._after_sync: deque[tuple[int, Callable[[], None]]] = deque()
        self._commit_waiters: list[asyncio.Future[None]] = []
        self.check = bool(os.environ.get("WQ_CHECK"))     # Engine.validate after each event

    def ops(self, host: Host, user: str = "") -> Ops:
        """Who does the node work of `user`'s job on `host`: the server, or in a lab
        the user's launcher (LauncherAway when it is not connected)."""
        if self.engine.launchers is None or not user or user == self.operator:
            return self.own_local if host.local else self.own_ssh
        link = self.links.get(user)
        if link is None:
            raise LauncherAway(f"{user}'s launcher is not connected")
        return LauncherOps(link, self.engine.server_id)

    # -- events in ------------------------------------------------------------------

    def feed(self, event: fx.Event) -> list[asyncio.Task[Any]]:
        """Hand one event to the engine and carry out its effects; returns the tasks
        of the kills it started (wq rm waits for them). With WQ_CHECK set, the
        engine's books are checked after every event, and what is broken logged."""
        tasks = self.apply(self.engine.handle(event, time.time()))
        if self.check:
            try:
                self.engine.validate()
            except Inconsistent as exc:
                log.error("the engine's books disagree after %s: %s", type(event).__name__, exc)
        if self.engine.activity and self._summary is None:
            self._summary = asyncio.get_running_loop().call_later(SUMMARY, self._summarize)
        if isinstance(event, (fx.Submitted, fx.Loaded)) and len(event.jobs) >= LONG_LIVED:
            long_lived()
        return tasks

    def host_changed(self, name: str, status: HostStatus) -> None:
        if status.state is HostState.UP:
            self.feed(fx.HostUp(name, status.boot_id))
        else:
            self.setups.forget(name)
            self.feed(fx.HostDown(name, status.reason))

    def host_lost(self, name: str, reason: str) -> None:
        self.feed(fx.HostLost(name, reason))

    async def settle(self, host: Host, only: str | None = None) -> None:
        """Find out what became of the instances lost with `host` (of user `only`,
        if given), before it counts as up; raises ExecutorError when the host cannot
        be asked (it stays down). A lab member's are asked of their launcher, and
        left for its return when it is away."""
        lost = self.store.unsettled(host.name)
        if not lost:
            return
        for user in sorted({i.user for i in lost}):
            if only is not None and user != only:
                continue
            try:
                ops = self.ops(host, user)
            except LauncherAway:
                continue               # settled when their launcher is back
            theirs = [i for i in lost if i.user == user]
            try:
                found = await ops.status(host, self.engine.server_id,
                                         [i.name for i in theirs])
            except ExecutorError as exc:
                if isinstance(ops, OwnOps):
                    raise                   # the host itself cannot be asked: it stays down
                log.warning("cannot settle %s's instances on %s: %s", user, host.name, exc)
                continue
            kills = self.feed(fx.Settle(host.name, tuple(theirs), found, user))
            results = await asyncio.gather(*kills, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def remove(self, jobs: Sequence[Job], user: str, admin: bool) -> Runs:
        """wq rm: the engine's answer, once the kills it asked for are done. Many
        jobs go in steps of STEP seconds, letting other work through in between;
        the arrays named start nothing meanwhile."""
        many = len(jobs) > REMOVE_CHUNK
        arrays = _arrays(jobs) if many else frozenset()
        if many:
            self.feed(fx.Pause(arrays, True))
        results = Runs()
        kills: list[asyncio.Task[Any]] = []
        steps = Steps()
        try:
            for start in range(0, len(jobs), REMOVE_CHUNK):
                if many:
                    await steps.next()
                chunk = tuple(jobs[start:start + REMOVE_CHUNK])
                effects = self.engine.handle(fx.Remove(chunk, user, admin), time.time())
                kills += self.apply(effects)
                results.add(next(e for e in effects if isinstance(e, fx.Answer)).results)
        finally:
            if many:
                self.feed(fx.Pause(arrays, False))
        if len(jobs) >= BIG_REMOVAL:     # give the WAL's space back, the rows', the heap's
            self.commit()
            self.store.reclaim()
            self.engine.compact()
            asyncio.get_running_loop().call_later(MEMORY_BACK, give_memory_back)
        for outcome in await asyncio.gather(*kills, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.warning("kill failed: %s", outcome)
        return results

    def change(self, event: fx.Hold | fx.Requeue | fx.Update) -> tuple[fx.Result, ...]:
        """wq hold, release, requeue or update: the engine's answer, once written
        (a requeued running job is being killed: it waits again once it ended)."""
        effects = self.engine.handle(event, time.time())
        self.apply(effects)
        return next(e for e in effects if isinstance(e, fx.Answer)).results

    async def load(self, upto: JobId, left: int) -> None:
        """Hand the engine the waiting jobs (ids up to `upto`, `left` of them) a page
        at a time, letting requests through in between: a restart with a million
        queued answers at once, and starts jobs once the whole queue is in."""
        after = JobId(0)
        try:
            while left:
                await pause()
                jobs = self.store.waiting_after(after, upto, LOAD_PAGE)
                left = max(0, left - len(jobs)) if jobs else 0
                if jobs:
                    after = jobs[-1].id
                self.feed(fx.Loaded(tuple(jobs), left=left, tallies=targets.tallies(
                    self.store, jobs, self.engine.tallies)))
        except Exception:          # a bug: serve what is in rather than nothing
            log.exception("loading the queue failed after job %s", after)
            self.feed(fx.Loaded((), left=0))
        self.loaded.set()

    async def settle_for(self, user: str) -> None:
        """A member's launcher is back: settle their instances lost with hosts
        that came back up while it was away."""
        for host in list(self.engine.known.values()):
            if host.name in self.engine.down:
                continue
            try:
                await self.settle(host, user)
            except ExecutorError as exc:
                log.warning("cannot settle %s's instances on %s: %s", user, host.name, exc)

    # -- scheduling -------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """One scheduling pass per wake-up; wake-ups coalesce (a burst of job ends
        costs one pass)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.feed(fx.Schedule())
            except Exception:                      # a bug: log it, keep serving
                log.exception("scheduling pass failed")

    # -- effects out ----------------------------------------------------------------------

    def apply(self, effects: list[fx.Effect]) -> list[asyncio.Task[Any]]:
        kills: list[asyncio.Task[Any]] = []
        for effect in effects:
            match effect:
                case fx.Record() | fx.RecordMany() | fx.RecordSettled() | fx.RecordOffline() \
                        | fx.RecordLimits() | fx.RecordHeld() | fx.RecordSpec():
                    self._write(effect)
                case fx.Launch() | fx.Watch():
                    self._start_run(effect)
                case fx.Follow():
                    self._start_follow(effect)
                case fx.Kill():
                    kills.append(self.background(self._kill(effect),
                                                  f"killing job {effect.job_id}"))
                case fx.KillStale():
                    kills.append(self.background(self._kill_stale(effect), "",
                                                  quiet=True))
                case fx.Abandon():
                    run = self.runs.get(effect.job_id)
                    if run is not None and run[0] == effect.instance \
                            and run[1] is not asyncio.current_task():
                        run[1].cancel()
                        for follow in self.follows.pop(effect.job_id, ()):
                            follow.cancel()
                case fx.Publish():
                    self.hub.publish(effect.job_id, effect.event, effect.last)
                case fx.PublishArray():
                    self.hub.publish_array(effect.number, effect.event, effect.last)
                case fx.Lease():
                    self.hub.publish(effect.job_id, _lease(effect, self.engine.known))
                case fx.ArmTimer():
                    self.timers[effect.job_id] = asyncio.get_running_loop().call_later(
                        effect.delay, self._expired, effect.job_id, effect.instance)
                case fx.CancelTimer():
                    timer = self.timers.pop(effect.job_id, None)
                    if timer is not None:
                        timer.cancel()
                case fx.Reschedule():
                    self.wake()
                case fx.Hook():
                    self.background(self._hook(effect), f"job {effect.job.label}'s on_end")
                case fx.Answer():
                    pass
        return kills

    def _write(self, effect: fx.Effect) -> None:
        """Join the open transaction (opened at its first write, committed two turns
        of the loop later: the scheduling pass that jobs ending in this turn woke
        joins it, so a job's end and its successor's start share a commit). No
        launch reaches a node before its commit (`committed`)."""
        if not self.store.in_batch:
            self.store.begin()
            self.hub.hold()
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self.commit)
        now = time.time()
        match effect:
            case fx.Record():
                self.store.update(effect.job, now, effect.event, effect.detail,
                                  instance=effect.instance)
            case fx.RecordMany():
                self.store.update_many(list(effect.ids), effect.state, effect.ended,
                                       effect.reason, now, effect.event)
            case fx.RecordHeld():
                self.store.set_held(list(effect.ids), effect.held, now, effect.detail)
            case fx.RecordSpec():
                self.store.set_spec(effect.job, effect.spec, now, effect.detail)
            case fx.RecordSettled():
                self.store.settle(effect.instance, now, effect.event, effect.detail)
            case fx.RecordOffline():
                self.store.set_offline(effect.hosts, effect.offline, now, effect.reason)
            case fx.RecordLimits():
                self.store.set_limits(effect.user, effect.limits, now)

    def commit(self) -> None:
        """Commit what was recorded (also before any reply to a client); the
        watchers are told once it is durable."""
        self.store.commit()
        if self.hub.seal():
            self.after_durable(self.hub.deliver)
        waiting, self._commit_waiters = self._commit_waiters, []
        for done in waiting:
            _settle(done)

    async def committed(self) -> None:
        """Until what was recorded so far is committed."""
        if self.store.in_batch:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._commit_waiters.append(done)
            await done

    def _on_disk(self) -> bool:
        """Every commit made so far is on disk (or the store does not wait for it)."""
        return self.store.generation <= self.synced or not self.store.syncing

    def after_durable(self, callback: Callable[[], None]) -> None:
        """Call `callback` once every commit made so far is on disk."""
        if self._on_disk():
            callback()
        else:
            self._after_sync.append((self.store.generation, callback))

    async def durable(self) -> None:
        """Until everything recorded so far is committed and on disk."""
        await self.committed()
        if not self._on_disk():
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.after_durable(functools.partial(_settle, done))
            await done

    def on_synced(self, generation: int) -> None:
        """The store's syncer has put every commit up to `generation` on disk."""
        self.synced = max(self.synced, generation)
        while self._after_sync and self._after_sync[0][0] <= self.synced:
            self._after_sync.popleft()[1]()

    def _summarize(self) -> None:
        """One log line for the jobs started and ended in the last SUMMARY seconds."""
        self._summary = None
        counts, self.engine.activity = self.engine.activity, Counter()
        started = counts.pop("started", 0)
        ended = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        log.info("jobs in the last %g s: %d started%s", SUMMARY, started,
                 f", {ended}" if ended else "")

    def _expired(self, job_id: JobId, instance: int) -> None:
        self.timers.pop(job_id, None)
        self.feed(fx.SessionExpired(job_id, instance))

    def background(self, coro: Coroutine[Any, Any, Any], what: str,
                    quiet: bool = False) -> asyncio.Task[Any]:
        """Run `coro` with a reference kept until it ends; an exception is logged
        with its traceback unless `quiet` (whoever awaits the task reports it)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._side.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._side.discard(t)
            if not quiet and not t.cancelled() and t.exception() is not None:
                log.error("%s failed", what, exc_info=t.exception())
        task.add_done_callback(done)
        return task

    # -- instances ---------------------------------------------------------------------------

    def _start_run(self, effect: fx.Launch | fx.Watch) -> None:
        job = effect.job
        task = asyncio.get_running_loop().create_task(self._run(effect))
        self.runs[job.id] = (job.instance, task)

        def done(t: asyncio.Task[None]) -> None:
            if self.runs.get(job.id, (0, None))[1] is t:
                del self.runs[job.id]
        task.add_done_callback(done)

    async def _run(self, effect: fx.Launch | fx.Watch) -> None:
        """Launch (or watch again) one instance, and feed how it ended back. Whatever
        goes wrong ends the instance: an error of wq itself is an outcome too."""
        job, host = effect.job, effect.host
        resumed = isinstance(effect, fx.Watch)
        seen_running = False

        def on_started(info: Started) -> None:
            self.feed(fx.Started(job.id, job.instance, host.name, info.pid))

        def on_running() -> None:
            nonlocal seen_running
            seen_running = True
            log.info("job %s: still running on %s", job.label, host.name)

        hosts = [self.engine.known[h] for h in job.placement.hosts] \
            if job.placement else [host]
        self.setups.started(hosts)
        try:
            ops = self.ops(host, job.user)
            if isinstance(effect, fx.Watch):
                if effect.follow is not None:
                    self._start_follow(effect.follow)
                directory = effect.directory
                outcome = await ops.watch(job, host, directory, on_running)
            else:
                directory = effect.launch.dir
                if host.local:
                    # a power loss takes a local job down with the record of its
                    # start; a node elsewhere would run on, unrecorded
                    await self.committed()
                else:
                    await self.durable()
                if any(h.setup is not None for h in hosts):
                    await self.setups.ready(hosts)
                outcome = await ops.launch(job, host, effect.launch, hosts, on_started)
                if outcome.pid is not None and self.engine.audience.watches(job.id):
                    # it ended before its start was told: its client hears of the
                    # start, and gets its output, before its end
                    on_started(Started(outcome.pid, "", ""))
            if outcome.lost and outcome.error is None:
                outcome = await self._watch_after_loss(ops, job, host, directory)
        except SetupFailed as exc:      # the host is drained; the job waits for another
            reason = f"drained: {exc.reason}; wq node online {exc.host} tries again"
            log.warning("host %s %s", exc.host, reason)
            self.feed(fx.SetOffline((exc.host,), True, reason))
            outcome = Outcome(lost=True, never_started=True,
                              error=f"{exc.host} could not be set up")
        except LauncherAway:
            # the job's fate is its launcher's to tell: watched again when it is back
            log.info("job %s: %s's launcher went away; watched again when it is back",
                     job.label, job.user)
            return
        except HostUnreachable as exc:
            self.monitor.lost(host.name, str(exc))
            if resumed:
                outcome = Outcome(lost=True, unreachable=True,
                                  error=f"cannot reach {host.name}: {exc}")
            else:      # nothing reached the node: run it again, it costs no crash
                outcome = Outcome(lost=True, never_started=True,
                                  error=f"could not reach {host.name}")
        except ExecutorError as exc:
            outcome = Outcome(error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:                   # a bug: record it, keep serving
            log.exception("job %s: launch failed", job.label)
            outcome = internal(exc)
        for task in self.follows.pop(job.id, ()):
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(task, FOLLOW_DRAIN)
        if resumed and not seen_running and not outcome.lost:
            log.info("job %s: ended on %s while the server was away", job.label, host.name)
        # (not when cancelled, or when its launcher went away: it may run on)
        self.setups.ended(hosts)
        self.feed(fx.Ended(job.id, job.instance, outcome))

    async def _watch_after_loss(self, ops: Ops, job: Job, host: Host,
                                directory: str) -> Outcome:
        """The launching channel went away: ask the node how the job is doing."""
        try:
            return await ops.watch(job, host, directory)
        except LauncherAway:
            raise
        except ExecutorError as exc:
            self.monitor.lost(host.name, str(exc))
            return Outcome(lost=True, unreachable=True,
                           error=f"lost contact with {host.name}: {exc}")

    def _start_follow(self, effect: fx.Follow) -> None:
        self.follows.setdefault(effect.job_id, []).append(
            self.background(self._follow(effect), f"following job {effect.job_id}"))

    def follow_for(self, job: Job, watcher: Watcher) -> None:
        """A client attached to a running job: its output from the start, to it
        alone (the others have had it)."""
        assert job.placement is not None
        follow = self.engine.follow_of(job)
        watcher.own_output = True

        async def emit(stream: str, data: bytes) -> None:
            watcher.put(events.Output(stream, data.decode("utf-8", "surrogateescape")))

        async def run() -> None:
            try:
                await self.ops(follow.host, follow.user).follow(
                    job, follow.host, follow.directory, follow.stdout, follow.stderr, emit)
            except ExecutorError as exc:
                log.warning("job %s: cannot follow its output: %s", job.label, exc)
            finally:
                watcher.own_output = False
        self.follows.setdefault(job.id, []).append(
            self.background(run(), f"following job {job.label}"))

    async def _follow(self, effect: fx.Follow) -> None:
        async def emit(stream: str, data: bytes) -> None:
            self.hub.publish(effect.job_id, events.Output(
                stream, data.decode("utf-8", "surrogateescape")))
        job = self.engine.jobs.get(effect.job_id)
        if job is None:
            return
        try:
            await self.ops(effect.host, effect.user).follow(
                job, effect.host, effect.directory, effect.stdout, effect.stderr, emit)
        except ExecutorError as exc:
            log.warning("job %s: cannot follow its output: %s", effect.job_id, exc)

    async def _hook(self, effect: fx.Hook) -> None:
        """Run a job's on_end command: here for the server's own user, by their
        launcher for a lab member (not at all, logged, while it is away)."""
        await self.durable()               # the end it tells of is on disk first
        job, facts = effect.job, dict(effect.facts)
        if job.task is not None:           # an array: its tasks' states as the store has them
            counts = self.store.states_of(job.number)
            facts = onnode.hook_facts(job, "done" if set(counts) <= {"done"} else "failed",
                                        None, counts)
        label, command = facts["WQ_JOB_ID"], job.spec.on_end or ""
        if self.engine.launchers is None or job.user == self.operator:
            code, said = await hooks.run(command, job.spec.cwd,
                                         hooks.environment(dict(job.spec.env), facts))
        else:
            link = self.links.get(job.user)
            if link is None:
                log.warning("job %s: its on_end command did not run: %s's launcher is away",
                            label, job.user)
                return
            try:
                code, said = await LauncherOps(link, self.engine.server_id).hook(job, facts)
            except (ExecutorError, LauncherAway) as exc:
                code, said = None, str(exc)
        if code == 0:
            log.info("job %s: on_end command done", label)
        else:
            log.warning("job %s: on_end command %s%s", label,
                        "failed" if code is None else f"exited {code}",
                        f": {said}" if said else "")

    async def _kill(self, effect: fx.Kill) -> str:
        try:
            result = await self.ops(effect.host, effect.user).kill(
                effect.host, effect.directory, self.engine.kill_grace, effect.first,
                effect.name)
        except ExecutorError as exc:
            log.warning("job %s: could not kill instance %s: %s", effect.job_id,
                        effect.instance, exc)
            result = "unreachable"
        if effect.report:
            self.feed(fx.KillDone(effect.job_id, effect.instance))
        return result

    async def _kill_stale(self, effect: fx.KillStale) -> None:
        instance = effect.instance
        try:
            result = await self.ops(effect.host, effect.user).kill(
                effect.host, effect.directory, self.engine.kill_grace,
                name=instance.name)
        except ExecutorError as exc:
            raise ExecutorError(f"cannot kill the stale copy of job {instance.job_label} "
                                f"on {effect.host.name}: {exc}") from None
        self.feed(fx.StaleKilled(instance, result))

    # -- housekeeping ----------------------------------------------------------------------

    async def forget(self, ended_before: float, states: Iterable[JobState],
                     user: str | None = None) -> tuple[int, list[str]]:
        """Forget finished jobs (of `user` alone, if given: wq clean, and the
        pruning of the history), a chunk at a time, then delete their node
        directories; returns how many jobs, and the hosts that could not be
        reached (their directories stay)."""
        count, instances = 0, []
        while True:
            forgotten, gone = self.store.prune(ended_before, states, REMOVE_CHUNK,
                                               keep=self.engine.depended_on(), user=user)
            count += forgotten
            instances += gone
            if forgotten < REMOVE_CHUNK:
                break
            await pause()
        if count:
            self.store.reclaim()                # the forgotten rows' space, back on disk
            if count >= BIG_REMOVAL:
                asyncio.get_running_loop().call_later(MEMORY_BACK, give_memory_back)
        return count, await self.remove_dirs(instances)

    async def remove_dirs(self, instances: Iterable[Instance]) -> list[str]:
        """Delete the node directories of forgotten instances, one channel per host;
        returns the hosts that could not be reached (their directories stay)."""
        known = self.engine.known
        instances = [i for i in instances
                     if i.settled and i.host in known and i.placement is not None]
        by_host: dict[tuple[str, str], list[str]] = {}
        for i in instances:
            by_host.setdefault((i.host, i.user), []).append(i.name)
        down = self.monitor.down()
        skipped = {h for h, _ in by_host if h in down}

        async def remove(name: str, user: str, names: list[str]) -> str | None:
            host = known[name]
            try:
                ops = self.ops(host, user)
                for start in range(0, len(names), REMOVE_CHUNK):
                    await ops.remove(host, self.engine.server_id,
                                     names[start:start + REMOVE_CHUNK])
            except ExecutorError as exc:
                log.warning("cannot delete old job directories on %s: %s", name, exc)
                return name
            return None

        results = await asyncio.gather(*(remove(h, u, n) for (h, u), n in by_host.items()
                                          if h not in down))
        return sorted(skipped | {r for r in results if r is not None})

    async def close(self) -> None:
        """Stop watching; jobs keep running on their hosts and are resumed at restart."""
        if self.store.in_batch:
            self.commit()
        for timer in self.timers.values():
            timer.cancel()
        if self._summary is not None:
            self._summary.cancel()
            self._summarize()
        await self.setups.close()
        tasks = [t for _, t in self.runs.values()] + list(self._side)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _settle(done: asyncio.Future[None]) -> None:
    """Wake whoever awaits `done`, unless it gave up (was cancelled)."""
    if not done.done():
        done.set_result(None)


def _arrays(jobs: Sequence[Job]) -> frozenset[int]:
    """The arrays among jobs in order, found by jumping over each one's run: a
    million tasks of one array cost a few steps, not a scan. (Separate jobs
    are left out: pausing them would change nothing, and a million of them
    paused made every scheduling pass meanwhile a million steps long.)"""
    key = operator.attrgetter("number_shown")
    out = set()
    i = 0
    while i < len(jobs):
        if jobs[i].task is None:
            i += 1
            continue
        number = key(jobs[i])
        out.add(number)
        i = bisect.bisect_right(jobs, number, lo=i, key=key)
    return frozenset(out)


class Runs:
    """wq rm's results as runs of consecutive tasks of one array with the same
    result (12.1-50), kept as they come: a million tasks removed are one run."""

    def __init__(self) -> None:
        self._runs: list[list[Any]] = []  # [number, first task, last task, result, removed]

    def add(self, results: Iterable[fx.Result]) -> None:
        runs = self._runs
        for number, task, result, removed in results:
            last = runs[-1] if runs else None
            if last is not None and task is not None and last[1] is not None \
                    and number == last[0] and task == last[2] + 1 and result == last[3]:
                last[2] = task
            else:
                runs.append([number, task, task, result, removed])

    def rows(self) -> list[RemoveRow]:
        """One reply row per run: its selector, the result, and whether it is removed."""
        out = []
        for number, first, last, result, removed in self._runs:
            if first is None:
                label = str(number)
            else:
                label = f"{number}.{first}" if first == last else f"{number}.{first}-{last}"
            out.append(RemoveRow(label, result, removed))
        return out


class Steps:
    """Long work cut into steps of about STEP seconds, with a pause() between."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    async def next(self) -> None:
        """Before the next piece of work: pause, if this step has had its time."""
        if time.perf_counter() - self.began >= STEP:
            await pause()
            self.began = time.perf_counter()


async def pause() -> None:
    """Between two steps of a big request: give the event loop to other work for
    a moment, long enough for a request being read, answered and followed by the
    client's next one (a few round trips of a local socket), or a job end."""
    await asyncio.sleep(PAUSE)


def give_memory_back() -> None:
    """Return to the system the heap a big removal freed: glibc's malloc keeps
    freed memory for reuse, and after a million jobs went the server would stay
    hundreds of MB large."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def long_lived() -> None:
    """What the heap holds now lives long (jobs just accepted or loaded): move it
    out of the cycle collector's sweeps. Jobs hold no cycles (refcounting frees
    them), and a full collection over a million of them holds the loop ~0.3 s."""
    gc.freeze()


def _lease(effect: fx.Lease, known: Mapping[str, Host]) -> events.Lease:
    """What an interactive client needs to run its session itself."""
    host, job = effect.host, effect.job
    placement = job.placement if job is not None else None
    hosts = [known[h] for h in placement.hosts if h in known] if placement else [host]
    return events.Lease(host.name, host.local, wrapper.session_setup_script(effect.launch),
                        wrapper.session_command(effect.launch),
                        None if host.local else connect_options(host),
                        job.instance if job is not None else 0,
                        codec.placement_to_list(placement),
                        [dataclasses.asdict(calls.HostRef.of(h)) for h in hosts],
                        effect.launch.server_id, effect.launch.grace)
