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


def finish_when_interrupted() -> None:
    """A driver's Ctrl-C (or TERM) reaches its whole process group, a short
    query or submission of its too: that finishes (a fraction of a second), so
    the driver gets its answer (a submission's id, to cancel) rather than a
    command killed mid-request."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
