"""Array task ranges as `wq sub --array` takes them: FIRST-LAST[:STEP][%THROTTLE]."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wq.errors import UsageError
from wq.parsing.units import shown

_RANGE = re.compile(r"([0-9]+)-([0-9]+)(?::([0-9]+))?(?:%([0-9]+))?")
#: the largest task number or step: task ids travel as text and in SQLite
MAX_TASK_ID = 10**9


@dataclass(frozen=True, slots=True)
class TaskRange:
    first: int
    last: int
    step: int = 1
    throttle: int | None = None      # at most this many tasks running at once

    def __len__(self) -> int:
        return len(range(self.first, self.last + 1, self.step))


def parse_range(text: str) -> TaskRange:
    found = _RANGE.fullmatch(text.strip())
    if found is None:
        raise UsageError(f"--array {shown(text)}: give FIRST-LAST, with :STEP and %THROTTLE if "
                         "wanted, e.g. 1-1000, 0-99:2 or 1-500%10")
    first, last, step, throttle = found.groups()
    for number in (first, last, step, throttle):
        if number is not None and (len(number) > 10 or int(number) > MAX_TASK_ID):
            raise UsageError(f"--array {shown(text)}: {number} is too large (at most {MAX_TASK_ID})")
    out = TaskRange(int(first), int(last), int(step or 1),
                    None if throttle is None else int(throttle))
    if out.last < out.first:
        raise UsageError(f"--array {shown(text)}: {out.last} is before {out.first}")
    if out.step < 1:
        raise UsageError(f"--array {shown(text)}: the step must be 1 or more")
    if out.throttle is not None and out.throttle < 1:
        raise UsageError(f"--array {shown(text)}: the throttle (%N) must be 1 or more")
    return out
