"""The cluster as wq reaches it: hosts and how to reach them, their sampled
state, the lab's section of the cluster file (named through wq.model)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
