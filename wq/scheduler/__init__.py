"""The scheduler: pure functions from the queue and the cluster to decisions.

No asyncio, sqlite3, asyncssh, clock or randomness: `now` is an argument.

Rules, in order:
  * jobs are considered by priority (higher first), then submission time;
  * a job that fits starts (first fit in cluster-file order); one that does
    not fit is passed over, so smaller jobs behind it may use idle cores;
  * starvation guard: once a passed-over job has waited `starve_after`
    seconds, no job behind it may start on any host it could use, so those
    hosts drain until it fits; `priority: block` applies this at once and to
    every host (the original wq's "block other jobs until this one can run");
  * per-user limits count running jobs and cores, usage plus the request;
  * a job retried or requeued after failing on some hosts (`Job.avoid`) goes
    elsewhere when it can, and back to those hosts only when nothing else fits;
  * an array's waiting tasks are tried as one group, in task order, until one
    does not fit or its throttle (`room`) is used up;
  * licences (the cluster's `resources`) are never handed out beyond their
    counts; a starved job that waits for licences alone reserves those
    licences (no job behind it takes them) rather than hosts;
  * a host over a limit on its own sampled load (max_load, min_free_mem) takes
    no new job; of otherwise equal hosts, the less loaded (beyond wq's jobs,
    by whole cores) comes first; GPUs go by most free memory when measured.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from wq.model import BLOCK_PRIORITY, Job, JobId, Limits, Mode, Placement, Requirements
from wq.scheduler import explain, filters
from wq.scheduler.limits import Usage, over_limit
from wq.scheduler.modes import PLACERS
from wq.scheduler.order import fair_key, queue_key
from wq.scheduler.queue import Waiting
from wq.scheduler.view import ClusterView, HostUse

__all__ = ["Start", "Refuse", "Reservations", "plan", "admit", "waiting_reason",
           "ClusterView", "Usage", "Waiting"]

DEFAULT_STARVE_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class Start:
    job_id: JobId
    placement: Placement


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str


@dataclass(slots=True)
class Reservations:
    """What starved jobs reserved in a pass (the first to reserve each), by host
    and by licence name."""
    hosts: dict[str, Job] = field(default_factory=dict)
    licenses: dict[str, Job] = field(default_factory=dict)

    def add(self, job: Job, hosts: Iterable[str], licenses: Iterable[str]) -> None:
        for name in hosts:
            self.hosts.setdefault(name, job)
        for name in licenses:
            self.licenses.setdefault(name, job)


def candidates(req: Requirements, view: ClusterView, excluded: set[str]) -> list[HostUse]:
    """The hosts `req` may be placed on now, in cluster-file order."""
    if req.mode is Mode.BYGROUP:     # every host of the groups, usable or not
        return list(view.eligible(req))
    hosts = [u for u in view.eligible(req) if u.usable and u.host.name not in excluded]
    if any(u.load is not None for u in hosts):      # the less loaded first, by whole cores
        hosts.sort(key=lambda u: int(u.load or 0.0))
    return hosts


def place(req: Requirements, view: ClusterView,
          excluded: frozenset[str] | set[str] = frozenset()) -> Placement | None:
    hosts = candidates(req, view, set(excluded))
    if req.mode is Mode.BYGROUP and any(u.host.name in excluded for u in hosts):
        return None
    return PLACERS[req.mode](req, hosts)


def admit(req: Requirements, view: ClusterView) -> Refuse | None:
    """Refuse at submission a job that could never fit this cluster."""
    reason = explain.never_fits(req, view.empty_like())
    return Refuse(reason) if reason else None


def plan(queue: Iterable[Job] | Waiting, view: ClusterView, *, now: float,
         usage: Mapping[str, Usage] | None = None,
         limits: Mapping[str, Limits] | None = None,
         starve_after: float = DEFAULT_STARVE_AFTER,
         room: Mapping[int, int] | None = None,
         ready: Container[str] | None = None,
         shares: Mapping[str, float] | None = None,
         reservations: Reservations | None = None) -> list[Start]:
    """The waiting jobs that start now, and where. `queue` is the server's Waiting
    index (or any jobs, in any order); `room` how many more tasks of a throttled
    array may start (by its number); `ready` the users whose jobs can be launched
    now (None: everyone's; in a lab, those whose launcher is connected); `shares`
    turns fair share on (a lab): users' weights, 1 for those not named. `view`
    is taken from as jobs are placed; pass a copy to keep it.

    The classes of the queue are merged by the queue key of their heads (with
    fair share, the key of a head's user's share in use comes after its
    priority, and is brought up to date as the pass places jobs). A class whose
    head does not fit tells that no job with those requirements fits in this
    pass (the view only shrinks and the reservations only grow as it goes), so
    none of them is tried again; a user at a limit likewise for their class.
    `reservations`, when given, is told which starved job reserved what."""
    waiting = queue if isinstance(queue, Waiting) else _waiting(queue)
    usage = {u: Usage(x.jobs, x.cores) for u, x in (usage or {}).items()}
    limits, room = limits or {}, dict(room or {})
    starts: list[Start] = []
    reserved: set[str] = set()
    reserved_licenses: set[str] = set()
    unfit: set[Requirements] = set()
    at_limit: set[tuple[str, Requirements]] = set()       # (user, kind of job)
    empty: ClusterView | None = None

    def key_of(job: Job) -> tuple[float, ...]:
        if shares is None:
            return queue_key(job)
        return fair_key(job, usage.get(job.user), shares.get(job.user, 1.0))

    heap = [(key if shares is None else key_of(cls[0]), n, cls, 0)
            for n, (key, cls) in enumerate(waiting.heads())]
    heapq.heapify(heap)
    while heap:
        key, n, cls, cursor = heapq.heappop(heap)
        req = cls.requirements
        if req in unfit or (cls.user, req) in at_limit:
            continue
        job = cls[cursor]
        if ready is not None and cls.user not in ready and not job.spec.interactive:
            continue                    # (a session is run by its own client, not a launcher)
        if shares is not None:
            current = key_of(job)
            if current != key:           # its user got more cores in this pass: later
                heapq.heappush(heap, (current, n, cls, cursor))
                continue
        if cls.array is not None and room.get(cls.array, 1) <= 0:
            continue
        if view.free_cores == 0:
            return starts
        placed = _try(job, view, reserved, reserved_licenses, usage, limits)
        if isinstance(placed, Start):
            starts.append(placed)
            if cls.array in room:
                room[cls.array] -= 1
            if cursor + 1 < len(cls):       # its next job takes its own turn
                heapq.heappush(heap, (key_of(cls[cursor + 1]), n, cls, cursor + 1))
            continue
        if placed == _AT_LIMIT:
            at_limit.add((job.user, req))
            continue
        if placed == _AT_LIMIT_HERE:             # this placement only: the class goes on
            if cls.array is None and cursor + 1 < len(cls):
                heapq.heappush(heap, (key_of(cls[cursor + 1]), n, cls, cursor + 1))
            continue
        unfit.add(req)
        if req.priority >= BLOCK_PRIORITY:
            return starts
        if now - job.submitted >= starve_after:
            empty = empty or view.empty_like()
            if explain.never_fits(req, empty) is None:
                names = {name for name, _ in req.licenses}
                hosts = set() if placed == _NO_LICENSES else {
                    u.host.name for u in candidates(req, view, set()) if _could_hold(req, u)}
                reserved_licenses.update(names)
                reserved.update(hosts)
                if reservations is not None:
                    reservations.add(job, hosts, names)
    return starts


def _waiting(jobs: Iterable[Job]) -> Waiting:
    out = Waiting()
    for job in jobs:
        out.add(job)
    return out


_UNFIT, _NO_LICENSES = "unfit", "no-licenses"
_AT_LIMIT, _AT_LIMIT_HERE = "at-limit", "at-limit-here"


def _try(job: Job, view: ClusterView, reserved: set[str], reserved_licenses: set[str],
         usage: dict[str, Usage], limits: Mapping[str, Limits]) -> Start | str:
    """Place one job: a Start (view and usage are taken from), _AT_LIMIT when its
    user is at a limit for any job like it, _AT_LIMIT_HERE when the placement found
    would put them over (either reserves nothing), _NO_LICENSES when its
    licences are not free (or reserved), _UNFIT when it does not fit."""
    req = job.spec.requirements
    used = usage.setdefault(job.user, Usage())
    if over_limit(limits.get(job.user), used, _least_cores(req)) is not None:
        return _AT_LIMIT
    if req.licenses and (not view.has_licenses(req.licenses)
                         or any(name in reserved_licenses for name, _ in req.licenses)):
        return _NO_LICENSES
    placement = None
    if job.avoid:
        placement = place(req, view, reserved | set(job.avoid))
    if placement is None:
        placement = place(req, view, reserved)
    if placement is None:
        return _UNFIT
    if over_limit(limits.get(job.user), used, placement.cores) is not None:
        return _AT_LIMIT_HERE
    view.take(placement)
    view.take_licenses(req.licenses)
    used.jobs += 1
    used.cores += placement.cores
    return Start(job.id, placement)


def _least_cores(req: Requirements) -> int:
    """The fewest cores a placement of `req` can have."""
    return req.n if req.mode in (Mode.BYCORE, Mode.BYCORE1, Mode.BYHOST) else 1


def _could_hold(req: Requirements, use: HostUse) -> bool:
    """Could `use`, once empty, hold this job's share? (Only those hosts are reserved.)"""
    if req.mode in (Mode.BYCORE1, Mode.BYHOST):
        return use.host.cores >= req.n
    return True


def waiting_reason(job: Job, view: ClusterView, *, usage: Mapping[str, Usage] | None = None,
                   limits: Mapping[str, Limits] | None = None,
                   ready: Container[str] | None = None) -> str:
    """Why a waiting job is not running, in one line."""
    req = job.spec.requirements
    never = explain.never_fits(req, view.empty_like())
    if never:
        return f"can no longer fit: {never}"
    if ready is not None and job.user not in ready and not job.spec.interactive:
        return f"waiting for {job.user}'s launcher (started by {job.user}'s next wq command)"
    if not view.has_licenses(req.licenses):
        return explain.why_no_licenses(req, view)
    placement = place(req, view)
    if placement is not None:
        used = (usage or {}).get(job.user, Usage())
        limit = over_limit((limits or {}).get(job.user), used, placement.cores)
        return limit or "waiting for its turn in the queue"
    hosts = [u for u in view.hosts() if filters.eligible(u.host, req)]
    return explain.why_waiting(req, view, hosts)
