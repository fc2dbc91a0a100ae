"""Slurm's host lists: `node[1-3,5],gpu01` stands for node1 node2 node3 node5 gpu01.

`expand` reads one (as `scontrol show hostnames` prints it), `compress` writes
one (as `SLURM_JOB_NODELIST`, squeue's `%N` and sinfo show them): sorted by
prefix and number, each name once, runs of numbers as ranges; numbers keep
their zero padding, and only names of the same padding share brackets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PART = re.compile(r"([^,\[]+)(?:\[([^\]]*)\])?")
_NUMBERED = re.compile(r"(.*?)(\d+)")


def expand(text: str) -> list[str]:
    """n[1-3,5],m → [n1, n2, n3, n5, m] (a malformed range: ValueError)."""
    out: list[str] = []
    for match in _PART.finditer(text):
        prefix, ranges = match.group(1), match.group(2)
        if ranges is None:
            out.append(prefix)
            continue
        for part in ranges.split(","):
            low, _, high = part.partition("-")
            if not low.isdigit() or high and not high.isdigit():
                raise ValueError(f"{prefix}[{ranges}]: expected ranges of numbers like 1-3,5")
            width = len(low)
            out += [f"{prefix}{number:0{width}d}"
                    for number in range(int(low), int(high or low) + 1)]
    return out


def compress(names: Iterable[str]) -> str:
    """[node2, node1, node3, gpu01] → gpu01,node[1-3]."""
    groups: dict[tuple[str, int], set[int]] = {}
    plain: set[str] = set()
    for name in names:
        numbered = _NUMBERED.fullmatch(name)
        if numbered is None:
            plain.add(name)
            continue
        digits = numbered.group(2)
        width = len(digits) if len(digits) > 1 and digits.startswith("0") else 0
        groups.setdefault((numbered.group(1), width), set()).add(int(digits))
    parts: list[tuple[str, int, str]] = [(name, -1, name) for name in plain]
    for (prefix, width), numbers in groups.items():
        ranges = _ranges(sorted(numbers), width)
        single = len(numbers) == 1
        parts.append((prefix, min(numbers), f"{prefix}{ranges}" if single
                      else f"{prefix}[{ranges}]"))
    return ",".join(text for _, _, text in sorted(parts))


def _ranges(numbers: list[int], width: int) -> str:
    out: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        low, high = f"{start:0{width}d}", f"{previous:0{width}d}"
        out.append(low if start == previous else f"{low}-{high}")
        if number is not None:
            start = previous = number
    return ",".join(out)
