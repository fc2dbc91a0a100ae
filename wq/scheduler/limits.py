"""Per-user limits: running jobs and cores, checked against usage plus the request."""

from __future__ import annotations

from dataclasses import dataclass

from wq.model import Limits


@dataclass(slots=True)
class Usage:
    jobs: int = 0
    cores: int = 0


def over_limit(limits: Limits | None, usage: Usage, cores: int) -> str | None:
    """Why starting one more job of `cores` cores would break the limits, or None."""
    if limits is None:
        return None
    if limits.jobs is not None and usage.jobs + 1 > limits.jobs:
        return f"user limit: {usage.jobs} jobs running, limit {limits.jobs}"
    if limits.cores is not None and usage.cores + cores > limits.cores:
        return (f"user limit: {usage.cores} cores in use + {cores} asked, "
                f"limit {limits.cores}")
    return None
