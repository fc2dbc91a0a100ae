"""Asking about jobs: listings, states, one job in full, its log, why it waits,
following it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ListJobs:
    type: ClassVar[str] = "ls"
    user: str | None = None
    states: list[str] | None = None
    all: bool = False
    select: list[str] | None = None     # selectors: 12, 12.3, 12.1-50, 3-9, last, all
    full: bool = False
    expand: bool = False                # a row per task rather than one per array
    page: int | None = None             # rows per reply; replies then say `more`
    since: float | None = None          # finished jobs: those that ended since (all of them)


@dataclass(frozen=True, slots=True)
class Status:
    """The state of each job named, in one request (`wq status`, `wq wait`)."""

    type: ClassVar[str] = "status"
    select: list[str]


@dataclass(frozen=True, slots=True)
class Info:
    """One job in full: its spec, times, and the history of its instances."""

    type: ClassVar[str] = "info"
    id: str
    page: int | None = None             # history rows per reply; replies then say `more`


@dataclass(frozen=True, slots=True)
class Log:
    type: ClassVar[str] = "log"
    id: str
    max_bytes: int = 4 * 1024 * 1024
    instance: int | None = None     # None: the latest that started


@dataclass(frozen=True, slots=True)
class Why:
    """Why a job waits: for each host, the first rule that keeps it off."""

    type: ClassVar[str] = "why"
    select: str


@dataclass(frozen=True, slots=True)
class Attach:
    """Follow a job already submitted, as `wq sub` does: its output and events
    until it ends (`wq log -f`, and an attached `wq sub` back after a server
    restart). `tie`: the job is cancelled if this client goes away first."""

    type: ClassVar[str] = "attach"
    id: str
    tie: bool = False
