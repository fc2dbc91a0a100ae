"""Connections that stay open: an interactive session's end, a workflow's
session, a lab member's launcher, srun's steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """An interactive client's word that its session ended (code None: it never ran)."""

    type: ClassVar[str] = "session_end"
    id: str
    code: int | None = None
    reason: str = ""
    lost: bool = False          # cut off mid-session (rather than never started)


@dataclass(frozen=True, slots=True)
class Session:
    """A workflow's session (`wq session`, a driver's sidecar): the connection
    stays open; when it ends, other than by the server stopping, the jobs
    submitted with this session that have not ended are cancelled."""

    type: ClassVar[str] = "session"
    token: str


@dataclass(frozen=True, slots=True)
class Launcher:
    """A lab member's launcher offers itself: from then on the connection carries
    calls for that member's jobs and reports on them (launching.py)."""

    type: ClassVar[str] = "launcher"


@dataclass(frozen=True, slots=True)
class Step:
    """Tasks of a running job's step on one of its hosts (srun inside the job):
    `argv` in `cwd` with `env`, once per SLURM_PROCID in `tasks`, as node `node`
    (SLURM_NODEID). Answered by frames of output ({"stream", "data"}, the bytes
    as latin-1 text) and a last one with the worst task's `exit` status (None:
    the host was lost). The tasks are stopped if the connection ends first."""

    type: ClassVar[str] = "step"
    job: str
    host: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    node: int
    tasks: list[int]
