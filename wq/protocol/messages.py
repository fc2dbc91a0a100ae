"""Request messages: one dataclass each, tagged by `type`, checked field by field.

Replies are objects with `ok` (and `error` when false); a listing asked for
with `page` comes as several replies, each but the last with `more`. An
accepted attached submission is followed by its events (events.py: waiting,
started, output, exit; lease and end for an interactive job; task and
array-end for an array); an interactive client answers its lease with
SessionEnd on the same connection. A new field must have a default, so older
clients keep working.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from wq.errors import ProtocolError

#: integers (and floats) in requests are within this bound: far beyond any job
#: number or count, safely inside SQLite's INTEGER and a float's exact range
MAX_INT = 2**53

PROTOCOL_VERSION = 2        # 2: arrays; jobs named by selectors (12, 12.3, 3-9, last)


@dataclass(frozen=True, slots=True)
class Hello:
    type: ClassVar[str] = "hello"
    version: int
    client: str = ""


@dataclass(frozen=True, slots=True)
class Submit:
    """One job, or an array: `array` [first, last, step] (or a list of them, in
    order) or `entries` (one task each, in WQ_ENTRY), at most `throttle`
    running at once."""

    type: ClassVar[str] = "submit"
    spec: dict[str, Any]
    attach: bool = False
    array: list[int] | list[list[int]] | None = None
    entries: list[str] | None = None
    throttle: int | None = None
    entry_tags: list[str] | None = None     # in a lab: each entry's tag (wq.signing)
    hold: bool = False                      # it waits, held, until released (wq release)


@dataclass(frozen=True, slots=True)
class SubmitMany:
    """Many separate jobs (the Python API's submit_many): all accepted, or none.
    A spec's `env` may be the index of an environment in `envs`, so that each
    travels once. A big submission comes as several requests on one
    connection, all but the last with `more`: each is answered (AcceptedMany
    with `more` and no ids) once its jobs are checked, and the last with all
    the ids."""

    type: ClassVar[str] = "submit_many"
    specs: list[dict[str, Any]]
    envs: list[dict[str, Any]] | None = None
    more: bool = False
    total: int | None = None            # jobs in the whole submission (for its messages)


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
class Stat:
    type: ClassVar[str] = "stat"


@dataclass(frozen=True, slots=True)
class Remove:
    type: ClassVar[str] = "rm"
    select: list[str] = field(default_factory=list)
    all: bool = False


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
class SessionEnd:
    """An interactive client's word that its session ended (code None: it never ran)."""

    type: ClassVar[str] = "session_end"
    id: str
    code: int | None = None
    reason: str = ""
    lost: bool = False          # cut off mid-session (rather than never started)


@dataclass(frozen=True, slots=True)
class Log:
    type: ClassVar[str] = "log"
    id: str
    max_bytes: int = 4 * 1024 * 1024
    instance: int | None = None     # None: the latest that started


@dataclass(frozen=True, slots=True)
class Info:
    """One job in full: its spec, times, and the history of its instances."""

    type: ClassVar[str] = "info"
    id: str
    page: int | None = None             # history rows per reply; replies then say `more`


@dataclass(frozen=True, slots=True)
class Clean:
    """Forget finished jobs (and delete their directories on the nodes)."""

    type: ClassVar[str] = "clean"
    older_than: float = 0.0         # seconds since they ended
    states: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Attach:
    """Follow a job already submitted, as `wq sub` does: its output and events
    until it ends (`wq log -f`, and an attached `wq sub` back after a server
    restart). `tie`: the job is cancelled if this client goes away first."""

    type: ClassVar[str] = "attach"
    id: str
    tie: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    """A workflow's session (`wq session`, a driver's sidecar): the connection
    stays open; when it ends, other than by the server stopping, the jobs
    submitted with this session that have not ended are cancelled."""

    type: ClassVar[str] = "session"
    token: str


@dataclass(frozen=True, slots=True)
class Rerun:
    """Submit again what of a job or an array ended in `states` (default: failed,
    lost, timeout, cancelled): a new job, or an array of those task numbers."""

    type: ClassVar[str] = "rerun"
    id: str
    states: list[str] | None = None
    attach: bool = False
    again: str | None = None            # in a lab: the rerun's seal and its member's tag
    again_tag: str | None = None        # of it (wq.signing.sign_again; see Signature)


@dataclass(frozen=True, slots=True)
class Signature:
    """A job's signature (its owner's alone): what a lab member's client tags a
    rerun of it with."""

    type: ClassVar[str] = "signature"
    id: str


@dataclass(frozen=True, slots=True)
class Status:
    """The state of each job named, in one request (`wq status`, `wq wait`)."""

    type: ClassVar[str] = "status"
    select: list[str]


@dataclass(frozen=True, slots=True)
class Launcher:
    """A lab member's launcher offers itself: from then on the connection carries
    calls for that member's jobs and reports on them (launching.py)."""

    type: ClassVar[str] = "launcher"


@dataclass(frozen=True, slots=True)
class Why:
    """Why a job waits: for each host, the first rule that keeps it off."""

    type: ClassVar[str] = "why"
    select: str


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
class Step:
    """Tasks of a running job's step on one of its hosts (srun inside the job):
    `argv` in `cwd` with `env`, once per SLURM_PROCID in `tasks`, as node `node`
    (SLURM_NODEID). Answered by frames of output ({"stream", "data"}, the bytes
    as latin-1 text) and a last one with the worst task's `exit` status (None:
    the host was lost). The tasks are stopped if the connection ends first."""

    type: ClassVar[str] = "step"
    job: str
    host: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    node: int
    tasks: list[int]


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask the server to exit cleanly (`wq stop`; its operator's alone). Running
    jobs keep running and are watched again at its next start."""

    type: ClassVar[str] = "stop"


Request = (Hello | Submit | ListJobs | Stat | Remove | Refresh | NodeState | Users | SetLimits
           | Log | SessionEnd | Info | Clean | Launcher | Attach | Status | Rerun
           | Session | SubmitMany | Stop | Why | Signature | Signal | Hold | Release | Requeue
           | Update | Step)
REQUESTS: dict[str, type[Any]] = {c.type: c for c in typing.get_args(Request)}


def to_frame(request: Request) -> dict[str, Any]:
    """A request as a frame: its fields as they are (they hold JSON values, which
    asdict would copy deeply: a submit_many's thousands of specs)."""
    return {"type": request.type,
            **{f.name: getattr(request, f.name) for f in dataclasses.fields(request)}}


def from_frame(frame: dict[str, Any]) -> Request:
    """Check a decoded frame against its message class; ProtocolError if it does not fit."""
    return typing.cast(Request, tagged(frame, "type", REQUESTS, "request type"))


def tagged(frame: dict[str, Any], tag: str, classes: dict[str, type[Any]], what: str) -> Any:
    """The message a frame holds: the dataclass its `tag` field names, its fields
    checked (extra fields are ignored: a newer peer may send them)."""
    kind = frame.get(tag)
    cls = classes.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown {what} {kind!r}")
    return checked(cls, frame, str(kind))


def checked(cls: type[Any], frame: dict[str, Any], kind: str) -> Any:
    """An instance of the dataclass `cls` from a frame's fields, each checked
    against its type; ProtocolError (naming `kind`) if one does not fit."""
    values: dict[str, Any] = {}
    for name, required, nested, fits in _plan(cls):
        if name not in frame:
            if required:
                raise ProtocolError(f"{kind}: missing field {name!r}")
            continue
        value = frame[name]
        if nested is not None:          # rows in a reply: each checked, and built
            values[name] = _build(value, nested, f"{kind}.{name}")
            continue
        if not fits(value):
            raise ProtocolError(f"{kind}: field {name!r} has the wrong type")
        values[name] = value
    return cls(**values)


#: per field of a message class: its name, whether it must be there, the
#: messages it holds (_nested) or else the check of its value
Plan = list[tuple[str, bool, "tuple[type[Any], bool, bool] | None", Callable[[Any], bool]]]
_PLANS: dict[type[Any], Plan] = {}


def _plan(cls: type[Any]) -> Plan:
    """How to check a message class's fields, worked out once per class (a listing
    of a million rows checks each of them)."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = []
        for f in dataclasses.fields(cls):
            required = f.default is dataclasses.MISSING \
                and f.default_factory is dataclasses.MISSING
            nested = _nested(hints[f.name])
            plan.append((f.name, required, nested, _check_of(hints[f.name])))
        _PLANS[cls] = plan
    return plan


def _nested(hint: Any) -> tuple[type[Any], bool, bool] | None:
    """For a field holding messages (`X`, `X | None` or `list[X]`, X a
    dataclass): X, whether a list, whether None is allowed."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        found = _nested(inner)
        return None if found is None or found[1] else (found[0], False, True)
    if origin is list and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        return args[0], True, False
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint, False, False
    return None


def _build(value: Any, nested: tuple[type[Any], bool, bool], kind: str) -> Any:
    cls, many, optional = nested
    if value is None and optional:
        return None
    if many:
        if not isinstance(value, list):
            raise ProtocolError(f"{kind}: not a list")
        return [_build(v, (cls, False, False), kind) for v in value]
    if not isinstance(value, dict):
        raise ProtocolError(f"{kind}: not an object")
    return checked(cls, value, kind)


def _check_of(hint: Any) -> Callable[[Any], bool]:
    """Whether a value fits the type `hint`, as a function (made once per field)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_check_of(h) for h in typing.get_args(hint)]
        if len(parts) == 2 and type(None) in typing.get_args(hint):
            other = parts[0] if typing.get_args(hint)[1] is type(None) else parts[1]
            return lambda value: value is None or other(value)
        return lambda value: any(fits(value) for fits in parts)
    if hint is type(None):
        return lambda value: value is None
    if origin is list:
        (inner,) = typing.get_args(hint)
        each = _check_of(inner)
        return lambda value: isinstance(value, list) and all(each(v) for v in value)
    if origin is dict:
        return lambda value: isinstance(value, dict)
    if hint is int:
        return lambda value: (isinstance(value, int) and not isinstance(value, bool)
                              and abs(value) <= MAX_INT)
    if hint is float:
        return lambda value: (isinstance(value, (int, float)) and not isinstance(value, bool)
                              and abs(value) <= MAX_INT)
    if hint is Any:
        return lambda value: True
    return lambda value: isinstance(value, hint)
