"""The engine's vocabulary: the events it is fed and the effects it asks for.

Plain frozen data, no behaviour: the engine (state.py) turns an event into a
list of effects; the runner (runner.py) carries the effects out and feeds
every result back as an event. Effects that act on a node (Launch, Watch,
Follow, Kill, KillStale) carry everything needed to act, so they can be
carried out by another process running as the job's user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wq.executor import wrapper
from wq.executor.outcome import Outcome
from wq.model import Cluster, Host, Instance, Job, JobId, JobSpec, JobState, Limits, Sample
from wq.protocol import events
from wq.scheduler.deps import Key, Tally

# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """Jobs read from the store at start, with the current instance of each
    running one: the running ones first, then the queue a page at a time. `left`
    is how many waiting jobs are still to come: while any are, no job starts."""
    jobs: tuple[Job, ...]
    instances: dict[JobId, Instance] = field(default_factory=dict)
    throttles: dict[int, int] = field(default_factory=dict)
    left: int = 0
    tallies: dict[Key, Tally] = field(default_factory=dict)   # of their dependencies' targets


@dataclass(frozen=True, slots=True)
class Submitted:
    """A job, or an array's tasks, accepted by the store. A big array comes in
    several, all but the last with `more` (it cannot end before its last task
    is in); its throttle and watcher come with the first."""
    jobs: tuple[Job, ...]
    throttle: int | None = None
    watched: bool = False          # an attached client follows it
    more: bool = False
    tallies: dict[Key, Tally] = field(default_factory=dict)   # of their dependencies' targets


@dataclass(frozen=True, slots=True)
class Watched:
    """A client attached to a job already submitted."""
    job_id: JobId


@dataclass(frozen=True, slots=True)
class Unwatched:
    """An attached client stopped following a job (it left, or the job ended)."""
    job_id: JobId


@dataclass(frozen=True, slots=True)
class ArrayUnwatched:
    """An attached client stopped following an array."""
    number: int


@dataclass(frozen=True, slots=True)
class Pause:
    """`on`: no task of the arrays numbered so starts until the same Pause with `on`
    False (a number that is not an array's pauses nothing)."""
    numbers: frozenset[int]
    on: bool


@dataclass(frozen=True, slots=True)
class ClientGone:
    """An attached client's connection ended before its job did."""
    job_id: JobId


@dataclass(frozen=True, slots=True)
class WorkflowGone:
    """A workflow session's connection ended (its driver died or stopped)."""
    user: str
    token: str


@dataclass(frozen=True, slots=True)
class ArrayClientGone:
    """An attached client's connection ended before its array did."""
    number: int


@dataclass(frozen=True, slots=True)
class Started:
    """The node reports an instance's process has started."""
    job_id: JobId
    instance: int
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class Ended:
    """An instance's launch or watch ended with `outcome` (an error of wq itself
    is an outcome too)."""
    job_id: JobId
    instance: int
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class HostUp:
    name: str
    boot_id: str = ""


@dataclass(frozen=True, slots=True)
class Sampled:
    """A host's own load, memory and GPUs were sampled."""
    name: str
    sample: Sample


@dataclass(frozen=True, slots=True)
class HostDown:
    """A host takes no new work (a connection dropped; a probe will tell more)."""
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class HostLost:
    """A host is down for sure (a probe failed too): its batch jobs are lost."""
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Settle:
    """What the node says of the instances lost with it, before it counts as up:
    instance name -> running | exit N | rebooted | notstarted | vanished."""
    host: str
    lost: tuple[Instance, ...]
    found: dict[str, str]
    user: str = ""                  # whose instances (a stale copy is killed as them)


@dataclass(frozen=True, slots=True)
class LauncherUp:
    """A lab member's launcher connected: their jobs can start, and their running
    ones are watched again (kills asked for while it was away are done now)."""
    user: str


@dataclass(frozen=True, slots=True)
class LauncherSettled:
    """A returning launcher has settled its user's instances lost meanwhile: their
    waiting jobs may start (before, one might have started a second copy)."""
    user: str


@dataclass(frozen=True, slots=True)
class LauncherGone:
    """A lab member's launcher went away: their jobs keep running on the nodes,
    unwatched, and their waiting jobs wait for it."""
    user: str


@dataclass(frozen=True, slots=True)
class StaleKilled:
    """A stale copy found at settling was killed (`result`: terminated, killed, gone)."""
    instance: Instance
    result: str


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """An interactive client says its session is over (or never began, or was cut)."""
    job_id: JobId
    code: int | None
    reason: str
    lost: bool = False


@dataclass(frozen=True, slots=True)
class SessionExpired:
    """An interactive session's time limit ran out (a timer armed at its start)."""
    job_id: JobId
    instance: int


@dataclass(frozen=True, slots=True)
class KillDone:
    """A Kill with `report` finished (whatever its result)."""
    job_id: JobId
    instance: int


@dataclass(frozen=True, slots=True)
class Remove:
    """wq rm of these jobs (live ones as the engine has them, others as stored)."""
    jobs: tuple[Job, ...]
    user: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    """wq hold (`on`) or wq release of these waiting jobs (as the engine has them)."""
    jobs: tuple[Job, ...]
    user: str
    on: bool
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Requeue:
    """wq requeue: these jobs (running ones as the engine has them, ended ones as
    stored) wait again."""
    jobs: tuple[Job, ...]
    user: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Update:
    """wq update: waiting jobs (an array's: all of its waiting tasks) take `spec`."""
    jobs: tuple[Job, ...]
    spec: JobSpec
    user: str
    detail: str


@dataclass(frozen=True, slots=True)
class SetOffline:
    hosts: tuple[str, ...]
    offline: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SetLimits:
    user: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class SetCluster:
    cluster: Cluster


@dataclass(frozen=True, slots=True)
class Schedule:
    """Run a scheduling pass (the runner coalesces Reschedule effects into one)."""


Event = (Loaded | Submitted | Watched | Unwatched | ArrayUnwatched | Pause | ClientGone
         | ArrayClientGone | WorkflowGone | Started | Ended | HostUp | HostDown | HostLost
         | Settle | StaleKilled | SessionEnded | SessionExpired | KillDone | Remove
         | Hold | Requeue | Update
         | SetOffline | SetLimits | SetCluster | Schedule | LauncherUp | LauncherSettled
         | LauncherGone | Sampled)

# -- effects --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """Write a job's new fields, an event of its history, and the instance it concerns."""
    job: Job
    event: str
    detail: str = ""
    instance: Instance | None = None


@dataclass(frozen=True, slots=True)
class RecordHeld:
    """Waiting jobs are held or released."""
    ids: tuple[JobId, ...]
    held: bool
    detail: str


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """A waiting job's (an array's) spec changes."""
    job: Job
    spec: JobSpec
    detail: str


@dataclass(frozen=True, slots=True)
class RecordMany:
    """Many jobs move to one `state`, `ended` then, with one reason and one event
    of their history (an array cancelled)."""
    ids: tuple[JobId, ...]
    state: JobState
    ended: float
    reason: str
    event: str


@dataclass(frozen=True, slots=True)
class RecordSettled:
    instance: Instance
    event: str
    detail: str


@dataclass(frozen=True, slots=True)
class RecordOffline:
    hosts: tuple[str, ...]
    offline: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RecordLimits:
    user: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class Launch:
    """Start an instance on `host`; report Started, then Ended."""
    job: Job
    host: Host
    launch: wrapper.Launch


@dataclass(frozen=True, slots=True)
class Watch:
    """Watch an instance that was started before (by an earlier server, or found
    alive at settling) until it ends; report Ended."""
    job: Job
    host: Host
    directory: str
    follow: Follow | None = None


@dataclass(frozen=True, slots=True)
class Follow:
    """Send an instance's output to its watchers as it is written."""
    job_id: JobId
    host: Host
    directory: str
    stdout: str
    stderr: str
    user: str = ""                  # whose job: in a lab, their launcher does it


@dataclass(frozen=True, slots=True)
class Hook:
    """Run a job's on_end command, as its user, now that it (or its array) ended."""
    job: Job
    facts: dict[str, str]           # how it ended: WQ_JOB_ID, WQ_STATE, ... (wq.hooks)


@dataclass(frozen=True, slots=True)
class Kill:
    """Signal an instance's process group (`first`, then KILL after the grace);
    with `report`, KillDone follows whatever the result."""
    job_id: JobId
    instance: int
    host: Host
    directory: str
    first: str = "TERM"
    report: bool = False
    user: str = ""                  # whose job: in a lab, their launcher does it
    name: str = ""                  # the instance's name (12.1), for a launcher


@dataclass(frozen=True, slots=True)
class Abandon:
    """Stop launching or watching an instance the engine has given up on (its host
    is lost): its Ended would come too late to matter."""
    job_id: JobId
    instance: int


@dataclass(frozen=True, slots=True)
class KillStale:
    """Kill a copy found running at settling whose job moved on; StaleKilled follows.
    Failing, the host stays down."""
    instance: Instance
    host: Host
    directory: str
    user: str = ""                  # whose job: in a lab, their launcher does it


@dataclass(frozen=True, slots=True)
class Publish:
    """Tell a job's watchers (once what precedes is committed)."""
    job_id: JobId
    event: events.Event
    last: bool = False             # the job's last event: its watchers are done


@dataclass(frozen=True, slots=True)
class PublishArray:
    """Tell an array's watchers (once what precedes is committed)."""
    number: int
    event: events.Event
    last: bool = False


@dataclass(frozen=True, slots=True)
class Lease:
    """Grant an interactive job's client its session on `host` (a Publish of the
    lease, built by the runner, which knows how to connect)."""
    job_id: JobId
    host: Host
    launch: wrapper.Launch
    job: Job | None = None          # (a lab member's client rebuilds the session from it)


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Feed SessionExpired(job_id, instance) after `delay` seconds."""
    job_id: JobId
    instance: int
    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    job_id: JobId


@dataclass(frozen=True, slots=True)
class Reschedule:
    """Something changed that may let a job start: run a pass soon."""


#: what a request (wq rm, hold, release, requeue, update) did to one job: (its
#: number, its task or None, what happened, whether it did what was asked: for rm,
#: killed, taken from the queue or its session ended)
Result = tuple[int, int | None, str, bool]


@dataclass(frozen=True, slots=True)
class Answer:
    """A request's answer: one result per job named."""
    results: tuple[Result, ...]


Effect = (Record | RecordMany | RecordSettled | RecordOffline | RecordLimits | Launch
          | Watch | Follow | Kill | Abandon | KillStale | Publish | PublishArray | Lease
          | ArmTimer | CancelTimer | Reschedule | Answer | Hook
          | RecordHeld | RecordSpec)
