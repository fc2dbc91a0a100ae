"""Job selectors, as `wq ls`, `wq rm`, `wq log` and `wq info` take them.

    12        job 12, or every task of array 12
    12.3      task 3 of array 12
    12.1-50   tasks 1 to 50 of array 12
    3-9       jobs (and arrays) 3 to 9
    last      your most recent job or array
    all       all of them
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from wq.errors import UsageError
from wq.parsing.units import shown

_FORM = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:\.([0-9]+)(?:-([0-9]+))?)?")
#: job and task numbers above this are refused here, before they reach SQLite
MAX_NUMBER = 2**62


@dataclass(frozen=True, slots=True)
class Selector:
    """Numbers first..last; with tasks, only those tasks (of one array)."""

    first: int = 0
    last: int = 0
    tasks: tuple[int, int] | None = None
    special: str = ""                 # "last" or "all"; the numbers then mean nothing

    def matches(self, number: int, task: int | None) -> bool:
        if self.special == "all":
            return True
        if not self.first <= number <= self.last:
            return False
        return self.tasks is None or (task is not None
                                      and self.tasks[0] <= task <= self.tasks[1])

    def __str__(self) -> str:
        if self.special:
            return self.special
        text = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        if self.tasks is not None:
            lo, hi = self.tasks
            text += f".{lo}" if lo == hi else f".{lo}-{hi}"
        return text


def parse(text: str) -> Selector:
    word = text.strip()
    if word in ("last", "all"):
        return Selector(special=word)
    found = _FORM.fullmatch(word)
    if found is None:
        raise UsageError(f"not a job selector: {shown(text)} (give 12, 12.3, 12.1-50, 3-9, "
                         "last or all)")
    first, last, task_lo, task_hi = found.groups()
    for number in (first, last, task_lo, task_hi):
        if number is not None and (len(number) > 19 or int(number) > MAX_NUMBER):
            raise UsageError(f"not a job selector: {shown(text)} ({shown(number)} is too large)")
    if last is not None and task_lo is not None:
        raise UsageError(f"not a job selector: {shown(text)} (tasks belong to one array: "
                         "12.1-50, not 3-9.1)")
    lo, hi = int(first), int(last if last is not None else first)
    if hi < lo:
        raise UsageError(f"not a job selector: {shown(text)} ({hi} is before {lo})")
    tasks = None
    if task_lo is not None:
        t_lo, t_hi = int(task_lo), int(task_hi if task_hi is not None else task_lo)
        if t_hi < t_lo:
            raise UsageError(f"not a job selector: {shown(text)} (task {t_hi} is before {t_lo})")
        tasks = (t_lo, t_hi)
    return Selector(lo, hi, tasks)



def parse_all(texts: list[str]) -> list[Selector]:
    return [parse(t) for t in texts]


Tasks = tuple[tuple[int, int], ...] | None      # task ranges, in order, disjoint; None: all


@dataclass(frozen=True, slots=True)
class Segment:
    """Numbers first..last, and which of their tasks: a piece of a selection."""
    first: int
    last: int
    tasks: Tasks


def disjoint(selected: list[Selector]) -> list[Segment]:
    """The jobs `selected` names (numbers and tasks, `special` resolved), as
    segments in order that do not overlap: whatever the selectors, each job is
    read once (a thousand copies of 1-999999999999 cost what one does). Task
    ranges belong to one number each (parse)."""
    whole = _union([(s.first, s.last) for s in selected if s.tasks is None])
    points: dict[int, list[tuple[int, int]]] = {}
    for s in selected:
        if s.tasks is not None and not _within(whole, s.first):
            points.setdefault(s.first, []).append(s.tasks)
    out = [Segment(low, high, None) for low, high in whole]
    out += (Segment(n, n, _union(tasks)) for n, tasks in points.items())
    return sorted(out, key=lambda seg: seg.first)


def _within(ranges: tuple[tuple[int, int], ...], number: int) -> bool:
    at = bisect.bisect_right(ranges, (number, 1 << 63)) - 1
    return at >= 0 and ranges[at][0] <= number <= ranges[at][1]


def _union(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)
