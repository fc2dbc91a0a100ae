"""Submitting jobs: one or an array, many at once, a rerun (and the signature
a lab member's rerun is tagged with)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Submit:
    """One job, or an array: `array` [first, last, step] (or a list of them, in
    order) or `entries` (one task each, in WQ_ENTRY), at most `throttle`
    running at once."""

    type: ClassVar[str] = "submit"
    spec: dict[str, Any]
    attach: bool = False
    array: list[int] | list[list[int]] | None = None
    entries: list[str] | None = None
    throttle: int | None = None
    entry_tags: list[str] | None = None     # in a lab: each entry's tag (wq.signing)
    hold: bool = False                      # it waits, held, until released (wq release)


@dataclass(frozen=True, slots=True)
class SubmitMany:
    """Many separate jobs (the Python API's submit_many): all accepted, or none.
    A spec's `env` may be the index of an environment in `envs`, so that each
    travels once. A big submission comes as several requests on one
    connection, all but the last with `more`: each is answered (AcceptedMany
    with `more` and no ids) once its jobs are checked, and the last with all
    the ids."""

    type: ClassVar[str] = "submit_many"
    specs: list[dict[str, Any]]
    envs: list[dict[str, Any]] | None = None
    more: bool = False
    total: int | None = None            # jobs in the whole submission (for its messages)


@dataclass(frozen=True, slots=True)
class Rerun:
    """Submit again what of a job or an array ended in `states` (default: failed,
    lost, timeout, cancelled): a new job, or an array of those task numbers."""

    type: ClassVar[str] = "rerun"
    id: str
    states: list[str] | None = None
    attach: bool = False
    again: str | None = None            # in a lab: the rerun's seal and its member's tag
    again_tag: str | None = None        # of it (wq.signing.sign_again; see Signature)


@dataclass(frozen=True, slots=True)
class Signature:
    """A job's signature (its owner's alone): what a lab member's client tags a
    rerun of it with."""

    type: ClassVar[str] = "signature"
    id: str
