"""Events: what the server tells an attached client about its job (or array),
one dataclass each, tagged by `event` on the wire.

A single job's stream is Waiting/Started/Output/Requeued... then Exit; an
interactive job's holds a Lease (and perhaps End) instead of Output; an
array's is Task per task ended, then ArrayEnd. Notice is the server's word
about the stream itself. A new field must have a default.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from wq.protocol.messages import tagged


@dataclass(frozen=True, slots=True)
class Waiting:
    """Why the job still waits (sent when the reason changes)."""
    event: ClassVar[str] = "waiting"
    reason: str


@dataclass(frozen=True, slots=True)
class Started:
    event: ClassVar[str] = "started"
    host: str
    pid: int
    instance: int


@dataclass(frozen=True, slots=True)
class Output:
    event: ClassVar[str] = "output"
    stream: str                 # stdout | stderr
    data: str                   # decoded with surrogateescape: encode the same way


@dataclass(frozen=True, slots=True)
class Requeued:
    """The instance ended but the job runs again (lost with its host, or retried)."""
    event: ClassVar[str] = "requeued"
    reason: str


@dataclass(frozen=True, slots=True)
class Exit:
    """The job ended in `state`. `code` is its command's own exit status, None
    when the command did not end by itself (it never ran, or was lost)."""
    event: ClassVar[str] = "exit"
    state: str
    code: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    """One task of an array ended; `counts`: the array's final states so far."""
    event: ClassVar[str] = "task"
    id: str
    state: str
    code: int | None = None
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArrayEnd:
    event: ClassVar[str] = "array-end"
    id: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """An interactive job's session, for its client to run: `setup` on the host,
    then `command` in a session (through `connect`, asyncssh's options; none for
    a local host). A lab member's client takes only the placement (`instance`,
    `placement`, `hosts`, `server_id`, `grace`) and builds the rest itself from
    its own request, so the server cannot choose what runs as them."""
    event: ClassVar[str] = "lease"
    host: str
    local: bool
    setup: str
    command: str
    connect: dict[str, Any] | None = None
    instance: int = 0
    placement: list[dict[str, Any]] | None = None
    hosts: list[dict[str, Any]] = field(default_factory=list)    # calls.HostRef's
    server_id: str = ""
    grace: float = 5.0


@dataclass(frozen=True, slots=True)
class End:
    """The server ends an interactive session (wq rm, or its time ran out)."""
    event: ClassVar[str] = "end"
    reason: str
    timeout: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    event: ClassVar[str] = "notice"
    text: str


Event = Waiting | Started | Output | Requeued | Exit | Task | ArrayEnd | Lease | End | Notice
EVENTS: dict[str, type[Any]] = {c.event: c for c in typing.get_args(Event)}
#: the events after which a stream is over
LAST = (Exit, ArrayEnd)


_FIELDS = {kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in EVENTS.values()}


def to_frame(event: Event) -> dict[str, Any]:
    """Shallow (every field holds plain JSON values, never a dataclass): a task's
    event goes to each attached client, so asdict's deep copy was a cost."""
    return {"event": event.event, **{name: getattr(event, name)
                                     for name in _FIELDS[type(event)]}}


def from_frame(frame: dict[str, Any]) -> Event:
    """Check a decoded frame against its event class; ProtocolError if it does not fit."""
    return typing.cast(Event, tagged(frame, "event", EVENTS, "event"))
