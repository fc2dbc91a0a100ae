"""Queue order: priority (higher first), then submission time, then id."""

from __future__ import annotations

from collections.abc import Iterable

from wq.model import Job


def queue_key(job: Job) -> tuple[int, float, int]:
    return (-job.spec.requirements.priority, job.submitted, job.id)


def ordered(jobs: Iterable[Job]) -> list[Job]:
    return sorted(jobs, key=queue_key)
