"""What every reply and row is (Row), and the replies every client reads: the
server's hello (HelloReply) and a submission taken (Accepted). The other
replies are in wq.protocol.replies; `wq sub` and sbatch load only this.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from wq.protocol.messages import checked


class Row:
    """What every row and reply does: to a frame (its fields, optional ones only
    when set, rows in it as frames) and back (each field checked)."""

    __slots__ = ()

    def to_frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, default in _fields(type(self)):
            value = getattr(self, name)
            if default is dataclasses.MISSING or value != default:
                if isinstance(value, Row):
                    value = value.to_frame()
                elif isinstance(value, list) and value and isinstance(value[0], Row):
                    value = [v.to_frame() for v in value]
                out[name] = value
        return out

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Self:
        row: Self = checked(cls, frame, cls.__name__)
        return row


_FIELDS: dict[type[Row], list[tuple[str, Any]]] = {}


def _fields(cls: type[Row]) -> list[tuple[str, Any]]:
    """A row class's fields and their defaults, worked out once per class."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = [(f.name, f.default)
                                for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return found


@dataclass(frozen=True, slots=True)
class HelloReply(Row):
    version: int
    user: str = ""
    pid: int = 0
    launcher: bool = False          # a lab member: jobs are signed, and run by one's launcher
    launcher_up: bool = False       # ... and one's launcher is connected
    waiting: int = 0                # ... or not, and this many of one's jobs wait for it


@dataclass(frozen=True, slots=True)
class Accepted(Row):
    """A submission taken: the job's id, or an array's number and its task count."""
    id: str
    tasks: int | None = None
