"""Setups: a host's `setup` command before its first job, `teardown` once idle.

The cluster file may give a host (or every host, in `defaults`) a `setup`
command, run once before the first job there (software mounted, a module
tree unpacked), and a `teardown`, run once the host has been idle for
`teardown_after` seconds or at `wq node offline` (once its jobs have ended).
Both run as the server's user, in the home directory, through the server's
own executor. A marker in the server's directory on the node records the
boot a setup ran in, so neither a server restart nor a dropped connection
runs it twice; a reboot does (what a setup mounts is gone). A failed setup
drains the host with the reason (`SetupFailed`); its job goes back to the
queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from wq.errors import ExecutorError, one_line
from wq.executor import wrapper
from wq.executor.base import ShellExecutor
from wq.model import Host

log = logging.getLogger(__name__)

#: seconds a setup may take before it counts as failed
SETUP_TIMEOUT = 600.0


class SetupFailed(Exception):
    def __init__(self, host: str, reason: str) -> None:
        super().__init__(reason)
        self.host, self.reason = host, reason


class Setups:
    def __init__(self, executor_for: Callable[[Host], ShellExecutor], server_id: str) -> None:
        self.executor_for = executor_for
        self.server_id = server_id
        self.done: dict[str, str] = {}      # host -> the setup command that ran there
        self.hosts: dict[str, Host] = {}    # as last set up (its teardown is for that)
        self._locks: dict[str, asyncio.Lock] = {}
        self._busy: Counter[str] = Counter()
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._draining: set[str] = set()    # offline: torn down as soon as idle
        self._tasks: set[asyncio.Task[None]] = set()

    def _marker(self, host: Host) -> str:
        digest = hashlib.sha256((host.setup or "").encode()).hexdigest()[:12]
        return f'"$HOME/.cache/wq/{self.server_id}/setup-{digest}"'

    async def ready(self, hosts: Iterable[Host]) -> None:
        """Set up each of `hosts` that needs it (once; callers for a host being set
        up wait for it); SetupFailed names the first that failed."""
        for host in hosts:
            if host.setup is None or self.done.get(host.name) == host.setup:
                continue
            async with self._locks.setdefault(host.name, asyncio.Lock()):
                if self.done.get(host.name) == host.setup:
                    continue
                await self._setup(host)

    async def _setup(self, host: Host) -> None:
        assert host.setup is not None
        try:
            code, out = await asyncio.wait_for(
                self.executor_for(host).run(host, wrapper.setup_script(self._marker(host),
                                                                      host.setup)),
                SETUP_TIMEOUT)
        except asyncio.TimeoutError:
            raise SetupFailed(host.name, f"its setup did not end within {SETUP_TIMEOUT:g} s") \
                from None
        except ExecutorError as exc:
            raise SetupFailed(host.name, f"its setup could not run: {exc}") from None
        if code != 0:
            said = one_line(out.strip().splitlines()[-1], 300) if out.strip() else ""
            raise SetupFailed(host.name, f"its setup failed (exit {code})"
                              + (f": {said}" if said else ""))
        log.info("host %s: set up", host.name)
        self.done[host.name] = host.setup
        self.hosts[host.name] = host

    def started(self, hosts: Iterable[Host]) -> None:
        """A job runs on `hosts` (launched or watched again)."""
        for host in hosts:
            if host.teardown is not None:
                self._busy[host.name] += 1
                timer = self._idle.pop(host.name, None)
                if timer is not None:
                    timer.cancel()

    def ended(self, hosts: Iterable[Host]) -> None:
        """A job on `hosts` ended: a host left idle is torn down after its
        teardown_after (at once if it is offline)."""
        for host in hosts:
            if host.teardown is None or self._busy[host.name] == 0:
                continue
            self._busy[host.name] -= 1
            if self._busy[host.name] == 0:
                del self._busy[host.name]
                self._when_idle(host)

    def offline(self, names: Iterable[str], offline: bool) -> None:
        """`wq node offline` (or online): an offline host is torn down once idle."""
        for name in names:
            if not offline:
                self._draining.discard(name)
                continue
            self._draining.add(name)
            host = self.hosts.get(name)
            if host is not None and self._busy[name] == 0:
                self._when_idle(host)

    def forget(self, name: str) -> None:
        """The host went down: whether it is still set up is the node's marker's to tell."""
        self.done.pop(name, None)

    def _when_idle(self, host: Host) -> None:
        if host.name not in self.done or host.teardown is None:
            return
        delay = 0.0 if host.name in self._draining else host.teardown_after
        timer = self._idle.pop(host.name, None)
        if timer is not None:
            timer.cancel()
        self._idle[host.name] = asyncio.get_running_loop().call_later(
            delay, self._start_teardown, host)

    def _start_teardown(self, host: Host) -> None:
        self._idle.pop(host.name, None)
        if self._busy[host.name] or host.name not in self.done:
            return
        task = asyncio.ensure_future(self._teardown(host))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _teardown(self, host: Host) -> None:
        assert host.teardown is not None
        async with self._locks.setdefault(host.name, asyncio.Lock()):
            if self._busy[host.name] or host.name not in self.done:
                return
            self.done.pop(host.name, None)      # the next job sets it up again
            try:
                code, out = await asyncio.wait_for(
                    self.executor_for(host).run(
                        host, wrapper.teardown_script(self._marker(host), host.teardown)),
                    SETUP_TIMEOUT)
            except (asyncio.TimeoutError, ExecutorError) as exc:
                log.warning("host %s: its teardown could not run: %s", host.name,
                            exc or "timed out")
                return
            if code != 0:
                log.warning("host %s: its teardown failed (exit %s): %s", host.name, code,
                            one_line(out.strip(), 300))
            else:
                log.info("host %s: torn down after %s", host.name,
                         "going offline" if host.name in self._draining else
                         f"{host.teardown_after:g} s idle")

    async def close(self) -> None:
        for timer in self._idle.values():
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
