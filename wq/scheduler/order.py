"""Queue order: priority (higher first), then submission time, then id; with fair
share (a lab), the user's weighted share in use comes right after priority."""

from __future__ import annotations

from wq.model import Job
from wq.scheduler.limits import Usage


def queue_key(job: Job) -> tuple[int, float, int]:
    return (-job.spec.requirements.priority, job.submitted, job.id)


def fair_key(job: Job, used: Usage | None, weight: float) -> tuple[float, ...]:
    """The queue key under fair share: priority, then the cores the job's user
    has in use divided by their weight (less goes first), then submission
    time and id (FIFO within a user)."""
    share = (used.cores if used is not None else 0) / weight
    return (-job.spec.requirements.priority, share, job.submitted, job.id)
