"""Replies, typed: one class per request's answer, and the rows they carry
(a job in a listing, a host in `wq stat`, a user in `wq users`, an instance
and an event in `wq info`, a result of `wq rm`). What every client reads
(Row itself, HelloReply and Accepted) is in wq.protocol.rows, which a
submission loads alone.

On the wire a reply or row is a JSON object, as `--json` prints it (optional
fields only when set), and a reply also has `ok: true`; `from_frame` checks
every field, the rows inside included. A paged reply (a listing, `users`,
`info`) comes as several frames, each but the last with `more`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wq.protocol.rows import Row


@dataclass(frozen=True, slots=True)
class JobRow(Row):
    """A job (or a task, or an array's summary) in `wq ls`."""
    id: str                         # 12, 12.7, or an array's number
    number: int
    task: int | None
    user: str
    state: str                      # an array's: running, waiting, failed or done
    pri: str
    nc: int | None                  # cores, hosts and first host of its placement
    nh: int | None
    host0: str | None
    submitted: float
    started: float | None
    ended: float | None
    exit: int | None
    name: str
    reason: str
    instance: int
    interactive: bool = False
    unfit: bool = False             # waiting, but the cluster as it is can never hold it
    array: bool = False             # a summary row: its tasks' states in counts
    counts: dict[str, int] | None = None
    tasks: int | None = None
    command: str | None = None      # these with `full`
    cwd: str | None = None
    hosts: list[str] | None = None
    requirements: dict[str, Any] | None = None
    slurm: dict[str, Any] | None = None     # with `full`, a job of sbatch's: its shape,
                                            # Slurm id, priority (and array throttle)


@dataclass(frozen=True, slots=True)
class HostRow(Row):
    """A host in `wq stat`."""
    name: str
    cores: int
    used: int
    mem: float
    gpus: int
    labels: list[str]
    state: str                      # up, down, unknown, offline
    reason: str
    load: float | None = None       # sampled (hosts with limits or GPUs): load average
    mem_free: float | None = None   # GB available
    gpu_free: list[float] | None = None     # GB free per GPU, by index
    over: str = ""                  # over a limit on its own load: takes no new job


@dataclass(frozen=True, slots=True)
class UserRow(Row):
    """A user in `wq users`: running jobs and cores, waiting jobs, limits (None: none)."""
    user: str
    running: int
    cores: int
    waiting: int
    limits: dict[str, int | None]


@dataclass(frozen=True, slots=True)
class InstanceRow(Row):
    """One run of a job in `wq info`: where, when, how it ended (settled False:
    lost with its host, fate not yet known)."""
    number: int
    hosts: list[str]
    started: float | None
    ended: float | None
    outcome: str                    # running, a final state, requeued, retried
    exit: int | None
    detail: str
    settled: bool


@dataclass(frozen=True, slots=True)
class EventRow(Row):
    """One line of a job's history in `wq info`."""
    time: float
    kind: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInfo(JobRow):
    """A job in full (`wq info`): its row, what it runs and where, its counters;
    its instances and events follow in the pages of an InfoPage."""
    interactive: bool
    command: str
    cwd: str
    hosts: list[str]
    requirements: dict[str, Any]
    crashes: int
    failures: int
    stdout: str | None
    stderr: str | None


@dataclass(frozen=True, slots=True)
class RemoveRow(Row):
    """One result of `wq rm`: a job, a task or a run of tasks (12.1-50)."""
    id: str
    result: str
    removed: bool


# -- replies -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Signed(Row):
    """A job's signature (m.Signature): None outside a lab."""
    signature: str | None


@dataclass(frozen=True, slots=True)
class AcceptedMany(Row):
    """Many separate jobs taken: their ids, in the order given (with `more`: a
    request of a submission checked, the next may come; no ids yet)."""
    ids: list[str]
    more: bool = False


@dataclass(frozen=True, slots=True)
class Attached(Row):
    """Attached to a job: its state now (if it has ended, nothing follows)."""
    id: str
    state: str
    exit: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StatusRow(Row):
    """A job's (or an array's) state: an array's is `running` while any task is
    waiting or running, then `done` if all ended done, else `failed`; `unknown`
    for an id that names no job."""
    id: str
    state: str
    exit: int | None = None

    def to_frame(self) -> dict[str, Any]:
        # (written out: a reply holds up to 100000 of them, and Row's general
        # way held the loop 0.16 s for those)
        if self.exit is None:
            return {"id": self.id, "state": self.state}
        return {"id": self.id, "state": self.state, "exit": self.exit}


@dataclass(frozen=True, slots=True)
class StatusReply(Row):
    jobs: list[StatusRow]


@dataclass(frozen=True, slots=True)
class Listing(Row):
    """A page of `wq ls`."""
    now: float
    jobs: list[JobRow]
    more: bool = False


@dataclass(frozen=True, slots=True)
class LicenseRow(Row):
    """One of the cluster's resources in `wq stat`: its count and how many are held."""
    name: str
    total: int
    used: int


@dataclass(frozen=True, slots=True)
class StatReply(Row):
    hosts: list[HostRow]
    running: int
    waiting: int
    licenses: list[LicenseRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UsersPage(Row):
    users: list[UserRow]
    more: bool = False


@dataclass(frozen=True, slots=True)
class InfoPage(Row):
    """A page of `wq info`: the job on the first, then its instances and events
    in order, a bounded number a page."""
    now: float
    job: JobInfo | None = None              # on the first page
    instances: list[InstanceRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    more: bool = False


@dataclass(frozen=True, slots=True)
class Removed(Row):
    results: list[RemoveRow]


@dataclass(frozen=True, slots=True)
class ChangeRow(Row):
    """One result of `wq hold`, `release`, `requeue` or `update`: a job, a task or
    a run of tasks (12.1-50)."""
    id: str
    result: str
    changed: bool


@dataclass(frozen=True, slots=True)
class Changed(Row):
    results: list[ChangeRow]


#: SignalRow's result for a job that has no task of srun's to signal (scope
#: steps): nothing is sent, which Slurm's scancel -s does not call an error
NO_STEP = "no step of srun's running"


@dataclass(frozen=True, slots=True)
class SignalRow(Row):
    """One result of `wq signal`: a job signalled, or why not."""
    id: str
    result: str
    sent: bool


@dataclass(frozen=True, slots=True)
class Signalled(Row):
    results: list[SignalRow]


@dataclass(frozen=True, slots=True)
class Refreshed(Row):
    """`wq refresh`: the cluster's host count now, and the hosts added and removed."""
    hosts: int
    added: list[str]
    removed: list[str]


@dataclass(frozen=True, slots=True)
class WhyHost(Row):
    """A host in `wq why`: the first rule keeping the job off it (None: none does)."""
    host: str
    rule: str | None
    detail: str
    change: str = ""


@dataclass(frozen=True, slots=True)
class WhyReply(Row):
    """`wq why`: the job's state, its one-line reason, and every host."""
    job: str
    state: str
    summary: str
    hosts: list[WhyHost] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Stopping(Row):
    """`wq stop`: the server exits once this is sent. `lock` is its state lock
    (server.pid): free once the process is gone."""
    pid: int
    running: int
    lock: str


@dataclass(frozen=True, slots=True)
class NodeReply(Row):
    hosts: list[str]
    offline: bool


@dataclass(frozen=True, slots=True)
class LimitReply(Row):
    user: str
    limits: dict[str, int | None]


@dataclass(frozen=True, slots=True)
class LogReply(Row):
    id: str
    host: str
    instance: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class Cleaned(Row):
    """`wq clean`: how many jobs were forgotten, and the hosts whose job
    directories could not be reached (their files stay)."""
    forgotten: int
    unreachable: list[str]


@dataclass(frozen=True, slots=True)
class Done(Row):
    """A request that has nothing to say but that it was done."""
