"""Dispatcher: turns scheduling decisions into launches, and outcomes into states.

One scheduling pass runs per wake-up (submit, job end, host or node change,
limit change); wake-ups coalesce through one asyncio.Event, so there is no
refresh loop. Every transition is committed to the store before anyone is
told about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Iterable
from typing import Any

from wq import scheduler
from wq.errors import ExecutorError, HostUnreachable
from wq.executor import wrapper
from wq.executor.base import Outcome, ShellExecutor, Started
from wq.executor.ssh import connect_options
from wq.model import Cluster, Host, Job, JobId, JobState, Limits, Placement, Requirements
from wq.scheduler import ClusterView, Usage
from wq.server.hosts import HostMonitor
from wq.store import Store

log = logging.getLogger(__name__)

WATCH_QUEUE = 4096        # events buffered per attached client before it is cut off


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
        self.jobs: dict[JobId, Job] = {
            j.id: j for j in store.jobs([JobState.WAITING, JobState.RUNNING])}
        self.offline = store.offline_hosts()
        self.limits = store.limits()
        self.watchers: dict[JobId, set[Watcher]] = {}
        self.tasks: dict[JobId, asyncio.Task[None]] = {}
        self.cancelling: set[JobId] = set()
        self._wake = asyncio.Event()
        self._never_fits: dict[Requirements, str | None] = {}
        self._told: dict[JobId, str] = {}      # the waiting reason last sent to watchers

    # -- the cluster ------------------------------------------------------------

    def executor(self, host: Host) -> ShellExecutor:
        return self.local if host.local else self.ssh

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
        return [j.placement for j in self.jobs.values()
                if j.state is JobState.RUNNING and j.placement is not None]

    def usage(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for job in self.jobs.values():
            if job.state is JobState.RUNNING and job.placement is not None:
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
        waiting = [j for j in self.jobs.values() if j.state is JobState.WAITING]
        if not waiting:
            return
        starts = scheduler.plan(waiting, self.view(), now=time.time(), usage=self.usage(),
                                limits=self.limits, starve_after=self.starve_after)
        for start in starts:
            self._start(self.jobs[start.job_id], start.placement)
        self._tell_waiting()

    def _tell_waiting(self) -> None:
        """Tell attached clients why their job still waits, when the reason changes."""
        watched = [j for j in self.jobs.values()
                   if j.state is JobState.WAITING and self.watchers.get(j.id)]
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
        self.jobs[job.id] = job
        if watcher is not None:
            self.watchers.setdefault(job.id, set()).add(watcher)
        self.wake()

    # -- running jobs -------------------------------------------------------------

    def _start(self, job: Job, placement: Placement) -> None:
        now = time.time()
        job = dataclasses.replace(job, state=JobState.RUNNING, started=now, ended=None,
                                  placement=placement, instance=job.instance + 1, reason="")
        self.store.update(job, now, "started", ",".join(placement.hosts))
        self.jobs[job.id] = job
        log.info("job %s started on %s", job.id, ",".join(placement.hosts))
        if job.spec.interactive:
            self._grant_lease(job)
        else:
            self.tasks[job.id] = asyncio.ensure_future(self._run(job))

    def resume(self, job: Job) -> None:
        """Watch a job that was running when the server last stopped."""
        if job.spec.interactive:        # its lease lived on the old server's connection
            asyncio.ensure_future(self._kill_quietly(job))
            self._finish(job.id, Outcome(lost=True, error="the server restarted during the "
                                                          "interactive session"))
            return
        self.tasks[job.id] = asyncio.ensure_future(self._run(job, resumed=True))

    def launch_spec(self, job: Job) -> wrapper.Launch:
        assert job.placement is not None
        spec, req, placement = job.spec, job.spec.requirements, job.placement
        first = placement.slices[0]
        host = self.known[first.host]
        env = wrapper.job_environment(dict(spec.env))
        env.update(WQ_JOB_ID=str(job.id), WQ_INSTANCE=str(job.instance), WQ_HOST=host.name,
                   WQ_NCORES=str(placement.cores), WQ_HOSTS=",".join(placement.hosts),
                   OMP_NUM_THREADS=str(req.threads or first.cores))
        if first.gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in first.gpu_ids)
        lines = tuple(self.known[s.host].address or s.host
                      for s in placement.slices for _ in range(s.cores))
        hostfile = None if req.hostfile in (None, "auto") else req.hostfile
        command = spec.command.replace("%hostfile%", '"$WQ_HOSTFILE"')
        stdout, stderr = self.output_paths(job)
        return wrapper.Launch(self.server_id, job.id, job.instance, command, spec.cwd, env,
                              stdout, stderr, lines, hostfile, spec.stdin)

    def output_paths(self, job: Job) -> tuple[str | None, str | None]:
        host = job.placement.first_host if job.placement else ""
        return tuple(  # type: ignore[return-value]
            None if p is None else wrapper.expand_pattern(p, job_id=job.id,
                                                          instance=job.instance, host=host)
            for p in (job.spec.stdout, job.spec.stderr))

    def output_words(self, job: Job) -> tuple[str, str]:
        out, err = self.output_paths(job)
        return (wrapper.output_word(out, "stdout", job.spec.cwd),
                wrapper.output_word(err, "stderr", job.spec.cwd))

    async def _run(self, job: Job, resumed: bool = False) -> None:
        assert job.placement is not None
        host = self.known[job.placement.first_host]
        launch = self.launch_spec(job)
        executor = self.executor(host)
        follow: list[asyncio.Task[None]] = []

        def on_started(info: Started) -> None:
            self.publish(job.id, {"event": "started", "host": host.name, "pid": info.pid})
            if job.id in self.cancelling:
                asyncio.ensure_future(self._kill(job))
            if self.watchers.get(job.id):
                follow.append(asyncio.ensure_future(self._follow(job, host)))

        try:
            if resumed:
                if self.watchers.get(job.id):
                    follow.append(asyncio.ensure_future(self._follow(job, host)))
                outcome = await executor.watch(host, launch.dir)
            else:
                outcome = await executor.launch(host, launch, on_started)
            if outcome.lost and outcome.error is None:
                outcome = await self._watch_after_loss(job, host, launch)
        except HostUnreachable as exc:
            self.monitor.lost(host.name, str(exc))
            if resumed:
                outcome = Outcome(lost=True, error=f"cannot reach {host.name}: {exc}")
            else:
                self._requeue(job, f"could not reach {host.name}; requeued")
                return
        except ExecutorError as exc:
            outcome = Outcome(error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:                   # a bug: record it, keep serving
            log.exception("job %s: launch failed", job.id)
            outcome = Outcome(error=f"internal error: {exc}")
        for task in follow:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(task, 10)
        self._finish(job.id, outcome)

    async def _watch_after_loss(self, job: Job, host: Host, launch: wrapper.Launch) -> Outcome:
        """The launching channel went away: ask the node how the job is doing."""
        try:
            return await self.executor(host).watch(host, launch.dir)
        except ExecutorError as exc:
            self.monitor.lost(host.name, str(exc))
            return Outcome(lost=True, error=f"lost contact with {host.name}: {exc}")

    async def _follow(self, job: Job, host: Host) -> None:
        async def emit(stream: str, data: bytes) -> None:
            self.publish(job.id, {"event": "output", "stream": stream,
                                  "data": data.decode("utf-8", "surrogateescape")})
        out, err = self.output_words(job)
        try:
            await self.executor(host).follow(host, wrapper.job_dir(
                self.server_id, job.id, job.instance), out, err, emit)
        except ExecutorError as exc:
            log.warning("job %s: cannot follow its output: %s", job.id, exc)

    # -- interactive jobs: the client runs the session, the server holds the lease ----

    def _grant_lease(self, job: Job) -> None:
        assert job.placement is not None
        if not self.watchers.get(job.id):          # its client left before it could start
            self._finish(job.id, Outcome(lost=True, error="the interactive client went away "
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

    def end_session(self, job_id: JobId, code: int | None, reason: str,
                    lost: bool = False) -> None:
        """The interactive client says its session is over (or never began, or was cut)."""
        if lost or (code is None and not reason):
            self._finish(job_id, Outcome(lost=True, error=reason or None))
        elif code is None:
            self._finish(job_id, Outcome(error=reason))
        else:
            self._finish(job_id, Outcome(exit_code=code))

    def client_gone(self, job_id: JobId) -> None:
        """An attached client disconnected: an interactive job's lease ends with it."""
        job = self.jobs.get(job_id)
        if job is None or not job.spec.interactive:
            return
        if job.state is JobState.WAITING:
            self._cancel_waiting(job, "its interactive client went away")
            return
        asyncio.ensure_future(self._kill_quietly(job))   # no stray processes on the node
        self._finish(job_id, Outcome(lost=True, error="the interactive client went away"))

    async def _kill_quietly(self, job: Job) -> None:
        try:
            await self._kill(job)
        except ExecutorError as exc:
            log.warning("job %s: could not clean up its session: %s", job.id, exc)

    def _requeue(self, job: Job, reason: str) -> None:
        now = time.time()
        job = dataclasses.replace(job, state=JobState.WAITING, placement=None, started=None,
                                  reason=reason)
        self.store.update(job, now, "requeued", reason)
        self.jobs[job.id] = job
        self.tasks.pop(job.id, None)
        self.wake()

    def _finish(self, job_id: JobId, outcome: Outcome) -> None:
        self.tasks.pop(job_id, None)
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.RUNNING:
            return
        code = outcome.exit_code
        if job_id in self.cancelling:
            state, reason = JobState.CANCELLED, "removed with wq rm"
        elif outcome.lost:
            state, reason = JobState.LOST, outcome.error or "no exit status could be found"
        elif outcome.error and code in (None, wrapper.RC_NO_CWD, wrapper.RC_NO_OUTPUT):
            state, reason, code = JobState.FAILED, outcome.error, None   # it never ran
        elif code is None:
            state, reason = JobState.LOST, "no exit status could be found"
        elif code == 0:
            state, reason = JobState.DONE, ""
        else:
            state, reason = JobState.FAILED, describe_exit(code)
        self.cancelling.discard(job_id)
        now = time.time()
        job = dataclasses.replace(job, state=state, ended=now, exit_code=code, reason=reason)
        self.store.update(job, now, state.value, reason or f"exit {code}")
        del self.jobs[job_id]
        log.info("job %s %s%s", job_id, state.value, f": {reason}" if reason else "")
        self.publish(job_id, {"event": "exit", "state": state.value, "code": code,
                              "reason": reason})
        self.watchers.pop(job_id, None)
        self.wake()

    # -- watchers -------------------------------------------------------------------

    def publish(self, job_id: JobId, event: dict[str, Any]) -> None:
        if event["event"] in ("started", "lease", "exit"):
            self._told.pop(job_id, None)
        for watcher in self.watchers.get(job_id, ()):
            watcher.put(event)

    def unsubscribe(self, job_id: JobId, watcher: Watcher) -> None:
        self.watchers.get(job_id, set()).discard(watcher)

    # -- removal, nodes, limits -------------------------------------------------------

    async def remove(self, ids: Iterable[int], user: str, is_admin: bool) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        kills: list[asyncio.Future[Any]] = []
        for raw_id in ids:
            job_id = JobId(raw_id)
            job = self.jobs.get(job_id)
            if job is None:
                old = self.store.get(job_id)
                result = f"already {old.state.value}" if old else "no such job"
                results.append({"id": job_id, "result": result})
                continue
            if job.user != user and not is_admin:
                results.append({"id": job_id, "result": f"not yours (it belongs to {job.user})"})
                continue
            if job.state is JobState.WAITING:
                self._cancel_waiting(job, "removed with wq rm")
                results.append({"id": job_id, "result": "removed from the queue"})
            elif job.spec.interactive:
                self.cancelling.add(job_id)
                self.publish(job_id, {"event": "end", "reason": "removed with wq rm"})
                kills.append(asyncio.ensure_future(self._end_interactive(job)))
                results.append({"id": job_id, "result": "session ended"})
            else:
                self.cancelling.add(job_id)
                kills.append(asyncio.ensure_future(self._kill(job)))
                results.append({"id": job_id, "result": "killed"})
        if kills:
            outcomes = await asyncio.gather(*kills, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    log.warning("kill failed: %s", outcome)
        self.wake()
        return results

    def _cancel_waiting(self, job: Job, reason: str) -> None:
        now = time.time()
        done = dataclasses.replace(job, state=JobState.CANCELLED, ended=now, reason=reason)
        self.store.update(done, now, "cancelled", reason)
        del self.jobs[job.id]
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
                self._finish(job.id, Outcome(lost=True, error="removed with wq rm"))

    async def _kill(self, job: Job, first: str = "TERM") -> str:
        assert job.placement is not None
        host = self.known[job.placement.first_host]
        directory = wrapper.job_dir(self.server_id, job.id, job.instance)
        return await self.executor(host).kill(host, directory, self.kill_grace, first)

    def set_offline(self, hosts: list[str], offline: bool) -> None:
        self.store.set_offline(hosts, offline, time.time())
        self.offline = self.store.offline_hosts()
        self.wake()

    def set_limits(self, user: str, limits: Limits) -> None:
        self.store.set_limits(user, limits, time.time())
        self.limits = self.store.limits()
        self.wake()

    async def close(self) -> None:
        """Stop watching; jobs keep running on their hosts and are resumed at restart."""
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def describe_exit(code: int) -> str:
    if code > 128:
        try:
            return f"killed by signal {signal.Signals(code - 128).name} (exit code {code})"
        except ValueError:
            pass
    return f"exit code {code}"
