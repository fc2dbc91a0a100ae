"""An array's task indices: ranges as `wq sub --array` takes them
(FIRST-LAST[:STEP][%THROTTLE]), Slurm's --array (ranges and lists, `1-9:2`,
`1,4,10-20:5`, with `%N`), and what both are kept as.

Indices are kept as ranges (first, last, step), sorted and disjoint, so a
million tasks stay three numbers; a task's *position* is its place among
them (0 for the lowest), which Slurm's per-task job ids follow.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from wq.errors import ParseError, UsageError
from wq.model import Ranges
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
            raise UsageError(f"--array {shown(text)}: {number} is too large "
                             f"(at most {MAX_TASK_ID})")
    out = TaskRange(int(first), int(last), int(step or 1),
                    None if throttle is None else int(throttle))
    if out.last < out.first:
        raise UsageError(f"--array {shown(text)}: {out.last} is before {out.first}")
    if out.step < 1:
        raise UsageError(f"--array {shown(text)}: the step must be 1 or more")
    if out.throttle is not None and out.throttle < 1:
        raise UsageError(f"--array {shown(text)}: the throttle (%N) must be 1 or more")
    return out

_PIECE = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9})(?::([0-9]{1,9}))?)?")
#: pieces in one list (Slurm takes a few hundred at most)
MAX_PIECES = 1000


def parse_slurm(text: str, *, option: str = "--array", source: str = ""
          ) -> tuple[Ranges, int | None]:
    """`text` as ranges and a throttle (`%N`), or a ParseError naming `option`."""
    body, percent, limit = text.strip().partition("%")
    throttle = None
    if percent:
        if not limit.isdigit() or len(limit) > 9 or int(limit) < 1:
            raise ParseError(f"{option}: %N must be a whole number of at least 1, "
                             f"got {text!r}", source=source)
        throttle = int(limit)
    pieces = body.split(",")
    if len(pieces) > MAX_PIECES:
        raise ParseError(f"{option}: at most {MAX_PIECES} pieces in a list", source=source)
    ranges = []
    for piece in pieces:
        found = _PIECE.fullmatch(piece.strip())
        if found is None:
            raise ParseError(f"{option}: expected FIRST-LAST[:STEP] or a list of them "
                             f"and indices (1,4,10-20:5), got {text!r}", source=source)
        first = int(found[1])
        last = int(found[2]) if found[2] is not None else first
        step = int(found[3]) if found[3] is not None else 1
        if last < first or step < 1:
            raise ParseError(f"{option}: {piece.strip()!r} is an empty range", source=source)
        last = first + (last - first) // step * step        # its last index itself
        ranges.append((first, last, step if last > first else 1))
    return normal(ranges, option=option, source=source), throttle


def normal(ranges: list[tuple[int, int, int]], *, option: str = "--array",
           source: str = "") -> Ranges:
    """Ranges sorted; pieces that overlap are an error (a task is named once)."""
    ordered = sorted(ranges)
    for a, b in itertools.pairwise(ordered):
        if b[0] <= a[1]:
            raise ParseError(f"{option}: {text((a,))} and {text((b,))} overlap",
                             source=source)
    return tuple(ordered)


def runs(indices: Iterable[int]) -> Ranges:
    """Indices as ranges of consecutive ones: 2 3 4 7 → 2-4,7."""
    out: list[tuple[int, int, int]] = []
    for index in sorted(set(indices)):
        if out and index == out[-1][1] + 1:
            out[-1] = (out[-1][0], index, 1)
        else:
            out.append((index, index, 1))
    return tuple(out)


def count(ranges: Ranges) -> int:
    return sum(len(range(f, last + 1, s)) for f, last, s in ranges)


def each(ranges: Ranges) -> list[int]:
    return [i for f, last, s in ranges for i in range(f, last + 1, s)]


def contains(ranges: Ranges, index: int) -> bool:
    return position(ranges, index) is not None


def position(ranges: Ranges, index: int) -> int | None:
    """The place of `index` among the indices (0 for the lowest), or None."""
    before = 0
    for first, last, step in ranges:
        if first <= index <= last and (index - first) % step == 0:
            return before + (index - first) // step
        before += len(range(first, last + 1, step))
    return None


def at(ranges: Ranges, place: int) -> int | None:
    """The index at `place` (position's inverse), or None past the end."""
    sizes = [len(range(f, last + 1, s)) for f, last, s in ranges]
    ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]
    which = bisect.bisect_right(ends, place)
    if place < 0 or which >= len(ranges):
        return None
    first, _, step = ranges[which]
    return first + (place - (ends[which] - sizes[which])) * step


def own_id(number: int, ranges: Ranges, index: int) -> int:
    """The job id Slurm gives task `index` of array `number` (of `ranges`): as a
    real Slurm does, the last task keeps the array's number and the others take
    the following ones in order (the array takes count(ranges) numbers)."""
    place = position(ranges, index)
    return number if place is None or place == count(ranges) - 1 else number + 1 + place


def task_of(number: int, ranges: Ranges, job_id: int) -> int | None:
    """own_id's inverse: the index whose own id is `job_id` (not the array's
    number itself, which names the whole array), or None."""
    return at(ranges, job_id - number - 1) if number < job_id < number + count(ranges) \
        else None


def text(ranges: Ranges, throttle: int | None = None) -> str:
    """As Slurm writes them back: 1-6, 1,4, 1-9:2, with %N."""
    out = ",".join(str(f) if f == last else f"{f}-{last}" if s == 1 else f"{f}-{last}:{s}"
                   for f, last, s in ranges)
    return out + (f"%{throttle}" if throttle is not None else "")


def to_json(ranges: Ranges) -> list[int] | list[list[int]]:
    """[first, last, step] for one range (as specs were written before lists),
    else a list of them."""
    if len(ranges) == 1:
        return list(ranges[0])
    return [list(r) for r in ranges]


def from_json(value: object, *, most: int = 1 << 62) -> Ranges | None:
    """to_json's inverse, checked (numbers from 0 to `most`, ranges not empty,
    sorted and disjoint); None when it is not that."""
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        value = [value]
    if not isinstance(value, list) or not 0 < len(value) <= MAX_PIECES:
        return None
    out = []
    for piece in value:
        if not (isinstance(piece, list) and len(piece) == 3
                and all(type(v) is int and 0 <= v <= most for v in piece)):
            return None
        first, last, step = piece
        if last < first or step < 1:
            return None
        out.append((first, last, step))
    if any(b[0] <= a[1] for a, b in itertools.pairwise(out)):
        return None
    return tuple(out)
