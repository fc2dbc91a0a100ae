"""Rows of replies, typed: a job in a listing (JobRow), a host in `wq stat`
(HostRow), a user in `wq users` (UserRow).

On the wire a row is a JSON object, as `--json` prints it (a job row's
optional fields only when set); `from_frame` checks every field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from wq.protocol.messages import checked


class Row:
    """What every row does: to a frame (its fields, optional ones only when
    set) and back (each field checked)."""

    __slots__ = ()

    def to_frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):   # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Self:
        row: Self = checked(cls, frame, cls.__name__)
        return row


@dataclass(frozen=True, slots=True)
class JobRow(Row):
    """A job (or a task, or an array's summary) in `wq ls`."""
    id: str                         # 12, 12.7, or an array's number
    number: int
    task: int | None
    user: str
    state: str                      # an array's: running, waiting, failed or done
    pri: str
    nc: int | None                  # cores, hosts and first host of its placement
    nh: int | None
    host0: str | None
    submitted: float
    started: float | None
    ended: float | None
    exit: int | None
    name: str
    reason: str
    instance: int
    interactive: bool = False
    unfit: bool = False             # waiting, but the cluster as it is can never hold it
    array: bool = False             # a summary row: its tasks' states in counts
    counts: dict[str, int] | None = None
    tasks: int | None = None
    command: str | None = None      # these with `full`
    cwd: str | None = None
    hosts: list[str] | None = None
    requirements: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HostRow(Row):
    """A host in `wq stat`."""
    name: str
    cores: int
    used: int
    mem: float
    gpus: int
    labels: list[str]
    state: str                      # up, down, unknown, offline
    reason: str


@dataclass(frozen=True, slots=True)
class UserRow(Row):
    """A user in `wq users`: running jobs and cores, waiting jobs, limits (None: none)."""
    user: str
    running: int
    cores: int
    waiting: int
    limits: dict[str, int | None]
