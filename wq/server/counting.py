"""Counts kept small: what the engine and its parts share about their Counters."""

from __future__ import annotations

from collections import Counter
from typing import Any


def decrement(counter: Counter[Any], key: Any, by: int = 1) -> None:
    """Take `by` off a count, forgetting it at zero (so the counts stay small)."""
    if counter[key] > by:
        counter[key] -= by
    else:
        counter.pop(key, None)
