"""Requirements: the original wq's vocabulary, from job files and `-r` strings.

`-r "mode: bycore1; N: 4"` is split on semicolons, each part on its first
colon, so values may themselves contain colons (`job_name: a:b`). The space
after the colon is optional (`N:4`), as in the original.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from wq.errors import ParseError
from wq.model import PRIORITY_NAMES, Mode, Requirements
from wq.parsing import units
from wq.parsing.fields import Field, FieldTable

_MODES = {m.value: m for m in Mode}
_MODES.update({f"by_{m.value[2:]}": m for m in Mode})


MAX_PRIORITY = 1_000_000
MAX_RETRIES = 10_000


def _mode(value: Any) -> Mode:
    key = str(value).strip().lower()
    if key not in _MODES:
        modes = ", ".join(m.value for m in Mode)
        raise ValueError(f"unknown mode {units.shown(value)} (one of: {modes})")
    return _MODES[key]


def _priority(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES[value.strip().lower()]
    try:
        return units.integer(value, minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY,
                             what="a priority")
    except ValueError:
        raise ValueError(f"unknown priority {units.shown(value)} (low, med, high, block, "
                         f"or a number from -{MAX_PRIORITY} to {MAX_PRIORITY})") from None


def _shell(value: Any) -> str:
    """What runs the command on the node: sh (the default: /bin/sh, no start-up
    files), login (the user's login shell, `$SHELL -l`, with its start-up files)
    or an interpreter's absolute path (`/bin/bash`)."""
    out = units.text(value).strip()
    if out in ("sh", "login") or (out.startswith("/") and "\0" not in out
                                  and not any(c.isspace() for c in out)):
        return out
    raise ValueError(f"unknown shell {units.shown(value)} (sh, login, or an absolute path "
                     "such as /bin/bash)")


#: what --signal and `wq signal` may send (by name, or by number as Slurm takes
#: it too): those the job's runner outlives (node/wrapper.sh); KILL is `wq rm`'s
SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "ALRM", "CONT", "STOP", "TSTP",
           "URG", "WINCH")


#: whom a signal reaches (`wq signal`, scancel, --signal), and the letter the
#: node's scripts take for it: the job's whole process group; its batch shell
#: alone (Slurm's B:, scancel -b); the tasks srun started in it, which is what
#: Slurm's scancel -s and --signal without B: reach
SCOPES = {"job": "-", "batch": "B", "steps": "S"}


def signal_name(value: Any) -> str:
    """A signal as its name (USR1): SIGUSR1, usr1 and 10 say it too."""
    import signal

    text = units.text(value).strip().upper().removeprefix("SIG")
    if text.isdigit():
        try:
            text = signal.Signals(int(text)).name.removeprefix("SIG")
        except ValueError:
            text = ""
    if text not in SIGNALS:
        raise ValueError(f"unknown signal {units.shown(value)} (one of {', '.join(SIGNALS)}, "
                         "or its number)")
    return text


def warning(value: Any) -> str:
    """A signal ahead of the time limit, [B:|S:]SIG[@SECONDS]: SIG goes to the
    job (with B, its batch shell only; with S, srun's tasks only) SECONDS (60 by
    default, at most 65535) before its time limit. Kept as [B:|S:]SIG@SECONDS."""
    text = units.text(value).strip()
    batch, sep, rest = text.partition(":")
    if not sep:
        batch, rest = "", text
    elif batch.upper() not in ("B", "S"):
        raise ValueError(f"signal {units.shown(value)}: expected [B:|S:]SIG[@SECONDS]")
    sig, at, seconds = rest.partition("@")
    if at and not (seconds.isdigit() and int(seconds) <= 65535):
        raise ValueError(f"signal {units.shown(value)}: @SECONDS is a whole number of "
                         "seconds up to 65535")
    name = signal_name(sig)
    return (f"{batch.upper()}:" if batch else "") + f"{name}@{int(seconds) if at else 60}"


def _hostfile(value: Any) -> str:
    out = units.text(value).strip()
    return "auto" if out in ("auto", "%hostfile%") else out


FIELDS = FieldTable([
    Field("mode", _mode),
    Field("N", units.positive_int, ("n",)),
    Field("group", units.names, ("groups",)),
    Field("notgroup", units.names, ("not_group", "notgroups", "not_groups")),
    Field("host", units.names, ("hosts",)),
    Field("nothost", units.names, ("not_host", "nothosts", "not_hosts")),
    Field("min_cores", units.non_negative_int, ("mincores",)),
    Field("min_mem", units.gigabytes, ("minmem",)),
    Field("mem", units.gigabytes, ("memory",)),
    Field("gpus", units.non_negative_int, ("gpu",)),
    Field("priority", _priority, ("pri",)),
    Field("job_name", units.text, ("jobname", "name")),
    Field("hostfile", _hostfile, ("host_file",)),
    Field("threads", units.positive_int, ("omp_num_threads",)),
    Field("X", units.flag, ("x11",)),
    Field("retries", units.bounded(units.non_negative_int, MAX_RETRIES), ("retry",)),
    Field("time", units.duration, ("time_limit", "walltime", "timelimit")),
    Field("crash_limit", units.bounded(units.non_negative_int, MAX_RETRIES),
          ("crashlimit", "max_crashes")),
    Field("shell", _shell),
    Field("licenses", units.counts, ("license", "licences", "licence")),
    Field("nodes", units.positive_int, ("hosts_count",)),
    Field("per_host", units.positive_int, ("perhost", "cores_per_host")),
    Field("whole", units.flag, ("exclusive",)),
    Field("signal", warning),
])

_ATTR = {"mode": "mode", "N": "n", "group": "groups", "notgroup": "not_groups",
         "host": "hosts", "nothost": "not_hosts", "min_cores": "min_cores",
         "min_mem": "min_mem", "mem": "mem", "gpus": "gpus", "priority": "priority",
         "job_name": "job_name", "hostfile": "hostfile", "threads": "threads", "X": "x11",
         "retries": "retries", "time": "time_limit", "crash_limit": "crash_limit",
         "shell": "shell", "licenses": "licenses", "nodes": "nodes", "per_host": "per_host",
         "whole": "whole", "signal": "signal"}

Raw = tuple[str, Any, int | None]   # key, value, line


def split_string(text: str) -> list[tuple[str, Any]]:
    """`"mode: bynode; N: 5"` → [("mode", "bynode"), ("N", "5")]."""
    out: list[tuple[str, Any]] = []
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        if ":" not in part:
            raise ParseError(f"expected 'key: value', got {part.strip()!r}", source="-r")
        key, _, value = part.partition(":")
        out.append((key.strip(), _scalar(value.strip())))
    return out


def _scalar(value: str) -> Any:
    if value[:1] in ("[", "'", '"'):
        import yaml   # only for quoted and list values; keeps `wq` light to start

        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            raise ParseError(f"cannot read value {value!r}", source="-r") from None
    return value


def build(raw: Iterable[Raw], *, source: str,
          base: Requirements | None = None) -> Requirements:
    """Validate raw key/value pairs into Requirements, layered over `base`."""
    changes: dict[str, Any] = {}
    lines: dict[str, int | None] = {}
    for key, value, line in raw:
        name, converted = FIELDS.convert(key, value, source=source, line=line)
        changes[_ATTR[name]] = converted
        lines[name] = line
    req = dataclasses.replace(base or Requirements(), **changes)
    return check(req, source=source, lines=lines)


def check(req: Requirements, *, source: str = "",
          lines: dict[str, int | None] | None = None) -> Requirements:
    """Rules across keys; a ParseError names the key at fault."""
    lines = lines or {}
    if req.mode is Mode.BYHOST:
        if len(req.hosts) != 1:
            raise ParseError("mode byhost needs exactly one 'host'", source=source,
                             line=lines.get("host", lines.get("mode")), key="host")
    if req.mode is Mode.BYGROUP and not req.groups:
        raise ParseError("mode bygroup needs 'group'", source=source,
                         line=lines.get("mode"), key="group")
    if req.mode is Mode.BYGROUP and "N" in lines:
        raise ParseError("mode bygroup takes every host of its groups; drop 'N'",
                         source=source, line=lines.get("N"), key="N")
    shaped = [name for name, given in (("nodes", req.nodes), ("per_host", req.per_host),
                                        ("whole", req.whole)) if given]
    if shaped and req.mode is not Mode.BYCORE:
        raise ParseError(f"{shaped[0]} is mode bycore's (cores that may span hosts)",
                         source=source, line=lines.get(shaped[0]), key=shaped[0])
    tasks = req.n // req.task_cores
    if req.nodes > tasks:
        raise ParseError(f"nodes: {req.nodes} hosts need a task each; N: {req.n} makes "
                         f"{tasks}", source=source, line=lines.get("nodes"), key="nodes")
    overlap = set(req.groups) & set(req.not_groups)
    if overlap:
        raise ParseError(f"group {sorted(overlap)[0]!r} is both wanted and excluded",
                         source=source, line=lines.get("notgroup"), key="notgroup")
    return req


def to_dict(req: Requirements) -> dict[str, Any]:
    """The canonical key/value form, as sent over the protocol."""
    out: dict[str, Any] = {}
    default = Requirements()
    for name, attr in _ATTR.items():
        value = getattr(req, attr)
        if value == getattr(default, attr) and name != "mode":
            continue
        if isinstance(value, Mode):
            value = value.value
        elif name == "time":
            value = units.format_duration(value)
        elif name == "licenses":
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def from_dict(data: Any, *, source: str = "request") -> Requirements:
    """Inverse of to_dict; validates, since the dict may come from a client."""
    if not isinstance(data, dict):
        raise ParseError("requirements must be a mapping", source=source)
    return build(((str(k), v, None) for k, v in data.items()), source=source)
