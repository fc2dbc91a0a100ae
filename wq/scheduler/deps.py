"""Dependencies as data: whether a job's dependency is met, pending, or never met.

A dependency names a target: a job or a whole array (number, None), or one
task (number, task). What is known of a target is its `Tally`: how many of
its jobs are still waiting or running, and how many ended done or otherwise.
The engine keeps a tally per target some waiting job depends on, and asks
`status` each time one changes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from wq.model import After, DepKind, Job

Key = tuple[int, int | None]         # (number, task): a job, an array, or one task


class Status(enum.Enum):
    MET = "met"
    PENDING = "pending"
    NEVER = "never"                  # cannot be met any more


@dataclass(slots=True)
class Tally:
    """A target's jobs: still live (waiting, running), ended done, ended otherwise."""
    live: int = 0
    done: int = 0
    failed: int = 0

    @classmethod
    def of(cls, states: Mapping[str, int]) -> Tally:
        """From counts by state name (the store's)."""
        live = states.get("waiting", 0) + states.get("running", 0)
        done = states.get("done", 0)
        return cls(live, done, sum(states.values()) - live - done)

    @property
    def exists(self) -> bool:
        return self.live + self.done + self.failed > 0


def key_of(after: After, job: Job) -> Key:
    """The target `after` names for `job`: aftercorr's is the task of the same
    index as the job's own."""
    if after.kind is DepKind.AFTERCORR:
        return (after.number, job.task)
    return (after.number, after.task)


def status(after: After, tally: Tally) -> Status:
    if not tally.exists:
        return Status.NEVER
    kind = after.kind
    if kind in (DepKind.AFTEROK, DepKind.AFTERCORR):
        if tally.failed:
            return Status.NEVER          # (an array's failed task fails the whole)
        return Status.PENDING if tally.live else Status.MET
    if tally.live:
        return Status.PENDING
    if kind is DepKind.AFTERANY:
        return Status.MET
    return Status.MET if tally.failed else Status.NEVER     # afternotok


def describe(after: After, key: Key, tally: Tally) -> str:
    """Why `after` holds its job (PENDING) or can never be met (NEVER), in words."""
    target = _name(key)
    if not tally.exists:
        return f"{after}: {target} does not exist"
    if status(after, tally) is Status.NEVER:
        if after.kind is DepKind.AFTERNOTOK:
            return f"{after}: {target} ended done"
        ended = "ended" if not tally.live else "has a task that ended"
        return f"{after}: {target} {ended} not done"
    if tally.done + tally.failed:
        return f"{after}: {target} has {tally.live} of {tally.live + tally.done + tally.failed} " \
               "still to end"
    return f"{after}: {target} has not ended"


def _name(key: Key) -> str:
    number, task = key
    return f"job {number}" if task is None else f"task {number}.{task}"
