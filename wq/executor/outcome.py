"""What the node reports of an instance: that it started, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Started:
    pid: int
    start_time: str
    boot_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a launch ended: an exit code, an error before the command ran, or lost.

    With `lost`: `never_started` when the node shows no trace of the wrapper
    (and a late launch is barred), so the instance can simply run again;
    `unreachable` when the host could not be asked, so its fate is unknown."""

    exit_code: int | None = None
    error: str | None = None
    lost: bool = False
    timed_out: bool = False
    never_started: bool = False
    unreachable: bool = False
    ended: float | None = None       # when it ended by the node's clock, if known
    pid: int | None = None           # its process, when its start was told with its end
