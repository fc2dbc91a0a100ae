"""Dispatcher: turns scheduling decisions into launches, and outcomes into states.

One scheduling pass runs per wake-up (submit, job end, host or node change,
limit change); wake-ups coalesce through one asyncio.Event, so there is no
refresh loop. Every transition is committed to the store before anyone is
told about it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Coroutine, Iterable
from typing import Any

from wq import scheduler
from wq.errors import ExecutorError, HostUnreachable
from wq.executor import wrapper
from wq.executor.base import Outcome, ShellExecutor, Started
from wq.executor.ssh import connect_options
from wq.model import (Cluster, Host, Instance, Job, JobId, JobState, Limits, Placement,
                      Requirements)
from wq.scheduler import ClusterView, Usage
from wq.scheduler.queue import task_key
from wq.server.hosts import HostMonitor
from wq.server.verdict import Verdict, judge
from wq.store import Store

log = logging.getLogger(__name__)

WATCH_QUEUE = 4096        # events buffered per attached client before it is cut off
BIG_REMOVAL = 10_000      # jobs cancelled at once after which the WAL is truncated


class Watcher:
    """An attached client's queue of events about one job."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(WATCH_QUEUE)
        self.overflowed = False

    def put(self, event: dict[str, Any]) -> None:
        if event["event"] == "output" and self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            if event["event"] != "output":          # never lose the end of the job
                self.queue.get_nowait()
                self.queue.put_nowait(event)


class Dispatcher:
    def __init__(self, store: Store, cluster: Cluster, *, server_id: str,
                 local: ShellExecutor, ssh: ShellExecutor, monitor: HostMonitor,
                 kill_grace: float = 5.0,
                 starve_after: float = scheduler.DEFAULT_STARVE_AFTER) -> None:
        self.store = store
        self.server_id = server_id
        self.local, self.ssh = local, ssh
        self.monitor = monitor
        self.kill_grace = kill_grace
        self.starve_after = starve_after
        self.cluster = cluster
        self.known: dict[str, Host] = {h.name: h for h in cluster.hosts}
        # every waiting and running job, and indexes over them (kept by _put, _drop)
        self.jobs: dict[JobId, Job] = {}
        self.queue: dict[int, list[Job]] = {}           # number -> waiting, in task order
        self.waiting = scheduler.Waiting()               # the same jobs, as plan() takes them
        self.running: dict[JobId, Job] = {}
        self.running_in: Counter[int] = Counter()       # number -> running tasks
        self.active_in: Counter[int] = Counter()        # number -> waiting + running
        self.throttles: dict[int, int] = store.throttles()
        for job in sorted(store.jobs([JobState.WAITING, JobState.RUNNING]), key=task_key):
            self._put(job)
        self.current: dict[JobId, Instance] = {
            j.id: store.instance(j.id, j.instance) or _instance_of(j)
            for j in self.running.values()}
        self.array_watchers: dict[int, set[Watcher]] = {}
        self.array_counts: dict[int, Counter[str]] = {}   # final states, since submission
        self.offline = store.offline_hosts()
        self.limits = store.limits()
        self.watchers: dict[JobId, set[Watcher]] = {}
        self.tasks: dict[JobId, asyncio.Task[None]] = {}
        self._side: set[asyncio.Task[Any]] = set()       # kills, follows: referenced
        self.cancelling: set[JobId] = set()
        self.timed_out: set[JobId] = set()              # interactive sessions out of time
        self._deadlines: dict[JobId, asyncio.TimerHandle] = {}
        self.start_failures: dict[str, int] = {}        # per host, in a row
        self._wake = asyncio.Event()
        self._never_fits: dict[Requirements, str | None] = {}
        self._told: dict[JobId, str] = {}      # the waiting reason last sent to watchers
        self._untold: list[tuple[list[Watcher], dict[str, Any]]] = []  # awaiting commit()

    # -- background work ----------------------------------------------------------

    def _background(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run `coro` with a reference kept until it ends; an exception is logged with
        its traceback (the caller has made sure the job's state does not hang on it)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._side.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._side.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed", what, exc_info=t.exception())
        task.add_done_callback(done)
        return task

    # -- the cluster ------------------------------------------------------------

    def executor(self, host: Host) -> ShellExecutor:
        return self.local if host.local else self.ssh

    def host_down(self, name: str, reason: str) -> None:
        """A host was marked down: its batch jobs are lost now (and requeue within their
        crash limit), rather than when each one's own channel gives up. Their fate is
        settled when the host returns: a copy that lived on is taken back or killed."""
        for job in [j for j in self.running.values()
                    if j.placement is not None and j.placement.first_host == name
                    and not j.spec.interactive]:
            task = self.tasks.get(job.id)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            self._finish(job, Outcome(lost=True, unreachable=True,
                                      error=f"{name} is down: {reason}"))

    def set_cluster(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.known.update({h.name: h for h in cluster.hosts})
        self._never_fits.clear()
        self.monitor.track(list(cluster.hosts))
        self.wake()

    def view(self) -> ClusterView:
        return ClusterView.build(self.cluster, self.placements(), offline=self.offline,
                                 down=self.monitor.down())

    def placements(self) -> list[Placement]:
        return [j.placement for j in self.running.values() if j.placement is not None]

    def usage(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for job in self.running.values():
            if job.placement is not None:
                used = out.setdefault(job.user, Usage())
                used.jobs += 1
                used.cores += job.placement.cores
        return out

    def never_fits(self, req: Requirements) -> str | None:
        """Why a job can never fit the cluster as it is (cached per requirements)."""
        if req not in self._never_fits:
            refused = scheduler.admit(req, ClusterView.build(self.cluster))
            self._never_fits[req] = refused.reason if refused else None
        return self._never_fits[req]

    # -- recording -------------------------------------------------------------

    def _record(self) -> None:
        """Let the next writes join one transaction with every other transition of
        this turn of the event loop: it commits in the next turn (before any launch
        it holds reaches a node), and events wait for it."""
        if not self.store.in_batch:
            self.store.begin()
            asyncio.get_running_loop().call_soon(self.commit)

    def commit(self) -> None:
        """Commit what this turn recorded, then tell the watchers (also before any
        reply to a client)."""
        self.store.commit()
        untold, self._untold = self._untold, []
        for watchers, event in untold:
            for watcher in watchers:
                watcher.put(event)

    # -- scheduling -------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.schedule()
            except Exception:                      # a bug: log it, keep serving
                log.exception("scheduling pass failed")

    def schedule(self) -> None:
        if not self.queue:
            return
        room = {number: max(0, throttle - self.running_in[number])
                for number, throttle in self.throttles.items()}
        starts = scheduler.plan(self.waiting, self.view(), now=time.time(), usage=self.usage(),
                                limits=self.limits, starve_after=self.starve_after, room=room)
        for start in starts:
            self._start(self.jobs[start.job_id], start.placement)
        self._tell_waiting()

    def _tell_waiting(self) -> None:
        """Tell attached clients why their job still waits, when the reason changes."""
        watched = [j for j in (self.jobs.get(i) for i, w in self.watchers.items() if w)
                   if j is not None and j.state is JobState.WAITING]
        if not watched:
            return
        view, usage = self.view(), self.usage()
        for job in watched:
            never = self.never_fits(job.spec.requirements)
            reason = (f"can no longer fit: {never}" if never else
                      scheduler.waiting_reason(job, view, usage=usage, limits=self.limits))
            if self._told.get(job.id) != reason:
                self._told[job.id] = reason
                self.publish(job.id, {"event": "waiting", "reason": reason})

    def submit(self, job: Job, watcher: Watcher | None = None) -> None:
        self._put(job)
        if watcher is not None:
            self.watchers.setdefault(job.id, set()).add(watcher)
        self.wake()

    def submit_array(self, jobs: list[Job], throttle: int | None,
                     watcher: Watcher | None = None) -> None:
        number = jobs[0].number
        if throttle:
            self.throttles[number] = throttle
        for job in jobs:
            self._put(job)
        if watcher is not None:
            self.array_watchers.setdefault(number, set()).add(watcher)
        self.wake()

    # -- the indexes --------------------------------------------------------------

    def _put(self, job: Job) -> None:
        """Keep a new job, or a job in its new state, and index it."""
        old = self.jobs.get(job.id)
        if old is not None:
            self._unindex(old)
        else:
            self.active_in[job.number or job.id] += 1
        self.jobs[job.id] = job
        number = job.number or job.id
        if job.state is JobState.WAITING:
            group = self.queue.setdefault(number, [])
            if not group or task_key(group[-1]) < task_key(job):
                group.append(job)
            else:
                bisect.insort(group, job, key=task_key)
            self.waiting.add(job)
        else:
            self.running[job.id] = job
            self.running_in[number] += 1

    def _unindex(self, job: Job) -> None:
        number = job.number or job.id
        if job.state is JobState.WAITING:
            group = self.queue[number]
            group.remove(job)
            if not group:
                del self.queue[number]
            self.waiting.remove(job)
        else:
            del self.running[job.id]
            self.running_in[number] -= 1

    def _drop(self, job: Job, queued: bool = True) -> None:
        """A job ended for good; tell its array's watchers, and when it was the
        array's last, that the array is over. queued=False: the caller has taken
        it out of the queue already."""
        old = self.jobs.pop(job.id)
        if queued or old.state is not JobState.WAITING:
            self._unindex(old)
        number = job.number or job.id
        self.active_in[number] -= 1
        if job.task is None:
            return
        counts = self.array_counts.setdefault(number, Counter())
        counts[job.state.value] += 1
        self._tell(list(self.array_watchers.get(number, ())),
                   {"event": "task", "id": job.label, "state": job.state.value,
                    "code": job.exit_code, "reason": job.reason, "counts": dict(counts)})
        if self.active_in[number] <= 0:
            del self.active_in[number]
            self.throttles.pop(number, None)
            self._tell(list(self.array_watchers.pop(number, ())),
                       {"event": "array-end", "id": number,
                        "counts": dict(self.array_counts.pop(number))})

    # -- running jobs -------------------------------------------------------------

    def _start(self, job: Job, placement: Placement) -> None:
        self._record()
        now = time.time()
        job = dataclasses.replace(job, state=JobState.RUNNING, started=now, ended=None,
                                  placement=placement, instance=job.instance + 1, reason="")
        status = self.monitor.status.get(placement.first_host)
        instance = Instance(job.id, job.instance, placement.hosts, placement, started=now,
                            boot_id=status.boot_id if status else "", label=job.label)
        self.store.update(job, now, "started", ",".join(placement.hosts), instance=instance)
        self._put(job)
        self.current[job.id] = instance
        log.info("job %s started on %s", job.label, ",".join(placement.hosts))
        if not job.spec.interactive:
            self.tasks[job.id] = asyncio.ensure_future(self._run(job))
            return
        try:
            self._grant_lease(job)
        except Exception as exc:                 # a bug: the job ends, it never hangs in R
            log.exception("job %s: granting its session failed", job.label)
            self._finish(job, _internal(exc))

    def resume(self, job: Job) -> None:
        """Watch a job that was running when the server last stopped."""
        if job.spec.interactive:        # its lease lived on the old server's connection
            self._background(self._kill_quietly(job), f"cleaning up job {job.label}")
            self._finish(job, Outcome(lost=True, error="the server restarted during the "
                                                       "interactive session"))
            return
        self.tasks[job.id] = asyncio.ensure_future(self._run(job, resumed=True))

    def adopt(self, job: Job, instance: Instance) -> None:
        """Take back a requeued job whose lost instance turned out to live on (or to
        have finished) when its host returned: watch it instead of running it again."""
        self._record()
        now = time.time()
        job = dataclasses.replace(job, state=JobState.RUNNING, started=instance.started,
                                  placement=instance.placement, reason="")
        instance = dataclasses.replace(instance, outcome="running", ended=None, settled=True)
        self.store.update(job, now, "adopted", f"instance {instance.number} on "
                          f"{instance.host} outlived the outage", instance=instance)
        self._put(job)
        self.current[job.id] = instance
        log.info("job %s: instance %s on %s outlived the outage; watching it again",
                 job.label, instance.number, instance.host)
        self.tasks[job.id] = asyncio.ensure_future(self._run(job, resumed=True))

    def launch_spec(self, job: Job) -> wrapper.Launch:
        assert job.placement is not None
        spec, req, placement = job.spec, job.spec.requirements, job.placement
        first = placement.slices[0]
        host = self.known[first.host]
        env = wrapper.job_environment(dict(spec.env))
        env.update(WQ_JOB_ID=job.label, WQ_INSTANCE=str(job.instance), WQ_HOST=host.name,
                   WQ_NCORES=str(placement.cores), WQ_HOSTS=",".join(placement.hosts),
                   OMP_NUM_THREADS=str(req.threads or first.cores))
        if job.task is not None:
            env.update(WQ_ARRAY_ID=str(job.number), WQ_TASK_ID=str(job.task))
            if job.entry is not None:
                env["WQ_ENTRY"] = job.entry
        if first.gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in first.gpu_ids)
        lines = tuple(self.known[s.host].address or s.host
                      for s in placement.slices for _ in range(s.cores))
        hostfile = None if req.hostfile in (None, "auto") else req.hostfile
        command = spec.command.replace("%hostfile%", '"$WQ_HOSTFILE"')
        stdout, stderr = self.output_paths(job)
        return wrapper.Launch(self.server_id, f"{job.label}.{job.instance}", command, spec.cwd,
                              env,
                              stdout, stderr, lines, hostfile, spec.stdin,
                              time_limit=None if spec.interactive else req.time_limit,
                              grace=self.kill_grace)

    def output_paths(self, job: Job) -> tuple[str | None, str | None]:
        host = job.placement.first_host if job.placement else ""
        return tuple(  # type: ignore[return-value]
            None if p is None else wrapper.expand_pattern(p, label=job.label,
                                                          instance=job.instance, host=host)
            for p in (job.spec.stdout, job.spec.stderr))

    def output_words(self, job: Job) -> tuple[str, str]:
        out, err = self.output_paths(job)
        return (wrapper.output_word(out, "stdout", job.spec.cwd),
                wrapper.output_word(err, "stderr", job.spec.cwd))

    async def _run(self, job: Job, resumed: bool = False) -> None:
        """Launch (or watch again) one instance and finish it with its outcome.
        Whatever goes wrong ends the instance; nothing leaves a job running here
        without a task that will finish it."""
        try:
            assert job.placement is not None
            host = self.known[job.placement.first_host]
            launch = self.launch_spec(job)
        except Exception as exc:                  # a bug: the job ends with it
            log.exception("job %s: preparing its launch failed", job.label)
            self._finish(job, _internal(exc))
            return
        executor = self.executor(host)
        follow: list[asyncio.Task[None]] = []
        seen_running = False

        def on_started(info: Started) -> None:
            self.start_failures[host.name] = 0
            self.publish(job.id, {"event": "started", "host": host.name, "pid": info.pid,
                                  "instance": job.instance})
            if job.id in self.cancelling:
                self._background(self._kill(job), f"killing job {job.label}")
            if self.watchers.get(job.id):
                follow.append(asyncio.ensure_future(self._follow(job, host)))

        def on_running() -> None:
            nonlocal seen_running
            seen_running = True
            log.info("job %s: still running on %s", job.label, host.name)

        try:
            if resumed:
                if self.watchers.get(job.id):
                    follow.append(asyncio.ensure_future(self._follow(job, host)))
                outcome = await executor.watch(host, launch.dir, on_running)
            else:
                outcome = await executor.launch(host, launch, on_started)
            if outcome.lost and outcome.error is None:
                outcome = await self._watch_after_loss(job, host, launch)
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
            outcome = _internal(exc)
        for task in follow:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(task, 10)
        if resumed and not seen_running and not outcome.lost:
            log.info("job %s: ended on %s while the server was away", job.label, host.name)
        self._finish(job, outcome)

    async def _watch_after_loss(self, job: Job, host: Host, launch: wrapper.Launch) -> Outcome:
        """The launching channel went away: ask the node how the job is doing."""
        try:
            return await self.executor(host).watch(host, launch.dir)
        except ExecutorError as exc:
            self.monitor.lost(host.name, str(exc))
            return Outcome(lost=True, unreachable=True,
                           error=f"lost contact with {host.name}: {exc}")

    async def _follow(self, job: Job, host: Host) -> None:
        async def emit(stream: str, data: bytes) -> None:
            self.publish(job.id, {"event": "output", "stream": stream,
                                  "data": data.decode("utf-8", "surrogateescape")})
        out, err = self.output_words(job)
        try:
            await self.executor(host).follow(host, wrapper.job_dir(
                self.server_id, f"{job.label}.{job.instance}"), out, err, emit)
        except ExecutorError as exc:
            log.warning("job %s: cannot follow its output: %s", job.label, exc)

    # -- interactive jobs: the client runs the session, the server holds the lease ----

    def _grant_lease(self, job: Job) -> None:
        assert job.placement is not None
        if not self.watchers.get(job.id):          # its client left before it could start
            self._finish(job, Outcome(lost=True, error="the interactive client went away "
                                                       "before the job started"))
            return
        host = self.known[job.placement.first_host]
        launch = self.launch_spec(job)
        lease: dict[str, Any] = {
            "event": "lease", "host": host.name, "local": host.local,
            "setup": wrapper.session_setup_script(launch),
            "command": wrapper.session_command(launch)}
        if not host.local:
            lease["connect"] = connect_options(host)
        self.publish(job.id, lease)
        limit = job.spec.requirements.time_limit
        if limit is not None:
            self._deadlines[job.id] = asyncio.get_running_loop().call_later(
                limit, self._session_out_of_time, job)

    def _session_out_of_time(self, job: Job) -> None:
        current = self.jobs.get(job.id)
        if current is None or current.instance != job.instance:
            return
        self.timed_out.add(job.id)
        self.publish(job.id, {"event": "end", "reason": "its time limit ran out",
                              "timeout": True})
        self._background(self._end_interactive(job), f"ending job {job.label}'s session")

    def end_session(self, job_id: JobId, code: int | None, reason: str,
                    lost: bool = False) -> None:
        """The interactive client says its session is over (or never began, or was cut)."""
        job = self.jobs.get(job_id)
        if job is None:
            return
        if lost or (code is None and not reason):
            self._finish(job, Outcome(lost=True, error=reason or None))
        elif code is None:
            self._finish(job, Outcome(error=reason, exit_code=-1))
        else:
            self._finish(job, Outcome(exit_code=code))

    def client_gone(self, job_id: JobId) -> None:
        """An attached client disconnected: an interactive job's lease ends with it."""
        job = self.jobs.get(job_id)
        if job is None or not job.spec.interactive:
            return
        if job.state is JobState.WAITING:
            self._cancel_waiting([job], "its interactive client went away")
            return
        self._background(self._kill_quietly(job),          # no stray processes on the node
                         f"cleaning up job {job.label}")
        self._finish(job, Outcome(lost=True, error="the interactive client went away"))

    async def _kill_quietly(self, job: Job) -> None:
        try:
            await self._kill(job)
        except ExecutorError as exc:
            log.warning("job %s: could not clean up its session: %s", job.label, exc)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        """An instance ended: record it, then end the job or queue it again."""
        current = self.jobs.get(job.id)
        if (current is None or current.state is not JobState.RUNNING
                or current.instance != job.instance):
            return                                   # an instance already dealt with
        self._record()
        self.tasks.pop(job.id, None)
        deadline = self._deadlines.pop(job.id, None)
        if deadline is not None:
            deadline.cancel()
        host = current.placement.first_host if current.placement else ""
        verdict = judge(current, outcome, cancelled=job.id in self.cancelling,
                        session_timed_out=job.id in self.timed_out, host=host)
        self.cancelling.discard(job.id)
        self.timed_out.discard(job.id)
        now = time.time()
        ended = now      # or when the node says it ended, while the server was away
        if outcome.ended is not None and (current.started or 0) <= outcome.ended <= now:
            ended = outcome.ended
        instance = dataclasses.replace(
            self.current.pop(job.id) if job.id in self.current else _instance_of(current),
            ended=ended,
            outcome=verdict.instance, exit_code=verdict.exit_code,
            detail=verdict.reason, settled=verdict.settled)
        if verdict.start_failure:
            self._start_failed(host, outcome.error or "")
        if verdict.state is JobState.WAITING:
            self._again(current, verdict, instance, now)
            return
        done = dataclasses.replace(current, state=verdict.state, ended=ended,
                                   exit_code=verdict.exit_code, reason=verdict.reason)
        self.store.update(done, now, verdict.state.value,
                          verdict.reason or f"exit {verdict.exit_code}", instance=instance)
        self._drop(done)
        log.info("job %s %s%s", job.label, verdict.state.value,
                 f": {verdict.reason}" if verdict.reason else "")
        self.publish(job.id, {"event": "exit", "state": verdict.state.value,
                              "code": verdict.exit_code, "reason": verdict.reason})
        self.watchers.pop(job.id, None)
        self.wake()

    def _again(self, job: Job, verdict: Verdict, instance: Instance, now: float) -> None:
        """Queue a job for another instance (requeued after a loss, or retried)."""
        avoid = job.avoid
        if verdict.avoid:
            avoid = tuple(dict.fromkeys((*avoid, *instance.hosts)))
        again = dataclasses.replace(
            job, state=JobState.WAITING, placement=None, started=None, reason=verdict.reason,
            crashes=job.crashes + verdict.crash, failures=job.failures + verdict.failure,
            avoid=avoid)
        event = "retried" if verdict.failure else "requeued"
        self.store.update(again, now, event, verdict.reason, instance=instance)
        self._put(again)
        log.info("job %s %s: %s", job.label, event, verdict.reason)
        self.publish(job.id, {"event": "requeued", "reason": verdict.reason})
        self.wake()

    def _start_failed(self, host: str, error: str) -> None:
        """Count a job the host could not start; drain the host after drain_after."""
        count = self.start_failures.get(host, 0) + 1
        self.start_failures[host] = count
        limit = self.known[host].drain_after if host in self.known else 0
        if limit and count >= limit and host not in self.offline:
            reason = (f"drained: {count} jobs in a row failed to start here "
                      f"(last: {error}); wq node online {host} returns it")
            log.warning("host %s %s", host, reason)
            self.set_offline([host], True, reason)

    # -- watchers -------------------------------------------------------------------

    def publish(self, job_id: JobId, event: dict[str, Any]) -> None:
        """Tell a job's watchers (as they are now), once what happened is committed."""
        if event["event"] in ("started", "lease", "exit"):
            self._told.pop(job_id, None)
        self._tell(list(self.watchers.get(job_id, ())), event)

    def _tell(self, watchers: list[Watcher], event: dict[str, Any]) -> None:
        if not watchers:
            return
        if self.store.in_batch:
            self._untold.append((watchers, event))
            return
        for watcher in watchers:
            watcher.put(event)

    def unsubscribe(self, job: Job, watcher: Watcher) -> None:
        if job.task is None:
            self.watchers.get(job.id, set()).discard(watcher)
        else:
            self.array_watchers.get(job.number, set()).discard(watcher)

    # -- removal, nodes, limits -------------------------------------------------------

    async def remove(self, jobs: Iterable[Job], user: str,
                     is_admin: bool) -> list[dict[str, Any]]:
        """wq rm: cancel waiting jobs, kill running ones (`jobs` as found by the handler:
        the live ones from here, finished ones from the store)."""
        results: list[dict[str, Any]] = []
        kills: list[asyncio.Future[Any]] = []
        queued: list[Job] = []
        for found in jobs:
            job = self.jobs.get(found.id)
            if job is None:
                results.append({"id": found.label, "result": f"already {found.state.value}"})
                continue
            if job.user != user and not is_admin:
                results.append({"id": job.label,
                                "result": f"not yours (it belongs to {job.user})"})
                continue
            if job.state is JobState.WAITING:
                queued.append(job)
                results.append({"id": job.label, "result": "removed from the queue"})
            elif job.spec.interactive:
                self.cancelling.add(job.id)
                self.publish(job.id, {"event": "end", "reason": "removed with wq rm"})
                kills.append(asyncio.ensure_future(self._end_interactive(job)))
                results.append({"id": job.label, "result": "session ended"})
            else:
                self.cancelling.add(job.id)
                kills.append(asyncio.ensure_future(self._kill(job)))
                results.append({"id": job.label, "result": "killed"})
        if queued:
            self._cancel_waiting(queued, "removed with wq rm")
        if kills:
            outcomes = await asyncio.gather(*kills, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    log.warning("kill failed: %s", outcome)
        self.wake()
        return results

    def _cancel_waiting(self, jobs: list[Job], reason: str) -> None:
        """Cancel waiting jobs (all of an array's, at no more cost than one pass)."""
        self._record()
        now = time.time()
        gone = {j.id for j in jobs}
        self.waiting.remove_many(jobs)
        for number in {j.number or j.id for j in jobs}:
            kept = [j for j in self.queue.get(number, ()) if j.id not in gone]
            if kept:
                self.queue[number] = kept
            else:
                self.queue.pop(number, None)
        done = [dataclasses.replace(j, state=JobState.CANCELLED, ended=now, reason=reason)
                for j in jobs]
        self.store.update_many(done, now, "cancelled", reason)
        if len(done) >= BIG_REMOVAL:       # once committed, give the WAL's space back
            asyncio.get_running_loop().call_soon(self.store.checkpoint)
        for job in done:
            self._drop(job, queued=False)
            self.publish(job.id, {"event": "exit", "state": "cancelled", "code": None,
                                  "reason": reason})
            self.watchers.pop(job.id, None)
        self.wake()

    async def _end_interactive(self, job: Job) -> None:
        """wq rm of an interactive job: its client closes the session; the node makes sure."""
        try:
            await self._kill(job, first="HUP")
        finally:
            if job.id in self.jobs:                 # the client has not reported yet
                self._finish(job, Outcome(lost=True, error="removed with wq rm"))

    async def _kill(self, job: Job, first: str = "TERM") -> str:
        assert job.placement is not None
        host = self.known[job.placement.first_host]
        directory = wrapper.job_dir(self.server_id, f"{job.label}.{job.instance}")
        return await self.executor(host).kill(host, directory, self.kill_grace, first)

    def set_offline(self, hosts: list[str], offline: bool, reason: str = "") -> None:
        self.store.set_offline(hosts, offline, time.time(), reason)
        self.offline = self.store.offline_hosts()
        if not offline:
            for host in hosts:
                self.start_failures.pop(host, None)
        self.wake()

    def set_limits(self, user: str, limits: Limits) -> None:
        self.store.set_limits(user, limits, time.time())
        self.limits = self.store.limits()
        self.wake()

    async def remove_dirs(self, instances: Iterable[Instance]) -> list[str]:
        """Delete the node directories of forgotten instances, one channel per host;
        returns the hosts that could not be reached (their directories stay)."""
        by_host: dict[str, list[str]] = {}
        for i in instances:
            if i.settled and i.host in self.known and i.placement is not None:
                by_host.setdefault(i.host, []).append(i.name)
        down = self.monitor.down()
        skipped = sorted(h for h in by_host if h in down)

        async def remove(name: str, names: list[str]) -> str | None:
            host = self.known[name]
            try:
                for start in range(0, len(names), 2000):
                    await self.executor(host).remove(host, self.server_id,
                                                     names[start:start + 2000])
            except ExecutorError as exc:
                log.warning("cannot delete old job directories on %s: %s", name, exc)
                return name
            return None

        results = await asyncio.gather(*(remove(h, n) for h, n in by_host.items()
                                          if h not in down))
        return skipped + sorted(r for r in results if r is not None)

    async def close(self) -> None:
        """Stop watching; jobs keep running on their hosts and are resumed at restart."""
        self.commit()
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _internal(exc: Exception) -> Outcome:
    """How an instance ends when wq itself failed (a bug, logged by the caller)."""
    return Outcome(error=f"internal error: {type(exc).__name__}: {exc}", exit_code=-1)


def _instance_of(job: Job) -> Instance:
    """The record of a job's current instance, for one the store has none of
    (a database from before instances were recorded)."""
    hosts = job.placement.hosts if job.placement else ()
    return Instance(job.id, job.instance, hosts, job.placement, started=job.started,
                    label=job.label)
