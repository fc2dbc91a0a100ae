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
import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from wq.model import Job, JobId, JobSpec, Requirements
from wq.scheduler.order import queue_key

# (requirements, user, interactive), or an array's number
ClassKey = tuple[Requirements, str, bool] | int


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
    the list keeps a consumed prefix, dropped once it is over half the list.
    Nothing but the jobs themselves is stored (a million tasks wait in arrays)."""

    key: ClassKey
    array: int | None                  # the array's number, for its throttle
    _jobs: list[Job] = field(default_factory=list)
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

    def _find(self, job: Job) -> int | None:
        if self._first < len(self._jobs) and self._jobs[self._first].id == job.id:
            return self._first                      # the usual case: it starts
        i = bisect.bisect_left(self._jobs, within_key(job), lo=self._first, key=within_key)
        while i < len(self._jobs) and within_key(self._jobs[i]) == within_key(job):
            if self._jobs[i].id == job.id:
                return i
            i += 1
        return None

    def add(self, job: Job) -> None:
        jobs = self._jobs
        if len(jobs) == self._first or within_key(jobs[-1]) < within_key(job):
            jobs.append(job)                        # a new submission
            return
        jobs.insert(bisect.bisect_left(jobs, within_key(job), lo=self._first,
                                       key=within_key), job)

    def remove(self, job: Job) -> bool:
        """Take `job` out; False if it is not here."""
        i = self._find(job)
        if i is None:
            return False
        if i == self._first:
            self._first += 1
            if self._first > 64 and 2 * self._first > len(self._jobs):
                del self._jobs[:self._first]
                self._first = 0
        else:
            del self._jobs[i]
        return True

    def respec(self, spec: JobSpec) -> list[Job]:
        """Its jobs all take `spec` (wq update of an array: its order stays); the
        new jobs."""
        jobs = [dataclasses.replace(j, spec=spec) for j in self]
        self._jobs[self._first:] = jobs
        return jobs

    def keep(self, drop: set[JobId]) -> int:
        """Drop many jobs in one sweep; how many went. Dropping the first ones (an
        array removed a chunk at a time, from its head) costs only what is dropped."""
        before, jobs, first = len(self), self._jobs, self._first
        if len(drop) <= before and all(jobs[first + i].id in drop for i in range(len(drop))):
            self._first += len(drop)
            if 2 * self._first > len(jobs):
                del jobs[:self._first]
                self._first = 0
            return len(drop)
        self._jobs = [j for j in jobs[first:] if j.id not in drop]
        self._first = 0
        return before - len(self)


class Waiting:
    """Waiting jobs by class; add() and remove() as they change state."""

    def __init__(self) -> None:
        self.classes: dict[ClassKey, JobClass] = {}
        self._count = 0
        self.of_user: Counter[str] = Counter()      # waiting jobs per user

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def class_of(job: Job) -> ClassKey:
        if job.task is not None:
            return job.number
        return (job.spec.requirements, job.user, job.spec.interactive)

    def add(self, job: Job) -> None:
        key = self.class_of(job)
        cls = self.classes.get(key)
        if cls is None:
            cls = self.classes[key] = JobClass(key, job.number if job.task is not None
                                               else None)
        cls.add(job)
        self._count += 1
        self.of_user[job.user] += 1

    def remove(self, job: Job) -> None:
        key = self.class_of(job)
        cls = self.classes.get(key)
        if cls is None or not cls.remove(job):
            return
        self._count -= 1
        self._less(job.user, 1)
        if not cls:
            del self.classes[key]

    def remove_many(self, jobs: Iterable[Job]) -> None:
        """Remove many at once (a whole array cancelled): one sweep per class."""
        gone: dict[ClassKey, set[JobId]] = {}
        for job in jobs:
            gone.setdefault(self.class_of(job), set()).add(job.id)
        for key, ids in gone.items():
            cls = self.classes.get(key)
            if cls is None:
                continue
            user = cls.user
            removed = cls.keep(ids)
            self._count -= removed
            self._less(user, removed)
            if not cls:
                del self.classes[key]

    def _less(self, user: str, count: int) -> None:
        self.of_user[user] -= count
        if self.of_user[user] <= 0:
            del self.of_user[user]

    def heads(self) -> Iterator[tuple[tuple[int, float, int], JobClass]]:
        """Each class with the queue key of its first job."""
        for cls in self.classes.values():
            yield queue_key(cls[0]), cls
