"""Renderers: reply data in, text out. Pure; `--json` uses the same data.

`wq ls` keeps the original wq's fixed-column shape, so awk scripts work:
every row has the same number of columns, names carry no whitespace.

Text one user wrote (names, commands, reasons) may be shown to another: every
renderer's text goes through `printable`, so no control character (ESC,
which would drive the reader's terminal, and its kin) reaches a terminal.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from wq.protocol.replies import (EventRow, HostRow, InstanceRow, JobInfo, JobRow, LicenseRow,
                                 UserRow, WhyReply)

STATE_LETTERS = {"waiting": "W", "running": "R", "done": "D", "failed": "F",
                 "cancelled": "C", "lost": "L", "timeout": "T"}


#: characters that drive a terminal (C0 but newline, DEL, C1) or reorder what it
#: shows (bidirectional overrides and isolates, line and paragraph separators)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with its control characters shown as escapes (\\x1b, \\u202e),
    newlines kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                        else f"\\u{ord(m[0]):04x}", text)


def duration(seconds: float | None) -> str:
    """The original wq's durations: 05s, 01m05s, 01h01m40s, 1d01h00m."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours:02d}h{minutes:02d}m{s:02d}s"
    if minutes:
        return f"{minutes:02d}m{s:02d}s"
    return f"{s:02d}s"


#: rows laid out at a time: a long listing is printed as it arrives
BATCH = 1000


def _columns(rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    return [line for batch in _aligned(rows, right) for line in batch]


def _column_chunks(rows: Iterable[Sequence[str]], right: frozenset[int] = frozenset()
                   ) -> Iterator[str]:
    """`_aligned`, each batch as one chunk of lines."""
    return ("\n".join(batch) for batch in _aligned(rows, right))


def _aligned(rows: Iterable[Sequence[str]], right: frozenset[int] = frozenset()
             ) -> Iterator[list[str]]:
    """Rows as aligned lines, BATCH at a time: each column as wide as its widest
    cell so far (a listing of at most BATCH rows is aligned throughout; a longer
    one widens where a later batch needs it)."""
    widths: list[int] = []
    rows = iter(rows)
    while batch := [[printable(c) for c in r] for r in itertools.islice(rows, BATCH)]:
        widths = [max(len(r[i]) for r in batch) for i in range(len(batch[0]))] \
            if not widths else [max(w, *(len(r[i]) for r in batch))
                                for i, w in enumerate(widths)]
        yield [" " + " ".join(c.rjust(w) if i in right else c.ljust(w)
                              for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
               for r in batch]


def state_letter(row: JobRow) -> str:
    """W R D F C L; U for a waiting job that cannot fit; I for a running interactive one."""
    if row.unfit:
        return "U"
    if row.state == "running" and row.interactive:
        return "I"
    return STATE_LETTERS.get(row.state, "?")


def ls(rows: Iterable[JobRow], now: float, *, finished: bool = False) -> str:
    """The job table; an array is one row (Id 12[1000]) whose Cmd ends with how
    many of its tasks are in each state, in the same field (every row has as
    many fields, for awk): sleep(W:900,R:16,D:84)."""
    return "\n".join(ls_chunks(rows, now, finished=finished))


def ls_chunks(rows: Iterable[JobRow], now: float, *, finished: bool = False
              ) -> Iterator[str]:
    """`ls` as it is laid out, a chunk of lines at a time (_column_chunks)."""
    header = ["Id", "User", "St", "Pri", "Nc", "Nh", "Host0", "Tq", "Trun", "Cmd"]
    if finished:
        header.insert(-1, "Exit")
    jobs = running = waiting = 0

    def table() -> Iterator[list[str]]:
        nonlocal jobs
        for r in rows:
            if not jobs:
                yield header
            jobs += 1
            yield line_of(r)

    def line_of(r: JobRow) -> list[str]:
        nonlocal running, waiting
        end = r.ended if r.ended is not None else now
        tq = end - r.submitted if r.state != "running" or r.started is None \
            else now - r.submitted
        trun = None if r.started is None else end - r.started
        ident, name = r.id, r.name
        if r.counts is not None:
            ident = f"{ident}[{r.tasks}]"
            name += "(" + ",".join(f"{STATE_LETTERS.get(s, s)}:{n}" for s, n in
                                   sorted(r.counts.items(), key=_state_order)) + ")"
            running += r.counts.get("running", 0)
            waiting += r.counts.get("waiting", 0)
        else:
            running += r.state == "running"
            waiting += r.state == "waiting"
        line = [ident, r.user, state_letter(r), r.pri,
                "-" if r.nc is None else str(r.nc),
                "-" if r.nh is None else str(r.nh), r.host0 or "-",
                duration(tq), duration(trun), name]
        if finished:
            line.insert(-1, "-" if r.exit is None else str(r.exit))
        return line

    yield from _column_chunks(table())
    yield f" Jobs: {jobs} Running: {running} Waiting: {waiting}"


def _stamp(value: float | None) -> str:
    return "-" if value is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(value))


#: wq ls -o's columns: a row's value as text (now: the listing's time)
COLUMNS: dict[str, Callable[[JobRow, float], str]] = {
    "id": lambda r, now: r.id,
    "number": lambda r, now: str(r.number),
    "task": lambda r, now: "-" if r.task is None else str(r.task),
    "user": lambda r, now: r.user,
    "state": lambda r, now: r.state,
    "st": lambda r, now: state_letter(r),
    "pri": lambda r, now: r.pri,
    "nc": lambda r, now: "-" if r.nc is None else str(r.nc),
    "nh": lambda r, now: "-" if r.nh is None else str(r.nh),
    "host0": lambda r, now: r.host0 or "-",
    "hosts": lambda r, now: ",".join(r.hosts or ()) or "-",
    "tq": lambda r, now: duration((r.started or r.ended or now) - r.submitted),
    "trun": lambda r, now: duration(None if r.started is None
                                    else (r.ended or now) - r.started),
    "exit": lambda r, now: "-" if r.exit is None else str(r.exit),
    "name": lambda r, now: r.name,
    "reason": lambda r, now: r.reason or "-",
    "instance": lambda r, now: str(r.instance),
    "submitted": lambda r, now: _stamp(r.submitted),
    "started": lambda r, now: _stamp(r.started),
    "ended": lambda r, now: _stamp(r.ended),
    "cmd": lambda r, now: " ".join((r.command or "-").split()),
    "cwd": lambda r, now: r.cwd or "-",
}


def ls_columns(rows: Iterable[JobRow], now: float, columns: Sequence[str],
               header: bool = True) -> str:
    """wq ls -o: the columns asked for, in that order."""
    return "\n".join(ls_columns_chunks(rows, now, columns, header))


def ls_columns_chunks(rows: Iterable[JobRow], now: float, columns: Sequence[str],
                      header: bool = True) -> Iterator[str]:
    """`ls_columns` as it is laid out, a chunk of lines at a time."""
    head = [[c.upper() for c in columns]] if header else []
    yield from _column_chunks(itertools.chain(
        head, ([COLUMNS[c](r, now) for c in columns] for r in rows)))


def _state_order(item: tuple[str, int]) -> int:
    order = list(STATE_LETTERS)
    return order.index(item[0]) if item[0] in order else len(order)


def ls_full(rows: Iterable[JobRow], now: float) -> str:
    """One block per job, every detail (the original's -f, without its crash)."""
    return "\n".join(ls_full_chunks(rows, now))


def ls_full_chunks(rows: Iterable[JobRow], now: float) -> Iterator[str]:
    """`ls_full` a block at a time."""
    jobs = running = waiting = 0
    for r in rows:
        jobs += 1
        running += r.state == "running"
        waiting += r.state == "waiting"
        lines = [f"job {r.id}:",
                 f"  user: {r.user}",
                 f"  state: {r.state}" + (" (can no longer fit)" if r.unfit else "")
                 + (" (interactive)" if r.interactive else ""),
                 f"  priority: {r.pri}",
                 f"  name: {r.name}"]
        if r.hosts:
            lines.append(f"  hosts: {','.join(r.hosts)}")
            lines.append(f"  cores: {r.nc}")
        lines.append(f"  queued: {duration((r.ended or now) - r.submitted)}")
        if r.started is not None:
            lines.append(f"  running: {duration((r.ended or now) - r.started)}")
        if r.exit is not None:
            lines.append(f"  exit code: {r.exit}")
        if r.reason:
            lines.append(f"  reason: {r.reason}")
        if r.requirements:
            req = "; ".join(f"{k}: {_value(v)}" for k, v in r.requirements.items())
            lines.append(f"  requirements: {req}")
        lines.append(f"  cwd: {r.cwd or ''}")
        command = r.command or ""
        if "\n" in command.rstrip("\n"):
            lines.append("  command: |")
            lines.extend(f"    {c}" for c in command.rstrip("\n").splitlines())
        else:
            lines.append(f"  command: {command.strip()}")
        yield printable("\n".join(lines))
    yield f" Jobs: {jobs} Running: {running} Waiting: {waiting}"


def _value(v: Any) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, list) else str(v)


def info(job: JobInfo, instances: Sequence[InstanceRow], events: Sequence[EventRow],
         now: float) -> str:
    """`wq info`: one job in full, then its instances and events."""
    def when(t: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"

    lines = [f"Job {job.id}  {job.state}  ({job.user}, priority {job.pri})"]
    if job.exit is not None:
        lines.append(f"  exit code: {job.exit}")
    if job.reason:
        lines.append(f"  reason: {job.reason}")
    lines.append(f"  submitted: {when(job.submitted)}")
    if job.started:
        lines.append(f"  started: {when(job.started)}  on {','.join(job.hosts) or '-'}")
    if job.ended:
        lines.append(f"  ended: {when(job.ended)}  "
                     f"(ran {duration(job.ended - (job.started or job.ended))})")
    if job.requirements:
        req = "; ".join(f"{k}: {_value(v)}" for k, v in job.requirements.items())
        lines.append(f"  requirements: {req}")
    lines.append(f"  cwd: {job.cwd}")
    command = job.command.rstrip("\n")
    if "\n" in command:
        lines.append("  command: |")
        lines.extend(f"    {c}" for c in command.splitlines())
    else:
        lines.append(f"  command: {command.strip()}")
    if job.crashes or job.failures:
        lines.append(f"  requeued after a lost host: {job.crashes}; "
                     f"retried after failing: {job.failures}")
    if instances:
        table = [["Inst", "Host", "Started", "Ended", "Outcome", "Exit", "Detail"]]
        for i in instances:
            outcome = i.outcome + ("" if i.settled else " (unsettled)")
            table.append([str(i.number), ",".join(i.hosts), when(i.started),
                          when(i.ended), outcome, "-" if i.exit is None else str(i.exit),
                          i.detail or "-"])
        lines.append("")
        lines.extend(_columns(table))
    lines.append("")
    lines.append("Events:")
    for e in events:
        detail = f"  {e.detail}" if e.detail else ""
        lines.append(f"  {when(e.time)}  {e.kind}{detail}")
    return printable("\n".join(lines))


def stat(hosts: Sequence[HostRow], licenses: Sequence[LicenseRow] = ()) -> str:
    table = [["Usage", "Host", "Mem", "Groups"]]
    notes = {}
    used = avail = active = offline = down = 0
    for h in hosts:
        cores, busy = h.cores, min(h.used, h.cores)
        if h.state == "offline":
            bar = "X" * cores
            offline += cores
            if h.reason:
                notes[h.name] = h.reason
        elif h.state in ("down", "unknown"):
            bar = "-" * cores
            down += cores
            notes[h.name] = f"{h.state}: {h.reason}" if h.reason else h.state
        else:
            bar = "*" * busy + "." * (cores - busy)
            if h.over:
                notes[h.name] = f"no new jobs: {h.over}"
            used += busy
            avail += cores - busy
            active += cores
        mem = f"{h.mem:g}" if h.mem else "-"
        groups = ",".join(h.labels) or "-"
        table.append([f"[{bar}]", h.name, mem, groups])
    lines = _columns(table, right=frozenset({2}))
    for i, h in enumerate(hosts, start=1):
        if h.name in notes:
            lines[i] += f"  ({notes[h.name]})"
    load = 100.0 * used / active if active else 0.0
    extra = []
    if offline:
        extra.append(f"{offline} are offline")
    if down:
        extra.append(f"{down} are down")
    tail = ", ".join([f"{load:.1f}% load", *extra])
    lines.append("")
    lines.append(f" Used/avail/active cores: {used}/{avail}/{active} ({tail})")
    if licenses:
        lines.append(" Licences used/total: " + ", ".join(
            f"{r.name} {r.used}/{r.total}" for r in licenses))
    return printable("\n".join(lines))


def why(reply: WhyReply) -> str:
    """`wq why`: the job's reason, then a row per host."""
    lines = [f"job {reply.job} ({reply.state}): {reply.summary}"]
    if reply.hosts:
        table = [["Host", "Rule", "Why", "To change"]]
        table += [[h.host, h.rule or "-", h.detail, h.change or "-"] for h in reply.hosts]
        lines += [""] + _columns(table)
    return printable("\n".join(lines))


def users(rows: Sequence[UserRow]) -> str:
    from tabulate import tabulate   # only here: it is slow to import

    table = []
    for r in rows:
        limits = ";".join(f"{name}:{value}" for name, value in
                          (("Njobs", r.limits.get("jobs")), ("Ncores", r.limits.get("cores")))
                          if value is not None)
        table.append([r.user, r.running, r.cores, r.waiting, "{" + limits + "}"])
    return printable(str(tabulate(table, headers=["User", "Njobs", "Ncores", "Nwait",
                                                   "Limits"], tablefmt="plain",
                                  numalign="left")))


def json_list(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON list of `items`, one on a line, in pieces of BATCH items, so a
    listing of any length prints without being held whole (and with the C
    encoder: indenting would take json's Python one, 30 us an item)."""
    items = iter(items)
    first = True
    while batch := list(itertools.islice(items, BATCH)):
        body = ",\n ".join(json.dumps(item, separators=(", ", ": ")) for item in batch)
        yield ("[\n " if first else ",\n ") + body
        first = False
    yield "[]" if first else "\n]"
