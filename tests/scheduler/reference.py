"""The scheduler's pass as it was before classes (issue 11): every waiting job (an
array's tasks as one group) sorted by queue key each pass and tried in turn.

Kept as the specification the class-merging plan() must match exactly; tests
compare the two on random queues. Not used by wq."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wq.model import BLOCK_PRIORITY, Job, Limits
from wq.scheduler import (DEFAULT_STARVE_AFTER, ClusterView, Start, Usage, _could_hold,
                          _least_cores, candidates, explain, place)
from wq.scheduler.limits import over_limit
from wq.scheduler.order import queue_key


@dataclass(frozen=True, slots=True)
class Group:
    jobs: Sequence[Job]
    room: int | None = None


def reference_plan(queue: Iterable[Group], view: ClusterView, *, now: float,
                   usage: Mapping[str, Usage] | None = None,
                   limits: Mapping[str, Limits] | None = None,
                   starve_after: float = DEFAULT_STARVE_AFTER) -> list[Start]:
    usage_ = {u: Usage(x.jobs, x.cores) for u, x in (usage or {}).items()}
    limits = limits or {}
    starts: list[Start] = []
    reserved: set[str] = set()
    groups = sorted((g for g in queue if g.jobs), key=lambda g: queue_key(g.jobs[0]))
    for group in groups:
        room = len(group.jobs) if group.room is None else group.room
        for job in group.jobs:
            if view.free_cores == 0:
                return starts
            if room <= 0:
                break
            req = job.spec.requirements
            used = usage_.setdefault(job.user, Usage())
            if over_limit(limits.get(job.user), used, _least_cores(req)) is not None:
                break
            placement = None
            if job.avoid:
                placement = place(req, view, reserved | set(job.avoid))
            if placement is None:
                placement = place(req, view, reserved)
            if placement is None:
                if req.priority >= BLOCK_PRIORITY:
                    return starts
                if now - job.submitted >= starve_after and explain.never_fits(
                        req, view.empty_like()) is None:
                    reserved.update(u.host.name for u in candidates(req, view, set())
                                    if _could_hold(req, u))
                break
            if over_limit(limits.get(job.user), used, placement.cores) is not None:
                break
            view.take(placement)
            used.jobs += 1
            used.cores += placement.cores
            starts.append(Start(job.id, placement))
            room -= 1
    return starts
