"""Attached clients' event queues, and the hub that routes events to them.

Events about a job wait while the store has uncommitted writes (`hold`), and
go out once that commit is on disk (`seal`, then `deliver`): nobody hears of
what is not durable. Events published meanwhile queue behind them, so every
watcher hears of a job in the order its events were published.
"""

from __future__ import annotations

import asyncio
from collections import deque

from wq.model import JobId
from wq.protocol.events import Event, Output

WATCH_QUEUE = 4096        # events buffered per attached client before it is cut off


class Watcher:
    """An attached client's queue of events about one job (or one array)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(WATCH_QUEUE)
        self.overflowed = False
        # it follows the running instance's output itself, from its start (it came
        # after that instance started): the output others are sent is not for it
        self.own_output = False

    def put(self, event: Event, shared: bool = False) -> None:
        if isinstance(event, Output) and (self.overflowed or (shared and self.own_output)):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            if not isinstance(event, Output):        # never lose the end of the job
                self.queue.get_nowait()
                self.queue.put_nowait(event)


class Hub:
    def __init__(self) -> None:
        self.jobs: dict[JobId, set[Watcher]] = {}
        self.arrays: dict[int, set[Watcher]] = {}
        # batches of (watchers, event) waiting for their commit to be durable;
        # the last one is open (joined by hold()) until seal()
        self._held: deque[list[tuple[list[Watcher], Event]]] = deque()
        self._open = False

    def watch(self, job_id: JobId, watcher: Watcher) -> None:
        self.jobs.setdefault(job_id, set()).add(watcher)

    def watch_array(self, number: int, watcher: Watcher) -> None:
        self.arrays.setdefault(number, set()).add(watcher)

    def unwatch(self, job_id: JobId, watcher: Watcher) -> None:
        self.jobs.get(job_id, set()).discard(watcher)

    def unwatch_array(self, number: int, watcher: Watcher) -> None:
        self.arrays.get(number, set()).discard(watcher)

    def publish(self, job_id: JobId, event: Event, last: bool = False) -> None:
        """Tell a job's watchers as they are now; with `last`, forget them."""
        watchers = self.jobs.pop(job_id, set()) if last else self.jobs.get(job_id, set())
        self._tell(list(watchers), event)

    def publish_array(self, number: int, event: Event, last: bool = False) -> None:
        watchers = self.arrays.pop(number, set()) if last else self.arrays.get(number, set())
        self._tell(list(watchers), event)

    def hold(self) -> None:
        """Keep what is published from now until the commit under way is durable."""
        if not self._open:
            self._held.append([])
            self._open = True

    def seal(self) -> bool:
        """The commit was made: what was held for it goes out at the next deliver();
        False when nothing was held."""
        sealed, self._open = self._open, False
        return sealed

    def deliver(self) -> None:
        """The oldest sealed commit is durable: tell what waited for it."""
        if self._held and not (self._open and len(self._held) == 1):
            for watchers, event in self._held.popleft():
                for watcher in watchers:
                    watcher.put(event, shared=True)

    def _tell(self, watchers: list[Watcher], event: Event) -> None:
        if not watchers:
            return
        if self._held:
            self._held[-1].append((watchers, event))
            return
        for watcher in watchers:
            watcher.put(event, shared=True)
