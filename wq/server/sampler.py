"""Sampler: each host's own load, memory and GPUs, for load-aware placement.

Only hosts with a limit on their own state (max_load, min_free_mem,
min_free_gpu_mem) or GPUs to pick are sampled: through the helper every
EVERY seconds while jobs wait (it costs the node a `sh` and a `cat`), over a
channel of its own at PLAIN_EVERY without one; and at least every IDLE_EVERY
when no job waits, so a pass never starts from an old sample. A sample that
cannot be taken is skipped: the host keeps its last one (a host that is down
takes no job anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from wq.executor import wrapper
from wq.executor.base import ShellExecutor
from wq.model import Host, HostState
from wq.parsing import samples
from wq.server.effects import Event, Sampled
from wq.server.hosts import HostMonitor

log = logging.getLogger(__name__)

EVERY = 5.0             # seconds, through the helper (and on local hosts)
PLAIN_EVERY = 30.0      # seconds, a channel per sample
IDLE_EVERY = 60.0       # seconds, when no job waits
FIRST_EVERY = 0.5       # seconds between looks until the host is up to be sampled


class Sampler:
    def __init__(self, monitor: HostMonitor, feed: Callable[[Event], object],
                 waiting: Callable[[], bool]) -> None:
        self.monitor = monitor
        self.feed = feed
        self.waiting = waiting
        self._loops: dict[str, tuple[Host, asyncio.Task[None]]] = {}

    def track(self, hosts: list[Host]) -> None:
        """Sample exactly those of `hosts` that need it (after a start or a reload)."""
        wanted = {h.name: h for h in hosts if h.sampled}
        for name in list(self._loops):
            if wanted.get(name) != self._loops[name][0]:
                self._loops.pop(name)[1].cancel()
        for name, host in wanted.items():
            if name not in self._loops:
                self._loops[name] = (host, asyncio.ensure_future(self._loop(host)))

    async def _loop(self, host: Host) -> None:
        every = EVERY if host.local or host.ssh.helper else PLAIN_EVERY
        last: float | None = None           # when it was last sampled
        while True:
            status = self.monitor.status.get(host.name)
            due = last is None or self.waiting() or time.monotonic() - last >= IDLE_EVERY
            if due and status is not None and status.state is HostState.UP:
                last = time.monotonic()
                await self._sample(host)
            await asyncio.sleep(every if last is not None else FIRST_EVERY)

    async def _sample(self, host: Host) -> None:
        executor: ShellExecutor = self.monitor.executor_for(host)
        try:
            _, text = await asyncio.wait_for(executor.run(host, wrapper.SAMPLE_SCRIPT),
                                             host.ssh.connect_timeout * 2)
        except asyncio.CancelledError:
            raise
        except Exception as exc:            # never stops the sampling; the host keeps its last
            log.debug("sampling %s failed: %s", host.name, exc)
            return
        self.feed(Sampled(host.name, samples.parse(text, time.time())))

    async def close(self) -> None:
        for _, task in self._loops.values():
            task.cancel()
        for _, task in self._loops.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
