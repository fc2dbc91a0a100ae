"""The cluster and the server: hosts, users and their limits, stopping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Stat:
    type: ClassVar[str] = "stat"


@dataclass(frozen=True, slots=True)
class Refresh:
    type: ClassVar[str] = "refresh"


@dataclass(frozen=True, slots=True)
class NodeState:
    type: ClassVar[str] = "node"
    hosts: list[str]
    offline: bool


@dataclass(frozen=True, slots=True)
class Users:
    type: ClassVar[str] = "users"
    page: int | None = None             # rows per reply; replies then say `more`


@dataclass(frozen=True, slots=True)
class SetLimits:
    type: ClassVar[str] = "limit"
    jobs: int | None = None
    cores: int | None = None
    clear: bool = False
    user: str | None = None             # whose limits (another's: admins only); None: one's own


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask the server to exit cleanly (`wq stop`; its operator's alone). Running
    jobs keep running and are watched again at its next start."""

    type: ClassVar[str] = "stop"
