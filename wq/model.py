"""The data wq reasons about: hosts, requirements, jobs, placements.

Frozen, slotted dataclasses and enums only; no I/O. `JobState` carries the one
table of allowed transitions (`JobState.can_become`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NewType

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
class SshOptions:
    """How to reach a host over ssh; unset fields fall back to ~/.ssh/config."""

    known_hosts: str | None = None      # a path, or "none" to skip verification
    identity: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    keepalive: float = 10.0             # seconds between keepalives
    keepalive_count: int = 3            # unanswered keepalives before the host is down
    connect_timeout: float = 15.0
    max_sessions: int = 8
    helper: bool = True                 # run jobs through the per-host python3 helper


DEFAULT_DRAIN_AFTER = 5      # jobs in a row that fail to start before a host is drained


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    cores: int
    mem: float = 0.0                    # GB
    gpus: int = 0
    labels: tuple[str, ...] = ()
    address: str | None = None          # defaults to name
    port: int | None = None
    user: str | None = None
    local: bool = False
    ssh: SshOptions = field(default_factory=SshOptions)
    drain_after: int = DEFAULT_DRAIN_AFTER   # 0: never drain automatically
    # limits on the host's own state, sampled (None: none)
    max_load: float | None = None       # 1-minute load average beyond wq's own jobs
    min_free_mem: float | None = None   # GB available
    min_free_gpu_mem: float | None = None   # GB free on a GPU for it to take a job
    setup: str | None = None            # a command run before its first job (per boot)
    teardown: str | None = None         # a command run once it has been idle a while
    teardown_after: float = 600.0       # seconds idle before the teardown

    @property
    def sampled(self) -> bool:
        """Its load, memory and GPUs are sampled (it has a limit, or GPUs to pick)."""
        return (self.max_load is not None or self.min_free_mem is not None
                or self.min_free_gpu_mem is not None or self.gpus > 0)


@dataclass(frozen=True, slots=True)
class GpuSample:
    index: int
    total: float                        # GB
    used: float                         # GB

    @property
    def free(self) -> float:
        return max(self.total - self.used, 0.0)


@dataclass(frozen=True, slots=True)
class Sample:
    """A host's own state, as sampled (None: not measured there)."""
    load: float | None = None           # 1-minute load average
    mem_total: float | None = None      # GB
    mem_free: float | None = None       # GB available (MemAvailable)
    gpus: tuple[GpuSample, ...] = ()
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class LabBounds:
    """What one lab member may hold of the server at once (a hostile member
    cannot crowd the others out)."""
    connections: int = 32               # open connections
    queued: int = 1_000_000             # waiting jobs (array tasks count one each)
    submitting: int = 4                 # submissions being accepted at once
    pending_mb: int = 64                # MiB of frames being received at once


@dataclass(frozen=True, slots=True)
class Lab:
    """The cluster file's `lab:` section: one server shared by a group. The
    operator (who runs the server) is always a member and an admin."""
    socket: str                         # the shared socket's path
    users: tuple[str, ...] = ()         # who may connect, by name ...
    group: str | None = None            # ... and the members of this Unix group
    admins: tuple[str, ...] = ()
    weights: tuple[tuple[str, float], ...] = ()     # fair-share weights (default 1)
    bounds: LabBounds = field(default_factory=LabBounds)

    def weight(self, user: str) -> float:
        return dict(self.weights).get(user, 1.0)


@dataclass(frozen=True, slots=True)
class Cluster:
    hosts: tuple[Host, ...]
    source: str = ""
    lab: Lab | None = None
    resources: tuple[tuple[str, int], ...] = ()     # global counts (licences), by name


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
    sets in its job (wq.server.launches): each count None where not given."""

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


@dataclass(frozen=True, slots=True)
class Slice:
    """The part of a placement on one host."""

    host: str
    cores: int
    mem: float = 0.0
    gpu_ids: tuple[int, ...] = ()
    whole: bool = False                 # the host is taken whole (bynode, bygroup)


@dataclass(frozen=True, slots=True)
class Placement:
    slices: tuple[Slice, ...]

    @property
    def cores(self) -> int:
        return sum(s.cores for s in self.slices)

    @property
    def first_host(self) -> str:
        return self.slices[0].host

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(s.host for s in self.slices)


@dataclass(frozen=True, slots=True)
class Job:
    id: JobId
    user: str
    spec: JobSpec
    state: JobState
    submitted: float
    started: float | None = None
    ended: float | None = None
    placement: Placement | None = None
    exit_code: int | None = None
    reason: str = ""                    # why it waits, failed or was lost
    instance: int = 0                   # how many times it has been started
    crashes: int = 0                    # instances lost with their host, then requeued
    failures: int = 0                   # instances that failed, then retried
    avoid: tuple[str, ...] = ()         # hosts where an instance failed: tried last
    number: int = 0                     # the id users see (an array's tasks share it);
                                        # 0: the same as id
    task: int | None = None             # its index in its array (WQ_TASK_ID)
    entry: str | None = None            # its WQ_ENTRY: a line of --each-line, a --from-json item
    entry_tag: str | None = None        # its user's HMAC of the entry (wq.signing), in a lab
    held: bool = False                  # held by its user or an admin: waits until released

    @property
    def label(self) -> str:
        """The id users see: 12 for a job, 12.7 for task 7 of array 12."""
        number = self.number or self.id
        return str(number) if self.task is None else f"{number}.{self.task}"

    @property
    def name(self) -> str:
        """job_name, else the command's first word; never contains whitespace."""
        raw = self.spec.requirements.job_name or (self.spec.command.split() or ["-"])[0]
        return "-".join(raw.split()) or "-"


@dataclass(frozen=True, slots=True)
class Instance:
    """One run of a job: where, when, and how it ended.

    `settled` is False for an instance lost with an unreachable host: when the
    host returns, wq finds out what became of it (and kills a stale copy)."""

    job_id: JobId
    number: int
    hosts: tuple[str, ...]
    placement: Placement | None = None
    started: float | None = None
    ended: float | None = None
    outcome: str = "running"           # running, a final JobState value, requeued, retried
    exit_code: int | None = None
    detail: str = ""
    boot_id: str = ""
    settled: bool = True
    label: str = field(default="", compare=False)   # its job's label (12, 12.7); "": the id
    user: str = field(default="", compare=False)    # its job's user (in a lab: whose launcher)

    @property
    def job_label(self) -> str:
        return self.label or str(self.job_id)

    @property
    def name(self) -> str:
        """Its directory's name on the node: LABEL.NUMBER (12.1, 12.7.1)."""
        return f"{self.job_label}.{self.number}"

    @property
    def host(self) -> str:
        """The host that ran the wrapper (the first of the placement)."""
        return self.hosts[0] if self.hosts else ""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-user limits; None is no limit."""

    jobs: int | None = None
    cores: int | None = None
