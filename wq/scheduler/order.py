"""Queue order: priority (higher first), then submission time, then id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wq.model import Job


@dataclass(frozen=True, slots=True)
class Group:
    """Waiting jobs that are alike (an array's tasks: one user, one spec, one
    submission), taken in order. When one does not fit, the rest would not
    either, so a pass costs one try per group, not per task. `room`: how many
    may start now (an array's throttle less its running tasks), None unlimited."""

    jobs: Sequence[Job]
    room: int | None = None


def queue_key(job: Job) -> tuple[int, float, int]:
    return (-job.spec.requirements.priority, job.submitted, job.id)


def ordered(queue: Iterable[Job | Group]) -> list[Group]:
    groups = [q if isinstance(q, Group) else Group((q,)) for q in queue]
    return sorted((g for g in groups if g.jobs), key=lambda g: queue_key(g.jobs[0]))
