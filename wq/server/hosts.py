"""HostMonitor: which hosts are up, and probing the down ones back with backoff.

A host is usable for placement only once a probe has reached it. A failed
probe or a lost connection marks it down with the reason; it is probed again
after 5 s, doubling up to 5 minutes (failed authentication waits the longest,
so an OpenSSH server never penalises us for hammering it). `wq refresh`
probes every down host at once. Before a host that was down (or not yet
probed) counts as up, the listener's `settle` runs: it settles what became of
the jobs lost with it; should that fail, the host stays down and is probed
again. A lost connection marks a host down (no new work) and probes it at
once; only when that probe fails too is it down for sure, and the listener's
`host_lost` hears of it (its jobs are lost then): within keepalive x count + connect_timeout of
going silent, while a mere dropped connection to a healthy host loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from wq.errors import ExecutorError
from wq.executor.base import ShellExecutor
from wq.model import Host, HostState

log = logging.getLogger(__name__)

FIRST_RETRY = 5.0
MAX_RETRY = 300.0
#: probes in flight at once: a start with hundreds of hosts brings them up a
#: batch at a time, each batch at full speed, rather than all of them slowly
PROBES_AT_ONCE = 32


@dataclass
class HostStatus:
    state: HostState = HostState.UNKNOWN
    reason: str = ""
    since: float = 0.0
    boot_id: str = ""
    retry: float = FIRST_RETRY
    confirmed: bool = False     # down, and a probe since has failed too (on_down told)


class HostListener(Protocol):
    """Who hears of hosts: the runner, which tells the engine."""

    def host_changed(self, name: str, status: HostStatus) -> None: ...
    def host_lost(self, name: str, reason: str) -> None: ...
    async def settle(self, host: Host) -> None: ...


class HostMonitor:
    def __init__(self, executor_for: Callable[[Host], ShellExecutor]) -> None:
        self.executor_for = executor_for
        self.listener: HostListener | None = None
        self.status: dict[str, HostStatus] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._hosts: dict[str, Host] = {}
        self._kick: dict[str, asyncio.Event] = {}
        self._probing: asyncio.Semaphore | None = None      # (made in the loop)

    def track(self, hosts: list[Host]) -> None:
        """Watch exactly these hosts (after a start or a cluster reload)."""
        names = {h.name for h in hosts}
        for name in list(self._probes):
            if name not in names:
                self._probes.pop(name).cancel()
                self.status.pop(name, None)
        for host in hosts:
            old = self._hosts.get(host.name)
            self._hosts[host.name] = host
            if host.local:
                self._set(host.name, HostState.UP, "")
                continue
            if old is not None and old != host and host.name in self._probes:
                self._probes.pop(host.name).cancel()
                self.status.pop(host.name, None)
            if host.name not in self._probes:
                if host.name not in self.status:
                    self._set(host.name, HostState.UNKNOWN, "")
                self._start_probe(host.name)

    def _start_probe(self, name: str) -> None:
        self._kick[name] = asyncio.Event()
        self._probes[name] = asyncio.ensure_future(self._probe_loop(name))

    def down(self) -> set[str]:
        return {n for n, s in self.status.items() if s.state is not HostState.UP}

    def lost(self, name: str, reason: str) -> None:
        """A connection to `name` dropped (keepalive, reset): mark it down, probe again."""
        status = self.status.get(name)
        if status is None or status.state is HostState.DOWN:
            return
        log.warning("host %s is down: %s", name, reason)
        self._set(name, HostState.DOWN, reason)
        if name in self._probes and self._probes[name].done():
            self._start_probe(name)

    def refresh(self) -> None:
        """Probe every host that is not up, now."""
        for name, status in self.status.items():
            if status.state is not HostState.UP:
                status.retry = FIRST_RETRY
                host = self._hosts[name]
                self.executor_for(host).allow_retry(host)
                if name in self._kick:
                    self._kick[name].set()

    async def _probe_loop(self, name: str) -> None:
        """Probe until the host is up; then end (a lost connection starts a new loop)."""
        while True:
            host = self._hosts[name]
            if self._probing is None:
                self._probing = asyncio.Semaphore(PROBES_AT_ONCE)
            try:
                async with self._probing:
                    boot_id = await asyncio.wait_for(self.executor_for(host).probe(host),
                                                     host.ssh.connect_timeout * 2)
                if self.listener is not None:
                    await self.listener.settle(host)
            except asyncio.CancelledError:
                raise
            except Exception as exc:          # a host's failure never stops the probing
                if not isinstance(exc, (ExecutorError, asyncio.TimeoutError, OSError)):
                    log.exception("probe of %s failed", name)
                reason = str(exc) or "probe timed out"
                status = self.status[name]
                if status.state is not HostState.DOWN or status.reason != reason:
                    log.warning("host %s is down: %s", name, reason)
                self._set(name, HostState.DOWN, reason)
                if not status.confirmed:
                    status.confirmed = True
                    if self.listener is not None:
                        self.listener.host_lost(name, reason)
                kick = self._kick[name]
                kick.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(kick.wait(), status.retry)
                status.retry = min(status.retry * 2, MAX_RETRY)
                continue
            status = self.status[name]
            rebooted = bool(status.boot_id) and status.boot_id != boot_id
            status.boot_id = boot_id
            status.retry = FIRST_RETRY
            status.confirmed = False
            log.info("host %s is up%s", name, " (it rebooted)" if rebooted else "")
            self._set(name, HostState.UP, "rebooted" if rebooted else "")
            return

    def _set(self, name: str, state: HostState, reason: str) -> None:
        status = self.status.get(name)
        if status is None:
            status = self.status[name] = HostStatus(state=HostState.DOWN)
        changed = status.state is not state
        if not changed and status.reason == reason:
            return
        status.state, status.reason = state, reason
        if changed:
            status.since = time.time()
        if self.listener is not None:
            self.listener.host_changed(name, status)

    async def close(self) -> None:
        for task in self._probes.values():
            task.cancel()
        for task in self._probes.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
