"""A per-host pool of ssh connections, each carrying at most `max_sessions` channels.

OpenSSH allows 10 sessions per connection (MaxSessions) and frees slots late,
so the pool stays below that and opens another connection when all are busy.
Connects to one host happen one at a time (MaxStartups); a host whose
authentication failed is not retried until `auth_backoff` has passed, and
callers that queued behind a failing connect share its failure rather than
each waiting out another connect timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wq.errors import HostUnreachable

log = logging.getLogger(__name__)

Connect = Callable[[Callable[[Exception | None], None]], Awaitable[Any]]


@dataclass(eq=False)
class Slot:
    conn: Any
    sessions: int = 0
    closed: bool = False


@dataclass
class HostPool:
    name: str
    connect: Connect                      # opens a connection; calls back when it is lost
    max_sessions: int = 8
    auth_backoff: float = 300.0
    on_lost: Callable[[str, str], None] = lambda name, reason: None
    slots: list[Slot] = field(default_factory=list)
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock)
    _freed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _auth_failed: tuple[float, str] | None = None
    _failed: tuple[float, HostUnreachable] | None = None

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        slot = await self._acquire()
        try:
            yield slot.conn
        finally:
            slot.sessions -= 1
            async with self._freed:
                self._freed.notify()

    async def lease(self) -> tuple[Any, Callable[[], None]]:
        """A session slot held until the returned release() is called (the helper's)."""
        slot = await self._acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slot.sessions -= 1
        return slot.conn, release

    async def _acquire(self) -> Slot:
        while True:
            for slot in self.slots:
                if not slot.closed and slot.sessions < self.max_sessions:
                    slot.sessions += 1
                    return slot
            queued = time.monotonic()
            async with self._connecting:
                if any(not s.closed and s.sessions < self.max_sessions for s in self.slots):
                    continue
                if self._failed is not None and self._failed[0] >= queued:
                    raise self._failed[1]
                slot = await self._open()
                slot.sessions += 1
                return slot

    async def _open(self) -> Slot:
        if self._auth_failed is not None:
            when, reason = self._auth_failed
            if time.monotonic() - when < self.auth_backoff:
                raise HostUnreachable(reason)
        holder: list[Slot] = []

        def lost(exc: Exception | None) -> None:
            if holder:
                holder[0].closed = True
                self.slots = [s for s in self.slots if s is not holder[0]]
                if exc is not None:
                    self.on_lost(self.name, f"connection lost: {exc}")

        try:
            conn = await self.connect(lost)
        except HostUnreachable as exc:
            self._failed = (time.monotonic(), exc)
            if "authentication" in str(exc):
                self._auth_failed = (time.monotonic(), str(exc))
            raise
        self._auth_failed = self._failed = None
        slot = Slot(conn)
        holder.append(slot)
        self.slots.append(slot)
        return slot

    def forget_auth_failure(self) -> None:
        """Allow a new authentication attempt now (wq refresh)."""
        self._auth_failed = None

    async def close(self) -> None:
        for slot in self.slots:
            slot.closed = True
            slot.conn.close()
        for slot in self.slots:
            with contextlib.suppress(Exception):
                await slot.conn.wait_closed()
        self.slots = []
