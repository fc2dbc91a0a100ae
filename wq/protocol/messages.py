"""Request messages: one dataclass each, tagged by `type`, checked field by field.

The classes live by family in wq/protocol/requests/ (submit, jobs, control,
cluster, sessions) and are named here (`messages.Submit`): a family's module
is imported the first time one of its requests is named, so a command pays
for creating its own classes only (a dataclass costs ~1 ms to create; `wq sub
-b` and `sbatch` run once per job).

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
import functools
import importlib
import operator
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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


#: each request's family: the module of wq/protocol/requests/ that holds it,
#: imported the first time the request is named (a command loads only its own)
FAMILIES = {
    "Submit": "submit",
    "SubmitMany": "submit",
    "Rerun": "submit",
    "Signature": "submit",
    "ListJobs": "jobs",
    "Status": "jobs",
    "Info": "jobs",
    "Log": "jobs",
    "Why": "jobs",
    "Attach": "jobs",
    "Remove": "control",
    "Signal": "control",
    "Hold": "control",
    "Release": "control",
    "Requeue": "control",
    "Update": "control",
    "Clean": "control",
    "Stat": "cluster",
    "Refresh": "cluster",
    "NodeState": "cluster",
    "Users": "cluster",
    "SetLimits": "cluster",
    "Stop": "cluster",
    "SessionEnd": "sessions",
    "Session": "sessions",
    "Launcher": "sessions",
    "Step": "sessions",
}

if TYPE_CHECKING:
    from wq.protocol.requests.cluster import NodeState as NodeState, Refresh as Refresh
    from wq.protocol.requests.cluster import SetLimits as SetLimits, Stat as Stat
    from wq.protocol.requests.cluster import Stop as Stop, Users as Users
    from wq.protocol.requests.control import Clean as Clean, Hold as Hold, Release as Release
    from wq.protocol.requests.control import Remove as Remove, Requeue as Requeue
    from wq.protocol.requests.control import Signal as Signal, Update as Update
    from wq.protocol.requests.jobs import Attach as Attach, Info as Info, ListJobs as ListJobs
    from wq.protocol.requests.jobs import Log as Log, Status as Status, Why as Why
    from wq.protocol.requests.sessions import Launcher as Launcher, Session as Session
    from wq.protocol.requests.sessions import SessionEnd as SessionEnd, Step as Step
    from wq.protocol.requests.submit import Rerun as Rerun, Signature as Signature
    from wq.protocol.requests.submit import Submit as Submit, SubmitMany as SubmitMany

    Request = (Hello | Submit | ListJobs | Stat | Remove | Refresh | NodeState | Users
               | SetLimits | Log | SessionEnd | Info | Clean | Launcher | Attach | Status
               | Rerun | Session | SubmitMany | Stop | Why | Signature | Signal | Hold
               | Release | Requeue | Update | Step)
else:
    def __getattr__(name: str) -> Any:
        """A request class, from its family's module; REQUESTS (every request by
        its tag) and Request (their union) load them all."""
        if name == "REQUESTS":
            return requests()
        if name == "Request":
            return functools.reduce(operator.or_, requests().values())
        family = FAMILIES.get(name)
        if family is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"wq.protocol.requests.{family}"), name)


@functools.cache
def requests() -> dict[str, type[Any]]:
    """Every request class by its tag (the server's: it reads them all)."""
    classes: list[type[Any]] = [Hello]
    for family in dict.fromkeys(FAMILIES.values()):
        module = importlib.import_module(f"wq.protocol.requests.{family}")
        classes.extend(getattr(module, name) for name, of in FAMILIES.items() if of == family)
    return {cls.type: cls for cls in classes}


def to_frame(request: Request) -> dict[str, Any]:
    """A request as a frame: its fields as they are (they hold JSON values, which
    asdict would copy deeply: a submit_many's thousands of specs)."""
    return {"type": request.type,
            **{f.name: getattr(request, f.name) for f in dataclasses.fields(request)}}


def from_frame(frame: dict[str, Any]) -> Request:
    """Check a decoded frame against its message class; ProtocolError if it does not fit."""
    return typing.cast("Request", tagged(frame, "type", requests(), "request type"))


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
