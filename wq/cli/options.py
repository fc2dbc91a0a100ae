"""Option values the verbs share, checked with the same one-line errors."""

from __future__ import annotations

from wq.errors import UsageError


def duration(option: str, text: str) -> float:
    """Seconds from a duration option (90s, 1h30m, HH:MM:SS); a UsageError names it."""
    from wq.parsing import units

    try:
        return units.duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
