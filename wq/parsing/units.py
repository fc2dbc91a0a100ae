"""Converters for values: counts, sizes, flags, name lists.

Each takes what YAML (or a -r string) gave and returns a model value, or
raises ValueError with a sentence saying what was expected.
"""

from __future__ import annotations

import math
import re
from typing import Any

_SIZE = re.compile(r"^\s*([0-9]{0,12}\.?[0-9]{1,12})\s*([kmgtKMGT]i?[bB]?)?\s*$")
_SIZE_FACTOR = {"k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0}
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,255}$")
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")

#: the bounds numbers are checked against: far above any real machine or job,
#: far below what SQLite, the scheduler's arithmetic or a float can hold
MAX_COUNT = 1_000_000            # cores, GPUs, N, threads, tasks
MAX_GB = 1024.0 ** 2             # a pebibyte, in GB
MAX_SECONDS = 100 * 365 * 86400.0


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def positive_int(value: Any, maximum: int = MAX_COUNT) -> int:
    return integer(value, minimum=1, maximum=maximum, what="a positive integer")


def non_negative_int(value: Any, maximum: int = MAX_COUNT) -> int:
    return integer(value, minimum=0, maximum=maximum, what="a non-negative integer")


def bounded(convert: Any, maximum: int) -> Any:
    """`convert` (positive_int or non_negative_int) with another upper bound."""
    def check(value: Any) -> int:
        result: int = convert(value, maximum)
        return result
    return check


def integer(value: Any, *, minimum: int, maximum: int, what: str) -> int:
    """An integer from YAML or text (ASCII digits only) within [minimum, maximum]."""
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, got {shown(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ValueError(f"expected {what}, got {shown(value)}")
    if number < minimum:
        raise ValueError(f"expected {what}, got {number}")
    if number > maximum:
        raise ValueError(f"expected {what} of at most {maximum}, got {shown(number)}")
    return number


def gigabytes(value: Any) -> float:
    """A size in GB: a number (GB) or a string with a unit (512M, 16G, 1T)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size in GB (e.g. 16 or 512M), got {shown(value)}")
    if isinstance(value, (int, float)):
        number = value if isinstance(value, float) else (
            float(value) if abs(value) <= MAX_GB else math.inf)
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        unit = (m.group(2) or "g")[0].lower()
        number = float(m.group(1)) * _SIZE_FACTOR[unit]
    else:
        raise ValueError(f"expected a size in GB (e.g. 16 or 512M), got {shown(value)}")
    if math.isnan(number) or number < 0:
        raise ValueError(f"expected a size of 0 or more, got {shown(value)}")
    if number > MAX_GB:
        raise ValueError(f"expected a size of at most {MAX_GB:.0f} GB, got {shown(value)}")
    return number


def load(value: Any) -> float:
    """A load average: a number from 0 to MAX_COUNT."""
    number = _decimal(value, "a load average (e.g. 4 or 1.5)")
    if not math.isfinite(number) or not 0 <= number <= MAX_COUNT:
        raise ValueError(f"expected a load average from 0 to {MAX_COUNT}, got {shown(value)}")
    return number


def seconds(value: Any, minimum: float = 0.1, maximum: float = 86400.0) -> float:
    """A number of seconds within [minimum, maximum] (a timeout, an interval)."""
    number = _decimal(value, "a number of seconds")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected a positive number of seconds, got {shown(value)}")
    if not minimum <= number <= maximum:
        raise ValueError(f"expected between {minimum:g} and {maximum:g} seconds, "
                         f"got {shown(value)}")
    return number


def _decimal(value: Any, what: str) -> float:
    """A number from YAML, or a decimal in text (inf when too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
            isinstance(value, str) and not _DECIMAL.fullmatch(value)):
        raise ValueError(f"expected {what}, got {shown(value)}")
    try:
        return float(value)
    except OverflowError:
        return math.inf


_DECIMAL = re.compile(r"\s*[+-]?[0-9]{1,12}(\.[0-9]{0,12})?\s*|\s*[+-]?\.[0-9]{1,12}\s*")


_DURATION_PART = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,20})?)\s*([dhms])", re.IGNORECASE)
_DURATION_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_CLOCK = re.compile(r"^(?:([0-9]{1,6})-)?([0-9]{1,9}):([0-9]{1,2})(?::([0-9]{1,2}))?$")
_DURATION_HELP = "a duration such as 90s, 30m, 1h30m, 2d or HH:MM:SS"


def duration(value: Any) -> float:
    """A positive duration in seconds: 90s, 30m, 1h30m, 2d, HH:MM:SS, MM:SS, D-HH:MM:SS.

    A bare number is refused: Slurm reads it as minutes and most tools as
    seconds, and a time limit off by 60x kills jobs."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected {_DURATION_HELP}, got {shown(value)}"
                         + ("; give a unit" if isinstance(value, (int, float)) else ""))
    text = value.strip()
    total: float
    if (clock := _CLOCK.match(text)):
        days, first, second, third = clock.groups()
        if third is None:                        # MM:SS
            total = int(first) * 60 + int(second)
        else:                                    # HH:MM:SS
            total = int(first) * 3600 + int(second) * 60 + int(third)
        total += int(days or 0) * 86400
    elif text and _DURATION_PART.sub("", text).strip() == "":
        total = sum(float(n) * _DURATION_UNIT[u.lower()]
                    for n, u in _DURATION_PART.findall(text))
    elif re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise ValueError(f"expected {_DURATION_HELP}, got {shown(value)}; give a unit")
    else:
        raise ValueError(f"expected {_DURATION_HELP}, got {shown(value)}")
    if total <= 0:
        raise ValueError(f"expected a duration above zero, got {shown(value)}")
    if total > MAX_SECONDS:
        raise ValueError(f"expected a duration of at most 100 years, got {shown(value)}")
    return float(total)


def format_duration(seconds: float) -> str:
    """The shortest exact form duration() reads back: 1h30m, 45s, 2d."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds}s"
    out = ""
    for unit, size in _DURATION_UNIT.items():
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    return out or "0s"


def flag(value: Any) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ValueError(f"expected true or false (1 or 0), got {shown(value)}")


def names(value: Any) -> tuple[str, ...]:
    """A name or a list of names; a string may also be comma separated; [] is none."""
    if isinstance(value, (list, tuple)) and not value:
        return ()
    if isinstance(value, (list, tuple)):
        raw = [str(v) for v in value]
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        raw = str(value).split(",")
    else:
        raise ValueError(f"expected a name or a list of names, got {shown(value)}")
    out = tuple(r.strip() for r in raw if r.strip())
    for n in out:
        if not _NAME.match(n):
            raise ValueError(f"{shown(n)} is not a valid name (letters, digits, . _ - @ +)")
    if not out:
        raise ValueError("expected at least one name")
    return out


def counts(value: Any, minimum: int = 1) -> tuple[tuple[str, int], ...]:
    """Named counts, by name: `{matlab: 2, genus: 1}`, or a list or a comma
    separated string of `name`, `name=N` or `name:N` (Slurm's form); a name
    alone counts 1; {} or [] is none."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, dict):
                pairs += list(item.items())
            else:
                pairs += [_count_pair(part) for part in _parts(item)]
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        pairs = [_count_pair(part) for part in _parts(value)]
    else:
        raise ValueError(f"expected names with counts (matlab=2, genus), got {shown(value)}")
    out: dict[str, int] = {}
    for key, number in pairs:
        label = name(key)
        if label in out:
            raise ValueError(f"{shown(label)} is named twice")
        out[label] = integer(number, minimum=minimum, maximum=MAX_COUNT,
                             what=f"a count of {label}" + (" (1 or more)" if minimum else ""))
    return tuple(sorted(out.items()))


def _parts(value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected name=N, got {shown(value)}")
    return [p.strip() for p in str(value).split(",") if p.strip()]


def _count_pair(part: str) -> tuple[str, Any]:
    key, sep, number = part.replace(":", "=", 1).partition("=")
    return key.strip(), number.strip() if sep else 1


def name(value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"expected a name, got {shown(value)}")
    text = str(value).strip()
    if not _NAME.match(text) or text in (".", ".."):
        raise ValueError(f"{shown(text)} is not a valid name (letters, digits, . _ - @ +; "
                         "not . or ..)")
    return text


def text(value: Any) -> str:
    if value is None or isinstance(value, (list, dict)):
        raise ValueError(f"expected text, got {shown(value)}")
    out = str(value)
    if not out.strip():
        raise ValueError("expected text, got nothing")
    return out


def paths(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a path or a list of paths, got {shown(value)}")
