"""The data wq reasons about: hosts, requirements, jobs, placements.

Frozen, slotted dataclasses and enums only; no I/O. `JobState` carries the one
table of allowed transitions (`JobState.can_become`). What a job asks for is
here; the cluster (model/cluster.py) and jobs as the server holds them
(model/jobs.py) are named here too, and loaded when first named.
"""

from __future__ import annotations

import enum
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NewType

JobId = NewType("JobId", int)


class Mode(enum.Enum):
    BYCORE = "bycore"      # N cores anywhere; may span hosts
    BYCORE1 = "bycore1"    # N cores on one host
    BYNODE = "bynode"      # N whole hosts
    BYHOST = "byhost"      # N cores on the named host
    BYGROUP = "bygroup"    # every host of the named groups, whole


PRIORITY_NAMES: dict[str, int] = {"low": 10, "med": 20, "high": 30, "block": 40}
BLOCK_PRIORITY = PRIORITY_NAMES["block"]


def priority_name(value: int) -> str:
    for name, number in PRIORITY_NAMES.items():
        if number == value:
            return name
    return str(value)


class JobState(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"            # exit code 0
    FAILED = "failed"        # non-zero exit, or could not start
    CANCELLED = "cancelled"  # removed by wq rm
    LOST = "lost"            # its host vanished and nothing tells how it ended
    TIMEOUT = "timeout"      # killed when its time limit ran out

    @property
    def letter(self) -> str:
        return _LETTERS[self]

    @property
    def final(self) -> bool:
        return self in _FINAL

    def can_become(self, other: JobState) -> bool:
        return other in _TRANSITIONS[self]


_LETTERS = {
    JobState.WAITING: "W", JobState.RUNNING: "R", JobState.DONE: "D",
    JobState.FAILED: "F", JobState.CANCELLED: "C", JobState.LOST: "L", JobState.TIMEOUT: "T",
}
_FINAL = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.LOST,
                    JobState.TIMEOUT})
_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.WAITING: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED,
                                 JobState.LOST, JobState.WAITING, JobState.TIMEOUT}),
    # an ended job is final until its user requeues it (wq requeue, scontrol requeue)
    JobState.DONE: frozenset({JobState.WAITING}),
    JobState.FAILED: frozenset({JobState.WAITING}),
    JobState.CANCELLED: frozenset({JobState.WAITING}),
    JobState.LOST: frozenset({JobState.WAITING}),
    JobState.TIMEOUT: frozenset({JobState.WAITING}),
}


class HostState(enum.Enum):
    UP = "up"
    DOWN = "down"          # unreachable; the reason says why
    UNKNOWN = "unknown"    # not probed yet


@dataclass(frozen=True, slots=True)
class Requirements:
    mode: Mode = Mode.BYCORE
    n: int = 1
    groups: tuple[str, ...] = ()
    not_groups: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    not_hosts: tuple[str, ...] = ()
    min_cores: int = 0
    min_mem: float = 0.0
    mem: float = 0.0                    # GB reserved on each host the job uses
    gpus: int = 0                       # per host the job uses
    priority: int = PRIORITY_NAMES["med"]
    job_name: str | None = None
    hostfile: str | None = None         # a path, "auto", or None
    threads: int | None = None
    x11: bool = False
    retries: int = 0                    # re-runs after a non-zero exit
    time_limit: float | None = None     # seconds of wall time, then TERM, grace, KILL
    crash_limit: int = 3                # requeues after its host was lost
    shell: str = "sh"                   # what runs the command: sh, login or a path
    signal: str | None = None           # [B:]SIG@SECONDS before its time limit (--signal)
    licenses: tuple[tuple[str, int], ...] = ()  # of the cluster's resources, by name
    nodes: int = 0                      # bycore: on exactly this many hosts (0: any)
    per_host: int = 0                   # bycore: at most this many cores a host (0: any)
    whole: bool = False                 # bycore: its hosts taken whole (Slurm's --exclusive)

    @property
    def task_cores(self) -> int:
        """The cores of one task, which stay on one host: `threads`, when N is a
        multiple of it."""
        threads = self.threads or 1
        return threads if self.n % threads == 0 else 1


class DepKind(enum.Enum):
    """When a job may start, relative to the end of another (Slurm's names)."""
    AFTEROK = "afterok"        # the other ended done (every task of an array)
    AFTERANY = "afterany"      # the other ended, however
    AFTERNOTOK = "afternotok"  # the other ended, not done (any task of an array)
    AFTERCORR = "aftercorr"    # task i of this array after task i of the other, done


@dataclass(frozen=True, slots=True)
class After:
    """One dependency: on job (or array) `number`, or on one of its tasks."""
    kind: DepKind
    number: int
    task: int | None = None

    def __str__(self) -> str:
        target = str(self.number) if self.task is None else f"{self.number}.{self.task}"
        return f"{self.kind.value}:{target}"


#: an array's task indices: ranges (first, last, step), sorted and disjoint
Ranges = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class SlurmShape:
    """What an sbatch or srun submission asked of Slurm, for the variables Slurm
    sets in its job (wq.server.onnode): each count None where not given."""

    submit_dir: str = ""                # where sbatch ran ("": not known, an older job)
    ntasks: int | None = None           # -n
    cpus_per_task: int | None = None    # -c
    nodes: int | None = None            # -N
    ntasks_per_node: int | None = None  # --ntasks-per-node
    mem_per_cpu: int | None = None      # --mem-per-cpu, in MB
    array: Ranges | None = None         # --array's indices (wq.parsing.arrays)
    script: str = ""                    # the batch script's path ("": --wrap, srun)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a user asked for: fixed at submission."""

    command: str
    cwd: str
    env: tuple[tuple[str, str], ...] = ()
    requirements: Requirements = field(default_factory=Requirements)
    stdout: str | None = None           # output path pattern (%j); None: the default
    stderr: str | None = None
    interactive: bool = False           # the client runs the session; the server leases
    stdin: str | None = None            # data for the job's stdin (--stdin), surrogateescaped
    signature: str | None = None        # its user's HMAC of the rest (wq.signing), in a lab
    seal: str | None = None             # in a lab: when it was signed and a nonce (wq.signing)
    tasks: Ranges | None = None         # in a lab: an array's signed indices
    entries: bool = False               # in a lab: its tasks each have a (tagged) entry
    again: str | None = None            # a rerun's own seal, and its user's tag of it
    again_tag: str | None = None        # (outside the signature: wq.signing.sign_again)
    after: tuple[After, ...] = ()       # dependencies: it waits until they are met
    slurm: SlurmShape | None = None     # submitted by sbatch or srun: it sees SLURM_* variables
    session: str | None = None          # its workflow's session (wq session): cancelled
                                        # with it when the session's connection ends
    on_end: str | None = None           # a shell command run, as its user, once it ended


#: the names wq.model gives of its parts, each imported the first time it is
#: named: a client that submits a job creates no Host or Job class (creating a
#: dataclass costs ~1 ms, and workflow tools start a client per job)
PARTS = {
    "SshOptions": "cluster",
    "DEFAULT_DRAIN_AFTER": "cluster",
    "Host": "cluster",
    "GpuSample": "cluster",
    "Sample": "cluster",
    "LabBounds": "cluster",
    "Lab": "cluster",
    "Cluster": "cluster",
    "Slice": "jobs",
    "Placement": "jobs",
    "Job": "jobs",
    "Instance": "jobs",
    "Limits": "jobs",
}

__all__ = [
    "JobId",
    "Mode",
    "PRIORITY_NAMES",
    "BLOCK_PRIORITY",
    "priority_name",
    "JobState",
    "HostState",
    "Requirements",
    "DepKind",
    "After",
    "Ranges",
    "SlurmShape",
    "JobSpec",
    "PARTS",
    "SshOptions",
    "DEFAULT_DRAIN_AFTER",
    "Host",
    "GpuSample",
    "Sample",
    "LabBounds",
    "Lab",
    "Cluster",
    "Slice",
    "Placement",
    "Job",
    "Instance",
    "Limits",
]

if TYPE_CHECKING:
    from wq.model.cluster import DEFAULT_DRAIN_AFTER as DEFAULT_DRAIN_AFTER
    from wq.model.cluster import Cluster as Cluster, GpuSample as GpuSample, Host as Host
    from wq.model.cluster import Lab as Lab, LabBounds as LabBounds, Sample as Sample
    from wq.model.cluster import SshOptions as SshOptions
    from wq.model.jobs import Instance as Instance, Job as Job, Limits as Limits
    from wq.model.jobs import Placement as Placement, Slice as Slice
else:
    def __getattr__(name: str) -> Any:
        part = PARTS.get(name)
        if part is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"wq.model.{part}"), name)
        globals()[name] = value            # found directly from now on
        return value
