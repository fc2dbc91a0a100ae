"""Queue order: priority (higher first), then submission time, then id."""

from __future__ import annotations

from wq.model import Job


def queue_key(job: Job) -> tuple[int, float, int]:
    return (-job.spec.requirements.priority, job.submitted, job.id)
