"""Dependency strings, as Slurm's `--dependency` and pueue's `--after` spell them.

    afterok:12            job (or whole array) 12 ended done
    afterok:12:13         ... and 13
    afterany:12.3         task 3 of array 12 ended, however (12_3 as Slurm writes it)
    afternotok:12         12 ended not done
    aftercorr:12          task i of this array after task i of array 12, done
    afterok:12,afterany:14    all of them (`,`)
    12 13  /  12,13       afterok (pueue's `--after`, a job file's `after:`)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from wq.errors import ParseError
from wq.model import After, DepKind

_TARGET = re.compile(r"^([1-9][0-9]{0,17})(?:[._]([0-9]{1,9}))?$")
_KINDS = {k.value: k for k in DepKind}


def parse(text: str, *, source: str = "--dependency") -> tuple[After, ...]:
    """Every dependency a string names, in order, each once."""
    if "?" in text:
        raise ParseError("'?' (any one of the dependencies) is not supported; use ',' "
                         "(all of them)", source=source)
    out: list[After] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise ParseError(f"an empty dependency in {text!r}", source=source)
        kind, _, rest = part.partition(":")
        if not rest and _TARGET.match(kind):
            out.append(_after(DepKind.AFTEROK, kind, source))
            continue
        if kind == "after":
            raise ParseError("'after:' (start once another job has started) is not "
                             "supported; use afterany, afterok or afternotok",
                             source=source)
        if kind == "singleton":
            raise ParseError("'singleton' is not supported", source=source)
        if kind not in _KINDS:
            raise ParseError(f"unknown dependency type {kind!r} in {part!r} (expected "
                             f"{', '.join(_KINDS)}, or job ids)", source=source)
        if not rest:
            raise ParseError(f"{part!r} names no job (e.g. {kind}:12)", source=source)
        out += (_after(_KINDS[kind], target, source) for target in rest.split(":"))
    return tuple(dict.fromkeys(out))


def parse_ids(texts: Iterable[str], *, source: str = "--after") -> tuple[After, ...]:
    """pueue's `--after 12,13` (and job files' `after: [12, 13]`): afterok on each,
    or a whole dependency string."""
    out: list[After] = []
    for text in texts:
        out += parse(text.replace(" ", ","), source=source) if text.strip() else ()
    return tuple(dict.fromkeys(out))


def _after(kind: DepKind, target: str, source: str) -> After:
    if "+" in target:
        raise ParseError(f"a delay after a dependency ({target!r}) is not supported",
                         source=source)
    match = _TARGET.match(target.strip())
    if match is None:
        raise ParseError(f"{target!r} is not a job id (12, or 12.3 for a task)",
                         source=source)
    task = match.group(2)
    if kind is DepKind.AFTERCORR and task is not None:
        raise ParseError(f"aftercorr names an array, not one task ({target!r})",
                         source=source)
    return After(kind, int(match.group(1)), None if task is None else int(task))


def to_strings(after: tuple[After, ...]) -> list[str]:
    return [str(a) for a in after]
