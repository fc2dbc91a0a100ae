"""squeue's and sacct's output, from wq's job rows: pure, no I/O.

Slurm's names for wq's states, its time format, squeue's `%X` format codes
and `-O`/sacct's field names, each with the width Slurm gives it.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator

from wq.model import PRIORITY_NAMES
from wq.parsing import arrays, hostlist, units
from wq.protocol.replies import JobRow

STATES = {"waiting": "PENDING", "running": "RUNNING", "done": "COMPLETED",
          "failed": "FAILED", "cancelled": "CANCELLED", "lost": "NODE_FAIL",
          "timeout": "TIMEOUT"}
CODES = {"PENDING": "PD", "RUNNING": "R", "COMPLETED": "CD", "FAILED": "F",
         "CANCELLED": "CA", "NODE_FAIL": "NF", "TIMEOUT": "TO"}
BY_NAME = {**{v: k for k, v in STATES.items()}, **{CODES[v]: k for k, v in STATES.items()}}


def state_filter(text: str) -> set[str] | None:
    """squeue -t / sacct -s: Slurm state names or codes (any case, comma
    separated) as wq's states; None for `all`."""
    out: set[str] = set()
    for word in (w.strip().upper() for w in text.split(",") if w.strip()):
        if word == "ALL":
            return None
        if word in ("CG", "COMPLETING", "CF", "CONFIGURING", "S", "SUSPENDED", "PR", "BF",
                    "OOM", "OUT_OF_MEMORY", "DL", "DEADLINE", "PREEMPTED", "RQ", "REQUEUED"):
            continue                     # states wq jobs never are in
        if word not in BY_NAME:
            raise ValueError(f"unknown job state {word!r}")
        out.add(BY_NAME[word])
    return out


def slurm_id(row: JobRow) -> str:
    """12, 12_3 for task 3 of array 12, 12_[4-9%2] for its waiting tasks on one
    line (collapse) (squeue's %i, sacct's JobID)."""
    pending = (row.slurm or {}).get("tasks")
    if pending is not None:
        return f"{row.number}_[{pending}]"
    return str(row.number) if row.task is None else f"{row.number}_{row.task}"


def collapse(rows: Iterable[JobRow]) -> Iterator[JobRow]:
    """squeue's rows as Slurm shows them: an array's waiting tasks (two or more
    in a row) on one line, whose id is the array's and whose tasks are a range
    text (1-6%2)."""
    run: list[JobRow] = []
    for row in itertools.chain(rows, [None]):
        if row is not None and row.state == "waiting" and row.task is not None and (
                not run or run[0].number == row.number):
            run.append(row)
            continue
        if len(run) > 1:
            first = run[0]
            text = arrays.text(arrays.runs(r.task or 0 for r in run),
                               (first.slurm or {}).get("throttle"))
            yield dataclasses.replace(first, id=str(first.number), task=None,
                                      slurm={**(first.slurm or {}), "tasks": text,
                                             "id": first.number})
        else:
            yield from run
        run = []
        if row is not None and row.state == "waiting" and row.task is not None:
            run.append(row)
        elif row is not None:
            yield row


def raw_id(row: JobRow) -> str:
    """The job's own integer id (an array task of sbatch's has one: onnode.
    slurm_number), else slurm_id (squeue's %A, -O JobID; sacct's JobIDRaw)."""
    own = (row.slurm or {}).get("id")
    return str(own) if isinstance(own, int) else slurm_id(row)


def duration(seconds: float | None, *, unlimited: str = "UNLIMITED") -> str:
    """Slurm's [D-]HH:MM:SS (squeue shortens to M:SS under an hour)."""
    if seconds is None:
        return unlimited
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def short_duration(seconds: float | None) -> str:
    if seconds is None:
        return "UNLIMITED"
    total = max(0, int(seconds))
    if total < 3600:
        return f"{total // 60}:{total % 60:02d}"
    return duration(total).lstrip("0") if total < 36000 else duration(total)


def timestamp(value: float | None) -> str:
    return "Unknown" if value is None else time.strftime("%Y-%m-%dT%H:%M:%S",
                                                         time.localtime(value))


def _elapsed(row: JobRow, now: float) -> float:
    if row.started is None:
        return 0.0
    return (row.ended or now) - row.started


def _limit(row: JobRow) -> float | None:
    """The job's time limit in seconds (requirements give it as text: 1h30m)."""
    value = (row.requirements or {}).get("time")
    try:
        return units.duration(value) if value is not None else None
    except ValueError:
        return None


def _nodes(row: JobRow) -> str:
    return hostlist.compress(row.hosts or ())


HELD = "held ("          # how a held job's reason begins (Engine.blocked_reason)


def reason(row: JobRow) -> str:
    """Why a job waits, in Slurm's words; None for any other."""
    if row.state != "waiting":
        return "None"
    if row.reason.startswith(HELD):
        return "JobHeldUser"
    if row.reason.startswith("waiting for after"):
        return "Dependency"
    if " runs at most " in row.reason:
        return "JobArrayTaskLimit"
    if row.unfit:
        return "BadConstraints"
    return "Resources" if "turn" not in row.reason else "Priority"


def _reason_list(row: JobRow) -> str:
    """squeue's NODELIST(REASON): where it runs, else (why it waits)."""
    return _nodes(row) if row.state == "running" else f"({reason(row)})"


def priority(row: JobRow) -> str:
    if row.state == "waiting" and row.reason.startswith(HELD):
        return "0"                                  # (Slurm's held jobs have none)
    value = (row.slurm or {}).get("priority")
    if isinstance(value, int):
        return str(value)
    return str(PRIORITY_NAMES.get(row.pri, PRIORITY_NAMES["med"]))


def _mem(row: JobRow) -> str:
    mem = (row.requirements or {}).get("mem")
    return f"{int(float(mem) * 1024)}M" if isinstance(mem, (int, float, str)) and mem else "0"


def partition(row: JobRow) -> str:
    groups = (row.requirements or {}).get("group")
    if isinstance(groups, list):
        return ",".join(str(g) for g in groups)
    return str(groups) if groups else "wq"


def _cpus(row: JobRow) -> str:
    if row.nc is not None:
        return str(row.nc)
    return str((row.requirements or {}).get("N", 1))


def _exit_code(row: JobRow) -> str:
    code = row.exit if row.exit is not None else 0
    if code > 128 and row.state in ("cancelled", "timeout"):
        return f"0:{code - 128}"
    return f"{code if code >= 0 else 1}:0"


Field = Callable[[JobRow, float], str]

#: sacct's and squeue -O's field names (lower case), with their default widths
FIELDS: dict[str, tuple[Field, int]] = {
    "jobid": (lambda r, n: slurm_id(r), 12),
    "jobidraw": (lambda r, n: raw_id(r), 12),
    "arrayjobid": (lambda r, n: str(r.number), 12),
    "arraytaskid": (lambda r, n: (r.slurm or {}).get("tasks") or (
        "N/A" if r.task is None else str(r.task)), 12),
    "jobname": (lambda r, n: r.name, 10),
    "name": (lambda r, n: r.name, 10),
    "user": (lambda r, n: r.user, 9),
    "username": (lambda r, n: r.user, 9),
    "state": (lambda r, n: STATES.get(r.state, r.state.upper()), 10),
    "statecompact": (lambda r, n: CODES.get(STATES.get(r.state, ""), "?"), 4),
    "exitcode": (lambda r, n: _exit_code(r), 8),
    "elapsed": (lambda r, n: duration(_elapsed(r, n)), 10),
    "elapsedraw": (lambda r, n: str(int(_elapsed(r, n))), 10),
    "timeused": (lambda r, n: short_duration(_elapsed(r, n)), 10),
    "timelimit": (lambda r, n: duration(_limit(r)), 10),
    "submit": (lambda r, n: timestamp(r.submitted), 19),
    "submittime": (lambda r, n: timestamp(r.submitted), 19),
    "start": (lambda r, n: timestamp(r.started), 19),
    "starttime": (lambda r, n: timestamp(r.started), 19),
    "end": (lambda r, n: timestamp(r.ended), 19),
    "endtime": (lambda r, n: timestamp(r.ended), 19),
    "nodelist": (lambda r, n: _nodes(r) or "None assigned", 15),
    "nnodes": (lambda r, n: str(r.nh or 1), 8),
    "numnodes": (lambda r, n: str(r.nh or 1), 8),
    "alloccpus": (lambda r, n: str(r.nc or 0), 10),
    "numcpus": (lambda r, n: _cpus(r), 8),
    "ncpus": (lambda r, n: _cpus(r), 8),
    "reqmem": (lambda r, n: _mem(r), 10),
    "minmemory": (lambda r, n: _mem(r), 10),
    "partition": (lambda r, n: partition(r), 10),
    "reason": (lambda r, n: reason(r), 20),
    "reasonlist": (lambda r, n: _reason_list(r), 20),
    "workdir": (lambda r, n: r.cwd or "", 30),
    "command": (lambda r, n: r.command or "", 30),
    "priority": (lambda r, n: priority(r), 8),
    "account": (lambda r, n: "", 10),
    "cluster": (lambda r, n: "wq", 8),
    "comment": (lambda r, n: "", 10),
}

#: squeue's own meaning of fields it shares with sacct: its time limit is short
#: (10:00), its JobID the job's own integer id, its account unset
SQUEUE_FIELDS: dict[str, tuple[Field, int]] = {
    **FIELDS, "timelimit": (lambda r, n: short_duration(_limit(r)), 10),
    "jobid": (lambda r, n: raw_id(r), 20), "account": (lambda r, n: "(null)", 10),
    "starttime": (lambda r, n: "N/A" if r.started is None else timestamp(r.started), 19),
    "schednodes": (lambda r, n: "(null)", 20),
    "jobarrayid": (lambda r, n: slurm_id(r), 20)}

#: squeue's %X codes, as field names (of SQUEUE_FIELDS)
CODE_FIELDS = {"i": "jobarrayid", "j": "jobname", "u": "user", "t": "statecompact",
               "T": "state", "M": "timeused", "l": "timelimit", "D": "numnodes",
               "C": "numcpus", "R": "reasonlist", "N": "nodelist", "P": "partition",
               "A": "jobidraw", "a": "account", "V": "submittime", "S": "starttime",
               "e": "endtime", "Z": "workdir", "o": "command", "r": "reason",
               "Q": "priority", "p": "priority", "m": "minmemory", "F": "arrayjobid",
               "K": "arraytaskid", "L": "timelimit", "k": "comment", "Y": "schednodes"}
HEADERS = {"jobid": "JOBID", "jobname": "NAME", "user": "USER", "statecompact": "ST",
           "state": "STATE", "timeused": "TIME", "timelimit": "TIME_LIMIT",
           "numnodes": "NODES", "numcpus": "CPUS", "reasonlist": "NODELIST(REASON)",
           "nodelist": "NODELIST", "partition": "PARTITION", "arrayjobid": "ARRAY_JOB_ID",
           "arraytaskid": "ARRAY_TASK_ID", "submittime": "SUBMIT_TIME",
           "starttime": "START_TIME", "endtime": "END_TIME", "workdir": "WORK_DIR",
           "command": "COMMAND", "reason": "REASON", "priority": "PRIORITY",
           "minmemory": "MIN_MEMORY", "comment": "COMMENT", "jobidraw": "JOBID",
           "account": "ACCOUNT", "jobarrayid": "JOBID", "schednodes": "SCHEDNODES"}

SQUEUE_DEFAULT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
SQUEUE_START = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"      # (squeue --start)
_CODE = re.compile(r"%(\.)?([0-9]*)([A-Za-z])")


def squeue_format(fmt: str) -> list[tuple[str, str | None, int | None, bool]]:
    """A -o format: its pieces as (literal text, field, width, right-aligned)."""
    out: list[tuple[str, str | None, int | None, bool]] = []
    at = 0
    for match in _CODE.finditer(fmt):
        field = CODE_FIELDS.get(match[3])
        if field is None:
            raise ValueError(f"unsupported format code %{match[3]}")
        out.append((fmt[at:match.start()], field, int(match[2]) if match[2] else None,
                    bool(match[1])))
        at = match.end()
    out.append((fmt[at:], None, None, False))
    return out


def render(pieces: list[tuple[str, str | None, int | None, bool]], row: JobRow | None,
           now: float) -> str:
    """One line of squeue -o (row None: the header)."""
    line = ""
    for text, field, width, right in pieces:
        line += text
        if field is None:
            continue
        value = HEADERS.get(field, field.upper()) if row is None else \
            SQUEUE_FIELDS[field][0](row, now)
        if width is not None:
            value = value[:width]
            value = value.rjust(width) if right else value.ljust(width)
        line += value
    return line


def field_list(text: str, table: dict[str, tuple[Field, int]] = FIELDS
               ) -> list[tuple[str, int | None]]:
    """sacct -o / squeue -O: field names (of `table`) with an optional width
    (`JobID%20`, `JobName:30`), comma separated."""
    out: list[tuple[str, int | None]] = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        match = re.fullmatch(r"([A-Za-z]+)(?:[%:]\.?([0-9]{1,4}))?", item)
        if match is None or match[1].lower() not in table:
            raise ValueError(f"unsupported field {item!r}")
        out.append((match[1].lower(), int(match[2]) if match[2] else None))
    return out
