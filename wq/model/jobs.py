"""Jobs as the server holds them: their placements and instances, and users'
limits (named through wq.model)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wq.model import JobId, JobSpec, JobState


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
    def number_shown(self) -> int:
        """The number users see: the job's own id, or its array's (every task of
        array 12 shows 12)."""
        return self.number or self.id

    @property
    def label(self) -> str:
        """The id users see: 12 for a job, 12.7 for task 7 of array 12."""
        number = self.number_shown
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
