"""Changing jobs: cancel, signal, hold, release, requeue, update, forget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Remove:
    type: ClassVar[str] = "rm"
    select: list[str] = field(default_factory=list)
    all: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    """Send a signal to running jobs (`wq signal`, `scancel -s`), to whom
    `scope` says (job, batch or steps: requirements.SCOPES); they are not
    cancelled."""

    type: ClassVar[str] = "signal"
    select: list[str]
    signal: str = "TERM"
    scope: str = "job"


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold waiting jobs (`wq hold`, `scontrol hold`): they start nothing until
    released."""

    type: ClassVar[str] = "hold"
    select: list[str]


@dataclass(frozen=True, slots=True)
class Release:
    """Release held jobs (`wq release`, `scontrol release`)."""

    type: ClassVar[str] = "release"
    select: list[str]


@dataclass(frozen=True, slots=True)
class Requeue:
    """Put running or ended jobs back in the queue (`wq requeue`, `scontrol
    requeue`): a running one is stopped first."""

    type: ClassVar[str] = "requeue"
    select: list[str]


@dataclass(frozen=True, slots=True)
class Update:
    """Change waiting jobs (`wq update`, `scontrol update`): their time limit in
    seconds (0: none). Each selector names a whole job or array."""

    type: ClassVar[str] = "update"
    select: list[str]
    time_limit: float


@dataclass(frozen=True, slots=True)
class Clean:
    """Forget finished jobs (and delete their directories on the nodes)."""

    type: ClassVar[str] = "clean"
    older_than: float = 0.0         # seconds since they ended
    states: list[str] | None = None
