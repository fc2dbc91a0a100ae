"""Waiting: the waiting work in queue order, kept as jobs come and go.

Nothing is rebuilt or sorted per scheduling pass. Separate jobs that are
alike (the same requirements and user) form one class, kept in queue order;
an array's waiting tasks form one class of their own, kept in task order
(tried as one group, as `order.Group`). A pass merges the classes by the
queue key of their heads, so its cost grows with the classes it tries and the
jobs it starts, not with the length of the queue: a class that does not fit
is tried once per pass, however many jobs it holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from wq.model import Job, JobId, Requirements
from wq.scheduler.order import queue_key

ClassKey = tuple[Requirements, str] | int       # (requirements, user), or an array's number


def task_key(job: Job) -> tuple[int, int]:
    """An array's tasks are taken in task order."""
    return (job.task or 0, job.id)


def within_key(job: Job) -> tuple[float, int] | tuple[int, int]:
    """The order inside a class (its priority is one): submission, then id; an
    array's tasks by task number."""
    return task_key(job) if job.task is not None else (job.submitted, job.id)


@dataclass(eq=False, slots=True)
class JobClass:
    """Alike waiting jobs in order. Taking the first (a job starts) costs O(1):
    the list keeps a consumed prefix, dropped once it is over half the list."""

    key: ClassKey
    array: int | None                  # the array's number, for its throttle
    _jobs: list[Job] = field(default_factory=list)
    _keys: list[tuple[float, int] | tuple[int, int]] = field(default_factory=list)
    _first: int = 0

    def __len__(self) -> int:
        return len(self._jobs) - self._first

    def __getitem__(self, i: int) -> Job:
        return self._jobs[self._first + i]

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs[self._first:])

    @property
    def requirements(self) -> Requirements:
        return self[0].spec.requirements

    @property
    def user(self) -> str:
        return self[0].user

    def add(self, job: Job) -> None:
        at = within_key(job)
        if len(self._jobs) == self._first or self._keys[-1] < at:    # a new submission
            self._keys.append(at)
            self._jobs.append(job)
            return
        i = bisect.bisect_left(self._keys, at, lo=self._first)
        self._keys.insert(i, at)
        self._jobs.insert(i, job)

    def remove(self, job: Job) -> None:
        i = bisect.bisect_left(self._keys, within_key(job), lo=self._first)
        while self._jobs[i].id != job.id:              # equal keys: look on
            i += 1
        if i == self._first:
            self._first += 1
            if self._first > 64 and 2 * self._first > len(self._jobs):
                del self._jobs[:self._first], self._keys[:self._first]
                self._first = 0
        else:
            del self._jobs[i], self._keys[i]

    def keep(self, drop: set[JobId]) -> None:
        """Drop many jobs in one sweep."""
        kept = [i for i in range(self._first, len(self._jobs)) if self._jobs[i].id not in drop]
        self._jobs = [self._jobs[i] for i in kept]
        self._keys = [self._keys[i] for i in kept]
        self._first = 0


class Waiting:
    """Waiting jobs by class; add() and remove() as they change state."""

    def __init__(self) -> None:
        self.classes: dict[ClassKey, JobClass] = {}
        self._where: dict[JobId, ClassKey] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._where

    @staticmethod
    def class_of(job: Job) -> ClassKey:
        if job.task is not None:
            return job.number
        return (job.spec.requirements, job.user)

    def add(self, job: Job) -> None:
        key = self.class_of(job)
        cls = self.classes.get(key)
        if cls is None:
            cls = self.classes[key] = JobClass(key, job.number if job.task is not None
                                               else None)
        cls.add(job)
        self._where[job.id] = key

    def remove(self, job: Job) -> None:
        key = self._where.pop(job.id, None)
        if key is None:
            return
        cls = self.classes[key]
        cls.remove(job)
        if not cls:
            del self.classes[key]

    def remove_many(self, jobs: Iterable[Job]) -> None:
        """Remove many at once (a whole array cancelled): one sweep per class."""
        gone: dict[ClassKey, set[JobId]] = {}
        for job in jobs:
            key = self._where.pop(job.id, None)
            if key is not None:
                gone.setdefault(key, set()).add(job.id)
        for key, ids in gone.items():
            cls = self.classes[key]
            cls.keep(ids)
            if not cls:
                del self.classes[key]

    def heads(self) -> Iterator[tuple[tuple[int, float, int], JobClass]]:
        """Each class with the queue key of its first job."""
        for cls in self.classes.values():
            yield queue_key(cls[0]), cls
