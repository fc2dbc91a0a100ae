"""What attached clients hear: how many are attached to each job and array, and
the waiting reason each job's were last told. A part of the engine (pure): it
answers with the Publish effects to make, and the engine makes them."""

from __future__ import annotations

from collections import Counter

from wq.model import JobId
from wq.protocol import events
from wq.server import effects as fx
from wq.server.counting import decrement


class Audience:
    def __init__(self) -> None:
        self.jobs: Counter[JobId] = Counter()          # attached clients per job
        self.arrays: Counter[int] = Counter()          # ... per array
        self.told: dict[JobId, str] = {}               # the waiting reason last told

    def watches(self, job_id: JobId) -> bool:
        return self.jobs[job_id] > 0

    def watches_array(self, number: int) -> bool:
        return self.arrays[number] > 0

    def watch(self, job_id: JobId) -> None:
        """One more client attached: it is told why its job waits afresh."""
        self.jobs[job_id] += 1
        self.told.pop(job_id, None)

    def watch_array(self, number: int) -> None:
        self.arrays[number] += 1

    def unwatch(self, job_id: JobId) -> None:
        decrement(self.jobs, job_id)

    def unwatch_array(self, number: int) -> None:
        decrement(self.arrays, number)

    def changed(self, job_id: JobId) -> None:
        """The job changed (held, updated, started): why it waits is told again."""
        self.told.pop(job_id, None)

    def tell(self, job_id: JobId, event: events.Event) -> fx.Publish | None:
        """What to send a job's clients, if it has any."""
        if isinstance(event, events.Started):
            self.told.pop(job_id, None)
        return fx.Publish(job_id, event) if self.jobs[job_id] else None

    def tell_last(self, job_id: JobId, event: events.Exit) -> fx.Publish | None:
        """A job's last event: its clients are done with it."""
        self.told.pop(job_id, None)
        return fx.Publish(job_id, event, last=True) if self.jobs.pop(job_id, 0) else None

    def tell_waiting(self, job_id: JobId, reason: str) -> fx.Publish | None:
        """Why the job waits, when that changed since its clients were last told."""
        if self.told.get(job_id) == reason:
            return None
        self.told[job_id] = reason
        return self.tell(job_id, events.Waiting(reason))

    def tell_array(self, number: int, event: events.Event) -> fx.PublishArray | None:
        return fx.PublishArray(number, event) if self.arrays[number] else None

    def tell_array_last(self, number: int, event: events.Event) -> fx.PublishArray | None:
        """An array's last event: its clients are done with it."""
        return fx.PublishArray(number, event, last=True) if self.arrays.pop(number, 0) \
            else None

    def compact(self) -> None:
        """After many jobs went: the tables made afresh at their size now."""
        self.jobs = Counter(self.jobs)
        self.told = dict(self.told)
