"""The engine: the server's decisions as a pure state machine.

`Engine.handle(event, now)` takes one event (effects.py) and returns the
effects it calls for, in order; it does no I/O, keeps no clock and knows no
asyncio. It holds the only in-memory copy of the live jobs (waiting and
running) and every index over them. The runner (runner.py) carries the
effects out and feeds results back; the store is written only through
Record* effects, which the runner commits before it tells anyone anything
that follows them.

What happens to a job:
  * Submitted: it waits; a Schedule event's pass starts what fits (Record
    "started", then Launch, or a Lease for an interactive job).
  * Started (the node's word): its watchers hear of it; a watched job's
    output is followed; a job removed while launching is killed now.
  * Ended: verdict.judge() says what the outcome means: a final state, or
    another instance (requeued within its crash limit, retried within its
    retries).
  * HostLost: its batch jobs are lost now and requeue; Settle decides, when
    the host returns, what became of each lost instance (adopted, a stale copy
    killed, or just recorded).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
import heapq
from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from wq import scheduler
from wq.executor.outcome import Outcome
from wq.model import (After, Cluster, Host, Instance, Job, JobId, JobState, Limits,
                      Placement, Requirements, Sample)
from wq.protocol import events
from wq.scheduler import ClusterView, Usage, deps
from wq.scheduler.deps import Key, Tally
from wq.scheduler.queue import JobClass, task_key
from wq.scheduler.load import wq_share
from wq.scheduler.why import Facts, HostWhy, why_hosts
from wq.server import effects as fx
from wq.server.audience import Audience
from wq.server.counting import decrement
from wq.server import onnode
from wq.server import rights
from wq.server.verdict import Verdict, judge

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, cluster: Cluster, *, server_id: str,
                 offline: dict[str, str] | None = None,
                 limits: dict[str, Limits] | None = None, kill_grace: float = 5.0,
                 starve_after: float = scheduler.DEFAULT_STARVE_AFTER,
                 launchers: set[str] | None = None) -> None:
        self.server_id = server_id
        # the users whose jobs can be launched now: None, everyone's (a server run
        # for one user); in a lab, the operator's and those whose launcher is in
        self.launchers = launchers
        self.deferred: dict[str, list[fx.Kill]] = {}   # kills waiting for a launcher
        self.settling: set[str] = set()     # launchers back, settling what was lost
        # fair share between users (a lab): their weights; None: the plain queue order
        self.shares = None if cluster.lab is None else dict(cluster.lab.weights)
        self.kill_grace = kill_grace
        self.starve_after = starve_after
        self.cluster = cluster
        self.known: dict[str, Host] = {h.name: h for h in cluster.hosts}
        self.offline: dict[str, str] = dict(offline or {})     # host -> why
        self.limits: dict[str, Limits] = dict(limits or {})
        self.down: set[str] = set(self.known)     # until a probe (or HostUp) says otherwise
        self.boot_ids: dict[str, str] = {}
        # every waiting and running job, and the indexes over them (kept by _put, _drop)
        self.jobs: dict[JobId, Job] = {}
        self.waiting = scheduler.Waiting()               # waiting jobs, as plan() takes them
        # number -> its waiting jobs in order: a job's own [job], an array's class
        self.queue: dict[int, list[Job] | JobClass] = {}
        self.running: dict[JobId, Job] = {}
        self.running_in: Counter[int] = Counter()       # number -> running tasks
        self.active_in: Counter[int] = Counter()        # number -> waiting + running
        self.throttles: dict[int, int] = {}
        self.current: dict[JobId, Instance] = {}        # running jobs' instances
        self.array_counts: dict[int, Counter[str]] = {}   # final states, since submission
        self.arriving: set[int] = set()                 # arrays whose tasks are still fed in
        self.unloaded = 0                               # waiting jobs still to be loaded
        self.audience = Audience()                      # attached clients: who, told what
        self.paused: Counter[int] = Counter()           # arrays none of whose tasks start
        # jobs started and ended since the runner last logged a summary line
        # (one line every few seconds, not two a job: a job's own lines are debug)
        self.activity: Counter[str] = Counter()
        self.hooked: dict[int, Job] = {}                # arrays with on_end: a task of each
        # waiting jobs blocked by their dependencies: the ones not met yet; the targets they
        # wait on, with what is known of each
        self.blocked: dict[JobId, list[After]] = {}
        self.dependents: dict[Key, set[JobId]] = {}
        self.tallies: dict[Key, Tally] = {}
        # waiting jobs kept out of the scheduler's queue (by dependencies, or held by
        # their user: Job.held), by number; and how many each user has
        self.blocked_queue: dict[int, JobClass] = {}
        self.aside_of: Counter[str] = Counter()
        self._changed: list[Key] = []                   # targets whose tally changed
        self.cancelling: dict[JobId, str] = {}          # being killed, and why
        self.requeueing: dict[JobId, str] = {}          # being killed to wait again, and why
        self.timed_out: set[JobId] = set()              # interactive sessions out of time
        self.timers: set[JobId] = set()                 # sessions with a time limit armed
        self.start_failures: dict[str, int] = {}        # per host, in a row
        self.samples: dict[str, Sample] = {}            # hosts' own load, memory, GPUs
        self.wq_load: dict[str, float] = {}             # wq's share of their load
        self._never_fits: dict[Requirements, str | None] = {}
        # what each host has free, kept as jobs start and end (None: to be built
        # afresh, after hosts changed), and what each user's running jobs hold
        self._view: ClusterView | None = None
        self._usage: dict[str, Usage] = {}
        self._out: list[fx.Effect] = []
        self._now = 0.0
        self._wake = False

    def handle(self, event: fx.Event, now: float) -> list[fx.Effect]:
        """The effects of one event, in the order they are to be carried out."""
        self._now = now
        self._out = []
        self._wake = False
        match event:        # (the busiest first; mypy checks that every event is here)
            case fx.Schedule():
                self._schedule(event)
            case fx.Ended():
                self._ended(event)
            case fx.Started():
                self._started(event)
            case fx.Sampled():
                self._sampled(event)
            case fx.Loaded():
                self._loaded(event)
            case fx.Submitted():
                self._submitted(event)
            case fx.Unwatched():
                self._unwatched(event)
            case fx.ArrayUnwatched():
                self._array_unwatched(event)
            case fx.Pause():
                self._pause(event)
            case fx.ClientGone():
                self._client_gone(event)
            case fx.ArrayClientGone():
                self._array_client_gone(event)
            case fx.Watched():
                self._watched(event)
            case fx.WorkflowGone():
                self._workflow_gone(event)
            case fx.Remove():
                self._remove(event)
            case fx.KillDone():
                self._kill_done(event)
            case fx.SessionEnded():
                self._session_ended(event)
            case fx.SessionExpired():
                self._session_expired(event)
            case fx.HostUp():
                self._host_up(event)
            case fx.HostDown():
                self._host_down(event)
            case fx.HostLost():
                self._host_lost(event)
            case fx.Settle():
                self._settle(event)
            case fx.StaleKilled():
                self._stale_killed(event)
            case fx.SetOffline():
                self._set_offline(event)
            case fx.SetLimits():
                self._set_limits(event)
            case fx.SetCluster():
                self._set_cluster(event)
            case fx.LauncherUp():
                self._launcher_up(event)
            case fx.LauncherGone():
                self._launcher_gone(event)
            case fx.LauncherSettled():
                self._launcher_settled(event)
            case fx.Hold():
                self._hold(event)
            case fx.Requeue():
                self._requeue(event)
            case fx.Update():
                self._update(event)
            case _:
                assert_never(event)
        self._resolve_changed()
        if self._wake:
            self._out.append(fx.Reschedule())
        out, self._out = self._out, []
        return out

    # -- its invariants -------------------------------------------------------------

    def validate(self) -> None:
        """Check that the engine's books agree with each other; Inconsistent names
        every invariant broken. The tests call it after every event; the server
        after every event when WQ_CHECK is set (a debugging aid: it costs a
        pass over every live job)."""
        broken: list[str] = []

        def check(holds: bool, what: str) -> None:
            if not holds:
                broken.append(what)

        jobs = self.jobs.values()
        running = {i: j for i, j in self.jobs.items() if j.state is JobState.RUNNING}
        waiting = [j for j in jobs if j.state is JobState.WAITING]
        queued = [j for j in waiting if not self._aside(j)]
        aside = [j for j in waiting if self._aside(j)]
        check(len(running) + len(waiting) == len(self.jobs), "jobs holds only live jobs")
        check(self.running.keys() == running.keys()
              and all(self.running[i] is j for i, j in running.items()),
              "running is the running jobs")
        check(self.current.keys() == running.keys(), "each running job has its instance")
        check(len(self.waiting) == len(queued)
              and self.waiting.of_user == Counter(j.user for j in queued),
              "the scheduler's queue holds the waiting jobs not kept aside")
        check(self.queue.keys() == {j.number_shown for j in queued},
              "queue has the number of every queued job, and no other")
        check(+self.aside_of == Counter(j.user for j in aside)
              and self.blocked_queue.keys() == {j.number_shown for j in aside},
              "the jobs kept aside are counted per user and per number")
        check(self.blocked.keys() <= {j.id for j in waiting},
              "only waiting jobs are blocked by dependencies")
        check(self.active_in == Counter(j.number_shown for j in jobs),
              "active_in counts each number's live jobs")
        check(+self.running_in == Counter(j.number_shown for j in running.values()),
              "running_in counts each number's running jobs")
        for name, table in (("cancelling", self.cancelling), ("requeueing", self.requeueing),
                            ("timed_out", self.timed_out), ("timers", self.timers)):
            check(set(table) <= running.keys(), f"{name} holds running jobs only")
        built = self._built_view()
        kept = self.view()
        check(kept.uses == built.uses and kept.free_cores == built.free_cores
              and +kept.licenses_used == +built.licenses_used,
              "the kept view is what building it afresh gives")
        check(all(u.used_cores <= u.host.cores for u in kept.uses.values()),
              "no host runs more than its cores")
        usage: dict[str, Usage] = {}
        for job in running.values():
            used = usage.setdefault(job.user, Usage())
            used.jobs += 1
            used.cores += job.placement.cores if job.placement else 0
        check(self._usage == usage, "the kept usage is what the running jobs hold")
        if broken:
            raise Inconsistent("; ".join(broken))

    # -- what handlers read ------------------------------------------------------

    def view(self) -> ClusterView:
        """What each host has free now. It is the engine's own, kept up to date as
        jobs start and end rather than built for every pass: read it, or plan on
        a copy."""
        if self._view is None:
            self._view = self._built_view()
        return self._view

    def _built_view(self) -> ClusterView:
        """The view built afresh from the hosts and the running jobs."""
        return ClusterView.build(self.cluster, self.placements(), offline=self.offline,
                                 down=self.down, licenses_used=self.licenses_used(),
                                 samples=self.samples, wq_load=self.wq_load)

    def _hosts_changed(self) -> None:
        """Hosts came, went, or changed: the view is built afresh when next read."""
        self._view = None

    def licenses_used(self) -> list[tuple[str, int]]:
        """The licences running jobs hold (their requirements say which)."""
        return [held for j in self.running.values() if j.placement is not None
                for held in j.spec.requirements.licenses]

    def placements(self) -> list[Placement]:
        return [j.placement for j in self.running.values() if j.placement is not None]

    def usage(self) -> dict[str, Usage]:
        """What each user's running jobs hold (the engine's own: read it only)."""
        return self._usage

    def never_fits(self, req: Requirements) -> str | None:
        """Why a job can never fit the cluster as it is (cached per requirements)."""
        if req not in self._never_fits:
            refused = scheduler.admit(req, ClusterView.build(self.cluster))
            self._never_fits[req] = refused.reason if refused else None
        return self._never_fits[req]

    def waiting_count(self) -> int:
        """Waiting jobs (those still being loaded at start, and those kept aside,
        blocked by dependencies or held by their users, included)."""
        return len(self.waiting) + sum(self.aside_of.values()) + self.unloaded

    def queued(self, number: int) -> Sequence[Job] | JobClass:
        """A job's (or an array's) waiting jobs, in task order, queued or aside."""
        ready, aside = self.queue.get(number), self.blocked_queue.get(number)
        if aside is None:
            return ready or ()
        if ready is None:
            return aside
        return list(heapq.merge(aside, ready, key=task_key))

    def queued_numbers(self) -> set[int]:
        return self.queue.keys() | self.blocked_queue.keys()

    def depended_on(self) -> set[int]:
        """The jobs (and arrays) a waiting job depends on, met or not: kept in the
        history, so that the dependency still reads as met after a restart."""
        specs = {id(j.spec): j.spec for j in self.jobs.values()
                 if j.spec.after and j.state is JobState.WAITING}
        return {a.number for spec in specs.values() for a in spec.after}

    def blocked_reason(self, job: Job) -> str | None:
        """Why a job held by its user or by dependencies waits (None: it is not)."""
        if job.held:
            return f"held (wq release {job.label} lets it start)"
        left = self.blocked.get(job.id)
        if not left:
            return None
        after = left[0]
        key = deps.key_of(after, job)
        return "waiting for " + deps.describe(after, key, self.tallies.get(key, Tally()))

    # -- events: jobs come and go --------------------------------------------------

    def _loaded(self, ev: fx.Loaded) -> None:
        """Jobs that were waiting or running when the server last stopped: the
        running ones are watched again (an interactive session's lease lived on the
        old server's connection: it ends). Until the whole queue is in, nothing
        starts (it would jump the queue) and no array ends."""
        self.throttles.update(ev.throttles)
        self.unloaded = ev.left
        never = self._block_all(ev.jobs, ev.tallies)
        for job in ev.jobs:
            self._put(job)
            if job.state is JobState.RUNNING:
                self.current[job.id] = ev.instances.get(job.id) or _instance_of(job)
        for job in ev.jobs:
            if job.state is not JobState.RUNNING:
                continue
            if job.spec.interactive:
                self._kill(job, report=False)
                self._finish(job.id, job.instance, Outcome(
                    lost=True, error="the server restarted during the interactive session"))
            else:
                self._watch(job)
        self._cancel_never(never)
        if not self.unloaded:
            for number, active in list(self.active_in.items()):
                if active <= 0:
                    self._array_over(number)
        self._reschedule()

    def _submitted(self, ev: fx.Submitted) -> None:
        first = ev.jobs[0]
        if ev.throttle and first.task is not None:
            self.throttles[first.number] = ev.throttle
        never = self._block_all(ev.jobs, ev.tallies)
        for job in ev.jobs:
            self._put(job)
        if ev.more:
            self.arriving.add(first.number)
        elif first.task is not None and first.number in self.arriving:
            self.arriving.discard(first.number)
        if ev.watched:
            if first.task is None:
                self.audience.watch(first.id)
            else:
                self.audience.watch_array(first.number)
        self._cancel_never(never)
        self._reschedule()

    def _watched(self, ev: fx.Watched) -> None:
        """A client attached to a job already submitted (wq log -f, a wq sub back
        after a restart): it hears what its job does from now, and why it waits."""
        if ev.job_id in self.jobs:
            self.audience.watch(ev.job_id)
            self._reschedule()

    def _unwatched(self, ev: fx.Unwatched) -> None:
        self.audience.unwatch(ev.job_id)

    def _array_unwatched(self, ev: fx.ArrayUnwatched) -> None:
        self.audience.unwatch_array(ev.number)

    def _pause(self, ev: fx.Pause) -> None:
        """While a big wq rm goes a chunk at a time, the arrays it names start
        nothing (their tasks would only be killed by a later chunk)."""
        for number in ev.numbers:
            if ev.on:
                self.paused[number] += 1
            else:
                decrement(self.paused, number)
        if not ev.on:
            self._reschedule()

    def _client_gone(self, ev: fx.ClientGone) -> None:
        """An attached client disconnected: its job is cancelled (as srun's), and an
        interactive job's lease ends with it."""
        job = self.jobs.get(ev.job_id)
        if job is None:
            return
        if not job.spec.interactive:
            self._cancel([job], CLIENT_GONE)
            return
        if job.state is JobState.WAITING:
            self._cancel_waiting([job], "its interactive client went away")
            return
        self._kill(job, report=False)                 # no stray processes on the node
        self._finish(job.id, job.instance,
                     Outcome(lost=True, error="the interactive client went away"))

    def _array_client_gone(self, ev: fx.ArrayClientGone) -> None:
        """An attached client of an array disconnected: its tasks that have not
        ended are cancelled."""
        running = [j for j in self.running.values() if j.number_shown == ev.number]
        self._cancel([*self.queued(ev.number), *running], CLIENT_GONE)

    def _workflow_gone(self, ev: fx.WorkflowGone) -> None:
        """A workflow's session ended: its user's jobs submitted with it that have
        not ended are cancelled."""
        self._cancel([j for j in self.jobs.values()
                      if j.spec.session == ev.token and j.user == ev.user], WORKFLOW_GONE)

    def _cancel(self, jobs: list[Job], reason: str) -> None:
        """Cancel live jobs: the waiting ones at once, the running ones killed."""
        waiting = [j for j in jobs if j.state is JobState.WAITING]
        if waiting:
            self._cancel_waiting(waiting, reason)
        for job in jobs:
            if job.state is JobState.RUNNING and job.id not in self.cancelling:
                self.cancelling[job.id] = reason
                self._kill(job)

    def _remove(self, ev: fx.Remove) -> None:
        """wq rm: cancel waiting jobs, kill running ones."""
        results: list[fx.Result] = []
        queued: list[Job] = []
        seen: set[JobId] = set()
        for found in ev.jobs:
            if found.id in seen:
                continue
            seen.add(found.id)
            job = self.jobs.get(found.id)
            number = found.number_shown
            if job is None:
                results.append((number, found.task, f"already {found.state.value}", False))
            elif not rights.on_job("rm", ev.user, job.user, ev.admin):
                results.append((number, job.task, f"not yours (it belongs to {job.user})",
                                False))
            elif job.state is JobState.WAITING:
                queued.append(job)
                results.append((number, job.task, REMOVED, True))
            elif job.spec.interactive:
                self.cancelling[job.id] = REMOVED_BY_RM
                self._publish(job.id, events.End(REMOVED_BY_RM))
                self._kill(job, first="HUP", report=True)
                results.append((number, job.task, "session ended", True))
            else:
                self.cancelling[job.id] = REMOVED_BY_RM
                self._kill(job)
                results.append((number, job.task, "killed", True))
        if queued:
            self._cancel_waiting(queued, REMOVED_BY_RM)
        self._out.append(fx.Answer(tuple(results)))
        self._reschedule()

    def _cancel_waiting(self, jobs: list[Job], reason: str) -> None:
        """Cancel waiting jobs (all of an array's, at no more cost than one pass)."""
        self.waiting.remove_many(j for j in jobs if not self._aside(j))
        for number in {j.number_shown for j in jobs}:
            if number not in self.waiting.classes:
                self.queue.pop(number, None)
        self._out.append(fx.RecordMany(tuple(j.id for j in jobs), JobState.CANCELLED,
                                       self._now, reason, "cancelled"))
        exit = events.Exit(JobState.CANCELLED.value, None, reason)
        for job in jobs:
            self._drop(job, JobState.CANCELLED, reason, queued=False)
            if self.audience.watches(job.id):
                self._exit(job.id, exit)
        self._reschedule()

    # -- events: what users change of their jobs -----------------------------------------

    def _hold(self, ev: fx.Hold) -> None:
        """wq hold: waiting jobs stay in the queue but start nothing until wq
        release (which also releases a job submitted held)."""
        kind, word = ("hold", "held") if ev.on else ("release", "released")
        results: list[fx.Result] = []
        changed: list[JobId] = []
        for found in ev.jobs:
            job = self._mine(found, kind, ev.user, ev.admin, results)
            if job is None:
                continue
            number = job.number_shown
            if job.state is not JobState.WAITING:
                results.append((number, job.task, f"{job.state.value}: only a waiting job "
                                f"can be {word}", False))
            elif job.held == ev.on:
                results.append((number, job.task, "already held" if ev.on else "not held",
                                True))
            else:
                self._put(dataclasses.replace(job, held=ev.on))
                changed.append(job.id)
                results.append((number, job.task, word, True))
        if changed:
            self._out.append(fx.RecordHeld(tuple(changed), ev.on, f"{word} by {ev.user}"))
            for job_id in changed:
                self.audience.changed(job_id)
            if not ev.on:
                self._reschedule()
        self._out.append(fx.Answer(tuple(results)))

    def _requeue(self, ev: fx.Requeue) -> None:
        """wq requeue: a running job is killed and waits again; an ended one waits
        again (its next instance is a new run, as a retry's)."""
        results: list[fx.Result] = []
        reason = f"requeued by {ev.user}"
        for found in ev.jobs:
            job = self._mine(found, "requeue", ev.user, ev.admin, results, ended=True)
            if job is None:
                continue
            number = job.number_shown
            if job.spec.interactive:
                results.append((number, job.task, "an interactive session cannot be requeued",
                                False))
            elif job.state is JobState.WAITING:
                results.append((number, job.task, "already waiting", False))
            elif job.state is JobState.RUNNING:
                if job.id in self.cancelling:
                    results.append((number, job.task, "being removed", False))
                    continue
                if job.id not in self.requeueing:
                    self.requeueing[job.id] = reason
                    self._kill(job)
                results.append((number, job.task, "requeued (being stopped)", True))
            else:
                self._again_ended(job, reason)
                results.append((number, job.task, "requeued", True))
        self._out.append(fx.Answer(tuple(results)))

    def _again_ended(self, job: Job, reason: str) -> None:
        """An ended job waits again: it is live once more, and the targets that
        counted its end count it as live."""
        self._untally(job)
        self._move(job, "requeued", reason, state=JobState.WAITING, placement=None,
                   started=None, ended=None, exit_code=None, reason=reason, held=False)
        self._publish(job.id, events.Requeued(reason))
        self._reschedule()

    def _update(self, ev: fx.Update) -> None:
        """wq update: waiting jobs take a new spec (an array's waiting tasks all of
        it: its tasks share one spec). Only what does not change a job's place in
        the queue is updated (its time limit)."""
        results: list[fx.Result] = []
        arrays: dict[int, Job] = {}
        for found in ev.jobs:
            job = self._mine(found, "update", ev.user, False, results)
            if job is None:
                continue
            number = job.number_shown
            if job.state is not JobState.WAITING:
                results.append((number, job.task, f"{job.state.value}: only a waiting job can "
                                "be updated", False))
            elif job.task is not None:
                arrays.setdefault(number, job)
            else:
                self._out.append(fx.RecordSpec(job, ev.spec, ev.detail))
                self._put(dataclasses.replace(job, spec=ev.spec))
                self.audience.changed(job.id)
                results.append((number, None, f"updated: {ev.detail}", True))
        for number, first in arrays.items():
            self._out.append(fx.RecordSpec(first, ev.spec, ev.detail))
            for queued in (self.queue.get(number), self.blocked_queue.get(number)):
                if isinstance(queued, JobClass):
                    for job in queued.respec(ev.spec):
                        self.jobs[job.id] = job
                        self.audience.changed(job.id)
                        results.append((number, job.task, f"updated: {ev.detail}", True))
        results.sort(key=lambda r: (r[0], r[1] or 0))
        self._reschedule()
        self._out.append(fx.Answer(tuple(results)))

    def _mine(self, found: Job, kind: str, user: str, admin: bool,
              results: list[fx.Result], ended: bool = False) -> Job | None:
        """The job as the engine has it, if `user` may act on it (`ended`: an ended
        job, as found, too); else None, with the result said."""
        job = self.jobs.get(found.id)
        number = found.number_shown
        if job is None and not (ended and found.state.final):
            results.append((number, found.task, f"already {found.state.value}", False))
            return None
        job = job or found
        if not rights.on_job(kind, user, job.user, admin):
            results.append((number, job.task, f"not yours (it belongs to {job.user})", False))
            return None
        return job

    # -- events: instances ----------------------------------------------------------

    def _started(self, ev: fx.Started) -> None:
        job = self._live(ev.job_id, ev.instance)
        if job is None:
            return
        self.start_failures[ev.host] = 0
        self._publish(job.id, events.Started(ev.host, ev.pid, job.instance))
        if job.id in self.cancelling:
            self._kill(job)
        if self.audience.watches(job.id):
            self._out.append(self.follow_of(job))

    def _ended(self, ev: fx.Ended) -> None:
        job = self._live(ev.job_id, ev.instance)
        if ev.outcome.pid is not None and job is not None and job.placement is not None:
            # its start, told with its end (its client, if any, was told by the runner)
            self.start_failures[job.placement.first_host] = 0
        self._finish(ev.job_id, ev.instance, ev.outcome)

    def _kill_done(self, ev: fx.KillDone) -> None:
        """An interactive session was ended (wq rm, or out of time): its client
        closes it and reports; should it not have, the job ends here."""
        self._finish(ev.job_id, ev.instance, Outcome(lost=True, error=REMOVED_BY_RM))

    def _session_ended(self, ev: fx.SessionEnded) -> None:
        job = self.jobs.get(ev.job_id)
        if job is None:
            return
        if ev.lost or (ev.code is None and not ev.reason):
            outcome = Outcome(lost=True, error=ev.reason or None)
        elif ev.code is None:
            outcome = Outcome(error=ev.reason, exit_code=-1)
        else:
            outcome = Outcome(exit_code=ev.code)
        self._finish(job.id, job.instance, outcome)

    def _session_expired(self, ev: fx.SessionExpired) -> None:
        job = self._live(ev.job_id, ev.instance)
        if job is None:
            return
        self.timers.discard(job.id)
        self.timed_out.add(job.id)
        self._publish(job.id, events.End("its time limit ran out", timeout=True))
        self._kill(job, first="HUP", report=True)

    # -- events: hosts ----------------------------------------------------------------

    def _host_up(self, ev: fx.HostUp) -> None:
        self.down.discard(ev.name)
        self._hosts_changed()
        self.boot_ids[ev.name] = ev.boot_id
        self._reschedule()

    def _sampled(self, ev: fx.Sampled) -> None:
        """A host's own state was sampled: a pass if that lets it take jobs again
        (or a limit check changed), so waiting jobs start at once."""
        view = self.view()
        use = view.uses.get(ev.name)          # (None: no longer in the cluster file)
        before = use.over if use else None
        last = self.samples.get(ev.name)
        self.wq_load[ev.name] = load = wq_share(
            self.wq_load.get(ev.name), use.used_cores if use else 0,
            ev.sample.at - last.at if last is not None else 0.0)
        self.samples[ev.name] = ev.sample
        view.reassess(ev.name, ev.sample, load)
        if use is not None and use.over != before:
            self._reschedule()

    def _host_down(self, ev: fx.HostDown) -> None:
        self.down.add(ev.name)
        self._hosts_changed()
        self._reschedule()

    def _host_lost(self, ev: fx.HostLost) -> None:
        """A host is down for sure: its batch jobs are lost now (and requeue within
        their crash limit), rather than when each one's own channel gives up. Their
        fate is settled when the host returns."""
        self.down.add(ev.name)
        self._hosts_changed()
        for job in [j for j in self.running.values()
                    if j.placement is not None and j.placement.first_host == ev.name
                    and not j.spec.interactive]:
            self._out.append(fx.Abandon(job.id, job.instance))
            self._finish(job.id, job.instance, Outcome(
                lost=True, unreachable=True, error=f"{ev.name} is down: {ev.reason}"))

    def _settle(self, ev: fx.Settle) -> None:
        """What became of the instances lost with a host that is back (see
        docs/operations.md): a copy alive whose job waits to run again is taken
        back; a copy alive whose job moved on is killed; the rest is recorded."""
        host = self.known.get(ev.host)
        for instance in ev.lost:
            word = ev.found.get(instance.name, "vanished")
            job = self.jobs.get(instance.job_id)
            alive = word == "running" or word.startswith("exit")
            if (alive and job is not None and job.state is JobState.WAITING
                    and job.instance == instance.number and instance.hosts == (ev.host,)
                    and instance.placement is not None):
                self._adopt(job, instance)
            elif word == "running" and host is not None:
                self._out.append(fx.KillStale(
                    instance, host, onnode.instance_directory(self.server_id, instance),
                    ev.user))
            else:
                self._settled(instance, *_settled_as(word, instance, ev.host))

    def _stale_killed(self, ev: fx.StaleKilled) -> None:
        instance = ev.instance
        how = {"terminated": "it ended on TERM", "killed": "KILL after the grace period",
               "gone": "it ended by itself just then"}.get(ev.result, ev.result)
        self._settled(instance, "stale-killed",
                      f"instance {instance.number} still ran on {instance.host} after the "
                      f"job moved on; killed it ({how})")

    def _settled(self, instance: Instance, event: str, detail: str) -> None:
        log.info("job %s: %s", instance.job_label, detail)
        joined = f"{instance.detail}; {detail}" if instance.detail else detail
        self._out.append(fx.RecordSettled(
            dataclasses.replace(instance, settled=True, detail=joined), event, detail))

    # -- events: configuration ----------------------------------------------------------

    def _set_offline(self, ev: fx.SetOffline) -> None:
        self._out.append(fx.RecordOffline(ev.hosts, ev.offline, ev.reason))
        for host in ev.hosts:
            if ev.offline:
                self.offline[host] = ev.reason
            else:
                self.offline.pop(host, None)
                self.start_failures.pop(host, None)
        self._hosts_changed()
        self._reschedule()

    def _set_limits(self, ev: fx.SetLimits) -> None:
        self._out.append(fx.RecordLimits(ev.user, ev.limits))
        if ev.limits == Limits():
            self.limits.pop(ev.user, None)
        else:
            self.limits[ev.user] = ev.limits
        self._reschedule()

    def _set_cluster(self, ev: fx.SetCluster) -> None:
        """A re-read cluster file: new hosts wait for their probe; hosts removed keep
        their running jobs' records (`known`) until those end."""
        for host in ev.cluster.hosts:
            if self.known.get(host.name) != host:
                self.down.add(host.name)
        self.cluster = ev.cluster
        self.known.update({h.name: h for h in ev.cluster.hosts})
        self._hosts_changed()
        if ev.cluster.lab is not None:
            self.shares = dict(ev.cluster.lab.weights)
        self._never_fits.clear()
        self._reschedule()

    # -- scheduling ----------------------------------------------------------------------

    def _schedule(self, ev: fx.Schedule) -> None:
        if self.unloaded:
            return
        if self.queue:
            view = self.view()
            starts = scheduler.plan(self.waiting, view, now=self._now,
                                    usage=self.usage(), limits=self.limits,
                                    starve_after=self.starve_after, room=self._room(),
                                    ready=self.ready(), shares=self.shares)
            # the pass took its starts from the view; each is taken again as its
            # job is kept running (_occupy), like any job
            for start in starts:
                view.release(start.placement)
                view.release_licenses(self.jobs[start.job_id].spec.requirements.licenses)
            for start in starts:
                self._start(self.jobs[start.job_id], start.placement)
        self._tell_waiting()

    def why(self, job: Job, now: float, down: Mapping[str, str] | None = None
            ) -> tuple[str, list[HostWhy]]:
        """`wq why`: a waiting job's one-line reason, and for each host the first
        rule that keeps it off, from a pass worked out here on a copy (it starts
        nothing)."""
        view = self.view()
        after = view.copy()
        usage, ready = self.usage(), self.ready()
        reservations = scheduler.Reservations()
        starts = scheduler.plan(self.waiting, after, now=now, usage=usage, limits=self.limits,
                                starve_after=self.starve_after, room=self._room(),
                                ready=ready, shares=self.shares, reservations=reservations)
        chosen = next((s.placement for s in starts if s.job_id == job.id), None)
        if chosen is not None:
            return ("it fits now: it starts at the next scheduling pass, on "
                    f"{','.join(chosen.hosts)}",
                    [HostWhy(name, None, "chosen for it") for name in chosen.hosts])
        blocked = self.blocked_reason(job)
        facts = Facts(
            usage=usage.get(job.user, scheduler.Usage()), limits=self.limits.get(job.user),
            blocked=blocked, throttled=self.throttled(job),
            launcher=ready is None or job.user in ready or job.spec.interactive,
            offline=self.offline, down=down, fair=self.shares is not None)
        never = self.never_fits(job.spec.requirements)
        summary = f"can no longer fit: {never}" if never else blocked or \
            scheduler.waiting_reason(job, view, usage=usage, limits=self.limits, ready=ready)
        return summary, why_hosts(job, view, after, reservations.hosts,
                                  reservations.licenses, facts)

    def throttled(self, job: Job) -> str | None:
        """Why an array's waiting task does not start though it may fit: its array
        runs as many tasks as its throttle allows, or is being removed."""
        number = job.number_shown
        if job.task is None:
            return None
        if number in self.paused:
            return "its array is being removed"
        throttle = self.throttles.get(number)
        if throttle is not None and self.running_in[number] >= throttle:
            return f"array {number} runs at most {throttle} tasks at once"
        return None

    def _room(self) -> dict[int, int]:
        """How many more tasks each throttled (or paused) array may start."""
        room = {number: max(0, throttle - self.running_in[number])
                for number, throttle in self.throttles.items()}
        room.update((number, 0) for number in self.paused)
        return room

    def _tell_waiting(self) -> None:
        """Tell attached clients why their job still waits, when the reason changes."""
        watched = [j for j in (self.jobs.get(i) for i in self.audience.jobs)
                   if j is not None and j.state is JobState.WAITING]
        if not watched:
            return
        view, usage = self.view(), self.usage()
        for job in watched:
            never = self.never_fits(job.spec.requirements)
            reason = (f"can no longer fit: {never}" if never else self.blocked_reason(job) or
                      scheduler.waiting_reason(job, view, usage=usage, limits=self.limits,
                                               ready=self.ready()))
            self._say(self.audience.tell_waiting(job.id, reason))

    def _start(self, job: Job, placement: Placement) -> None:
        now = self._now
        number = job.instance + 1
        instance = Instance(job.id, number, placement.hosts, placement, started=now,
                            boot_id=self.boot_ids.get(placement.first_host, ""),
                            label=job.label, user=job.user)
        job = self._move(job, "started", ",".join(placement.hosts), instance,
                         state=JobState.RUNNING, started=now, ended=None, placement=placement,
                         instance=number, reason="")
        self.current[job.id] = instance
        self.activity["started"] += 1
        log.debug("job %s started on %s", job.label, ",".join(placement.hosts))
        try:
            launch = onnode.launch_spec(job, self.known, self.server_id, self.kill_grace)
        except Exception as exc:                 # a bug: the job ends, it never hangs in R
            log.exception("job %s: preparing its launch failed", job.label)
            self._finish(job.id, job.instance, internal(exc))
            return
        host = self.known[placement.first_host]
        if not job.spec.interactive:
            self._out.append(fx.Launch(job, host, launch))
        elif not self.audience.watches(job.id):       # its client left before it could start
            self._finish(job.id, job.instance, Outcome(
                lost=True, error="the interactive client went away before the job started"))
        else:
            self.audience.changed(job.id)
            self._out.append(fx.Lease(job.id, host, launch, job))
            limit = job.spec.requirements.time_limit
            if limit is not None:
                self.timers.add(job.id)
                self._out.append(fx.ArmTimer(job.id, job.instance, limit))

    def _adopt(self, job: Job, instance: Instance) -> None:
        """Take back a requeued job whose lost instance turned out to live on (or to
        have finished) when its host returned: watch it instead of running it again."""
        instance = dataclasses.replace(instance, outcome="running", ended=None, settled=True)
        job = self._move(job, "adopted", f"instance {instance.number} on {instance.host} "
                         "outlived the outage", instance, state=JobState.RUNNING,
                         started=instance.started, placement=instance.placement, reason="")
        self.current[job.id] = instance
        log.info("job %s: instance %s on %s outlived the outage; watching it again",
                 job.label, instance.number, instance.host)
        self._watch(job)

    def _launcher_up(self, ev: fx.LauncherUp) -> None:
        """Its user's running jobs are watched again; their waiting ones start once
        it has settled what was lost meanwhile (LauncherSettled)."""
        if self.launchers is None:
            return
        self.launchers.add(ev.user)
        self.settling.add(ev.user)
        self._out.extend(self.deferred.pop(ev.user, ()))
        for job in self._batch_running(ev.user):
            self._watch(job)

    def _launcher_settled(self, ev: fx.LauncherSettled) -> None:
        self.settling.discard(ev.user)
        self._reschedule()

    def ready(self) -> set[str] | None:
        """Whose jobs can start now: None, everyone's (a server alone)."""
        return None if self.launchers is None else self.launchers - self.settling

    def _launcher_gone(self, ev: fx.LauncherGone) -> None:
        """Its calls end with it: drop them without an outcome (the jobs run on)."""
        if self.launchers is None:
            return
        self.launchers.discard(ev.user)
        self.settling.discard(ev.user)
        for job in self._batch_running(ev.user):
            self._out.append(fx.Abandon(job.id, job.instance))

    def _batch_running(self, user: str) -> list[Job]:
        return [j for j in self.running.values()
                if j.user == user and not j.spec.interactive and j.placement is not None]

    def _watch(self, job: Job) -> None:
        """Watch a running instance again (its LauncherUp does, for a lab member's
        job whose launcher is away)."""
        assert job.placement is not None
        if self.launchers is not None and job.user not in self.launchers \
                and not job.spec.interactive:
            return
        host = self.known[job.placement.first_host]
        follow = self.follow_of(job) if self.audience.watches(job.id) else None
        self._out.append(fx.Watch(job, host, onnode.directory(self.server_id, job), follow))

    def follow_of(self, job: Job) -> fx.Follow:
        """How to follow a running job's output."""
        assert job.placement is not None
        out, err = onnode.output_words(job)
        return fx.Follow(job.id, self.known[job.placement.first_host],
                         onnode.directory(self.server_id, job), out, err, job.user)

    def _kill(self, job: Job, first: str = "TERM", report: bool = False) -> None:
        assert job.placement is not None
        kill = fx.Kill(job.id, job.instance, self.known[job.placement.first_host],
                       onnode.directory(self.server_id, job), first, report, job.user,
                       onnode.instance_name(job))
        if self.launchers is not None and job.user not in self.launchers \
                and not job.spec.interactive:      # (a session's client does its own kill)
            self.deferred.setdefault(job.user, []).append(kill)    # done when it is back
            return
        self._out.append(kill)

    # -- ending an instance ----------------------------------------------------------------

    def _live(self, job_id: JobId, instance: int) -> Job | None:
        """The job, if `instance` is its running one."""
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.RUNNING or job.instance != instance:
            return None
        return job

    def _finish(self, job_id: JobId, number: int, outcome: Outcome) -> None:
        """An instance ended: record it, then end the job or queue it again. An
        instance already dealt with is ignored."""
        current = self._live(job_id, number)
        if current is None:
            return
        if job_id in self.timers:
            self.timers.discard(job_id)
            self._out.append(fx.CancelTimer(job_id))
        host = current.placement.first_host if current.placement else ""
        verdict = judge(current, outcome, cancelled=job_id in self.cancelling,
                        why=self.cancelling.get(job_id, REMOVED_BY_RM),
                        session_timed_out=job_id in self.timed_out, host=host,
                        requeued=self.requeueing.pop(job_id, None))
        self.cancelling.pop(job_id, None)
        self.timed_out.discard(job_id)
        now = self._now
        ended = now      # or when the node says it ended, while the server was away
        if outcome.ended is not None and (current.started or 0) <= outcome.ended <= now:
            ended = outcome.ended
        instance = dataclasses.replace(
            self.current.pop(job_id) if job_id in self.current else _instance_of(current),
            ended=ended,
            outcome=verdict.instance, exit_code=verdict.exit_code,
            detail=verdict.reason, settled=verdict.settled)
        if verdict.start_failure:
            self._start_failed(host, outcome.error or "")
        if verdict.state is JobState.WAITING:
            self._again(current, verdict, instance)
            return
        done = self._move(current, verdict.state.value,
                          verdict.reason or f"exit {verdict.exit_code}", instance,
                          state=verdict.state, ended=ended, exit_code=verdict.exit_code,
                          reason=verdict.reason)
        self.activity[verdict.state.value] += 1
        log.log(logging.DEBUG if verdict.state is JobState.DONE else logging.INFO,
                "job %s %s%s", done.label, verdict.state.value,
                f": {verdict.reason}" if verdict.reason else "")
        self._exit(job_id, events.Exit(verdict.state.value, verdict.exit_code, verdict.reason))
        self._reschedule()

    def _again(self, job: Job, verdict: Verdict, instance: Instance) -> None:
        """Queue a job for another instance (requeued after a loss, or retried)."""
        avoid = job.avoid
        if verdict.avoid:
            avoid = tuple(dict.fromkeys((*avoid, *instance.hosts)))
        event = "retried" if verdict.failure else "requeued"
        self._move(job, event, verdict.reason, instance, state=JobState.WAITING,
                   placement=None, started=None, reason=verdict.reason,
                   crashes=job.crashes + verdict.crash, failures=job.failures + verdict.failure,
                   avoid=avoid)
        log.info("job %s %s: %s", job.label, event, verdict.reason)
        self._publish(job.id, events.Requeued(verdict.reason))
        self._reschedule()

    def _start_failed(self, host: str, error: str) -> None:
        """Count a job the host could not start; drain the host after drain_after."""
        count = self.start_failures.get(host, 0) + 1
        self.start_failures[host] = count
        limit = self.known[host].drain_after if host in self.known else 0
        if limit and count >= limit and host not in self.offline:
            reason = (f"drained: {count} jobs in a row failed to start here "
                      f"(last: {error}); wq node online {host} returns it")
            log.warning("host %s %s", host, reason)
            self._set_offline(fx.SetOffline((host,), True, reason))

    # -- the indexes ------------------------------------------------------------------------

    def _move(self, job: Job, event: str, detail: str, run: Instance | None = None, /,
              **changes: Any) -> Job:
        """Every move of a job from one state to another goes here: its fields
        changed, checked against the transition table (JobState.can_become),
        recorded with `event` (and the instance `run` it concerns), and kept (a
        live job re-indexed, an ended one dropped). Returns the job moved."""
        moved = dataclasses.replace(job, **changes)
        if not job.state.can_become(moved.state):
            raise Inconsistent(f"job {job.label} cannot go from {job.state.value} to "
                               f"{moved.state.value} ({event})")
        self._out.append(fx.Record(moved, event, detail, run))
        if moved.state.final:
            self._drop(moved, moved.state)
        else:
            self._put(moved)
        return moved

    def _put(self, job: Job) -> None:
        """Keep a new job, or a job in its new state, and index it."""
        old = self.jobs.get(job.id)
        if old is not None:
            self._unindex(old)
        else:
            self.active_in[job.number_shown] += 1
        self.jobs[job.id] = job
        self._index(job)

    def _index(self, job: Job) -> None:
        number = job.number_shown
        if job.state is not JobState.WAITING:
            self.running[job.id] = job
            self.running_in[number] += 1
            self._occupy(job)
        elif self._aside(job):
            aside = self.blocked_queue.get(number)
            if aside is None:
                aside = self.blocked_queue[number] = JobClass(number, None)
            aside.add(job)
            self.aside_of[job.user] += 1
        else:
            self._enqueue(job)

    def _aside(self, job: Job) -> bool:
        """A waiting job is kept out of the queue the scheduler sees: held by its
        dependencies, or by its user (wq hold)."""
        return job.held or job.id in self.blocked

    def _enqueue(self, job: Job) -> None:
        number = job.number_shown
        self.waiting.add(job)
        self.queue[number] = [job] if job.task is None else self.waiting.classes[number]

    def _unindex(self, job: Job) -> None:
        number = job.number_shown
        if job.state is JobState.WAITING and self._aside(job):
            aside = self.blocked_queue[number]
            aside.remove(job)
            if not aside:
                del self.blocked_queue[number]
            decrement(self.aside_of, job.user)
        elif job.state is JobState.WAITING:
            self.waiting.remove(job)
            if job.task is None or number not in self.waiting.classes:
                del self.queue[number]
        else:
            del self.running[job.id]
            self.running_in[number] -= 1
            self._vacate(job)

    def compact(self) -> None:
        """After many jobs went: the tables kept per job are made afresh at their
        size now (a dict keeps the room of the most it ever held)."""
        self.jobs = dict(self.jobs)
        self.running = dict(self.running)
        self.current = dict(self.current)
        self.blocked = dict(self.blocked)
        self.audience.compact()
        self.active_in = Counter(self.active_in)
        self.running_in = Counter(self.running_in)

    def _occupy(self, job: Job) -> None:
        """A running job holds its placement: taken from the view and counted in its
        user's usage."""
        placement = job.placement
        if placement is None:
            return
        used = self._usage.setdefault(job.user, Usage())
        used.jobs += 1
        used.cores += placement.cores
        if self._view is not None:
            self._view.take(placement)
            self._view.take_licenses(job.spec.requirements.licenses)
            self._reassess(placement)

    def _vacate(self, job: Job) -> None:
        """What _occupy took is given back (the job ended, or moved)."""
        placement = job.placement
        if placement is None:
            return
        used = self._usage[job.user]
        used.jobs -= 1
        used.cores -= placement.cores
        if not used.jobs:
            del self._usage[job.user]
        if self._view is not None:
            self._view.release(placement)
            self._view.release_licenses(job.spec.requirements.licenses)
            self._reassess(placement)

    def _reassess(self, placement: Placement) -> None:
        """The hosts of `placement` hold more or fewer of wq's cores: check their
        own state against their limits again, where sampled."""
        assert self._view is not None
        for s in placement.slices:
            sample = self.samples.get(s.host)
            if sample is not None:
                self._view.reassess(s.host, sample, self.wq_load.get(s.host))

    def _drop(self, job: Job, state: JobState, reason: str | None = None,
              queued: bool = True) -> None:
        """A job ended for good, in `state` (`reason`: when not the job's own); tell
        its array's watchers, and when it was the array's last, that the array is
        over. queued=False: the caller has taken it out of the queue already."""
        old = self.jobs.pop(job.id)
        if old.id in self.blocked:
            self._unindex(old)
            self._unblock(old)
        elif queued or old.state is not JobState.WAITING or old.held:
            self._unindex(old)
        number = job.number_shown
        self.active_in[number] -= 1
        self._tally(job, state)
        if job.task is None:
            del self.active_in[number]
            if job.spec.on_end:
                self._out.append(fx.Hook(job, onnode.hook_facts(
                    job, state.value, None if state is JobState.CANCELLED else job.exit_code)))
            return
        if job.spec.on_end:
            self.hooked[number] = job                    # (its hook runs once, at its end)
        counts = self.array_counts.get(number)
        if counts is None:
            counts = self.array_counts[number] = Counter()
        counts[state.value] += 1
        if self.audience.watches_array(number):
            self._say(self.audience.tell_array(number, events.Task(
                job.label, state.value,
                job.exit_code if state is not JobState.CANCELLED else None,
                job.reason if reason is None else reason, dict(counts))))
        if self.active_in[number] <= 0 and number not in self.arriving and not self.unloaded:
            self._array_over(number)

    def _array_over(self, number: int) -> None:
        """An array's last task ended."""
        del self.active_in[number]
        self.throttles.pop(number, None)
        counts = self.array_counts.pop(number, Counter())
        last = self.hooked.pop(number, None)
        if last is not None:
            state = "done" if set(counts) <= {"done"} else "failed"
            self._out.append(fx.Hook(last, onnode.hook_facts(last, state, None, counts)))
        self._say(self.audience.tell_array_last(number, events.ArrayEnd(number, dict(counts))))

    # -- dependencies -----------------------------------------------------------------------

    def _block_all(self, jobs: tuple[Job, ...], known: dict[Key, Tally]) -> list[tuple[Job, str]]:
        """Hold the waiting jobs among `jobs` whose dependencies are not all met
        (`known`: what the store knows of targets the engine does not follow yet);
        the ones that can never be met, and why (cancelled once they are in)."""
        never: list[tuple[Job, str]] = []
        for job in jobs:
            if not job.spec.after or job.state is not JobState.WAITING:
                continue
            left: list[After] = []
            for after in job.spec.after:
                key = deps.key_of(after, job)
                tally = self.tallies.get(key) or known.get(key) or Tally()
                status = deps.status(after, tally)
                if status is deps.Status.NEVER:
                    never.append((job, deps.describe(after, key, tally)))
                    break
                if status is deps.Status.PENDING:
                    left.append(after)
            else:
                if left:
                    self.blocked[job.id] = left
                    for after in left:
                        key = deps.key_of(after, job)
                        self.tallies.setdefault(key, known.get(key) or Tally())
                        self.dependents.setdefault(key, set()).add(job.id)
        return never

    def _cancel_never(self, never: list[tuple[Job, str]]) -> None:
        for job, why in never:
            current = self.jobs.get(job.id)
            if current is not None and current.state is JobState.WAITING:
                self._cancel_waiting([current], f"dependency never met: {why}")

    def _unblock(self, job: Job) -> None:
        """A blocked job's dependencies are met, or it ended: its targets no longer
        have it waiting on them."""
        left = self.blocked.pop(job.id)
        for after in left:
            self._forget(deps.key_of(after, job), job.id)

    def _forget(self, key: Key, job_id: JobId) -> None:
        """`job_id` no longer waits on `key` (a target no one waits on is not followed)."""
        waiting = self.dependents.get(key)
        if waiting is not None:
            waiting.discard(job_id)
            if not waiting:
                del self.dependents[key]
                self.tallies.pop(key, None)

    def _untally(self, job: Job) -> None:
        """An ended job is requeued: the targets it is part of count it live again,
        and so does its array."""
        number = job.number_shown
        for key in ((number, None),) if job.task is None else ((number, None), (number, job.task)):
            tally = self.tallies.get(key)
            if tally is not None:
                tally.live += 1
                if job.state is JobState.DONE:
                    tally.done -= 1
                else:
                    tally.failed -= 1
        counts = self.array_counts.get(number)
        if counts is not None:
            decrement(counts, job.state.value)

    def _tally(self, job: Job, state: JobState) -> None:
        """A job ended: count it in the tallies of the targets it is part of."""
        number = job.number_shown
        for key in ((number, None),) if job.task is None else ((number, None), (number, job.task)):
            tally = self.tallies.get(key)
            if tally is not None:
                tally.live -= 1
                if state is JobState.DONE:
                    tally.done += 1
                else:
                    tally.failed += 1
                self._changed.append(key)

    def _resolve_changed(self) -> None:
        """Release the jobs whose dependencies are now all met; cancel those whose
        can no longer be (which may end more targets: a chain goes as far as it goes)."""
        while self._changed:
            key = self._changed.pop()
            tally = self.tallies.get(key)
            if tally is None:
                continue
            for job_id in sorted(self.dependents.get(key, ())):
                if job_id not in self.blocked:
                    continue
                job, left = self.jobs[job_id], self.blocked[job_id]
                never = None
                for after in [a for a in left if deps.key_of(a, job) == key]:
                    status = deps.status(after, tally)
                    if status is deps.Status.MET:
                        left.remove(after)
                        if all(deps.key_of(a, job) != key for a in left):
                            self._forget(key, job_id)
                    elif status is deps.Status.NEVER:
                        never = deps.describe(after, key, tally)
                        break
                if never is not None:
                    self._cancel_waiting([job], f"dependency never met: {never}")
                elif not left:
                    self._release(job)

    def _release(self, job: Job) -> None:
        """A job's dependencies are all met: it waits in the queue (unless held)."""
        self._unindex(job)
        self._unblock(job)
        self._index(job)
        self._reschedule()

    # -- telling ----------------------------------------------------------------------------

    def _publish(self, job_id: JobId, event: events.Event) -> None:
        """Tell a job's attached clients, if it has any."""
        self._say(self.audience.tell(job_id, event))

    def _exit(self, job_id: JobId, event: events.Exit) -> None:
        """A job's last event: its watchers are done with it."""
        self._say(self.audience.tell_last(job_id, event))

    def _say(self, effect: fx.Publish | fx.PublishArray | None) -> None:
        if effect is not None:
            self._out.append(effect)

    def _reschedule(self) -> None:
        """Ask for a scheduling pass once this event is dealt with."""
        self._wake = True


REMOVED = "removed from the queue"
REMOVED_BY_RM = "removed with wq rm"
CLIENT_GONE = "its attached wq sub went away (killed, or its terminal closed)"
WORKFLOW_GONE = "its workflow's session ended (the driver stopped or was killed)"


class Inconsistent(Exception):
    """The engine's books disagree (Engine.validate): a bug of wq's."""


def internal(exc: BaseException) -> Outcome:
    """How an instance ends when wq itself failed (a bug, logged by the caller)."""
    return Outcome(error=f"internal error: {type(exc).__name__}: {exc}", exit_code=-1)


def _settled_as(word: str, instance: Instance, host: str) -> tuple[str, str]:
    """The history event and detail of a lost instance the node reports on."""
    if word.startswith("exit"):
        return "stale-finished", (f"instance {instance.number} ran to the end on {host} "
                                  f"while it was unreachable ({word})")
    if word == "rebooted":
        return "host-rebooted", f"{host} rebooted; instance {instance.number} did not survive it"
    if word == "notstarted":
        return "never-started", f"instance {instance.number} never started on {host}"
    return "vanished", f"instance {instance.number}'s processes vanished on {host}"


def _instance_of(job: Job) -> Instance:
    """The record of a job's current instance, for one the store has none of
    (a database from before instances were recorded)."""
    hosts = job.placement.hosts if job.placement else ()
    return Instance(job.id, job.instance, hosts, job.placement, started=job.started,
                    label=job.label, user=job.user)
