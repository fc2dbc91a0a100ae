"""Between a lab server and a member's launcher: calls, and reports on them.

A launcher connects as its user, says Hello, then `Launcher` (messages.py);
from then on the server sends `Call`s for that user's jobs and the launcher
answers each with `Report`s: progress (`started`, `running`, `output`), then
one last `done` (with its result) or `failed` (an ExecutorError, or a refusal:
a job its user did not sign).

A call carries the *job* (its signed spec, its placement) rather than what to
run on the node: the launcher builds the launch itself from what it can
verify, and the node directories and output files from the signed spec, so
whoever runs the server can ask a launcher for its user's own jobs only.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from wq import codec
from wq.model import Host, Job, JobId, JobState, SshOptions
from wq.protocol.messages import checked

OPS = ("launch", "watch", "follow", "kill", "signal", "status", "remove", "cat", "hook")
SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")                  # what a server id may be
INSTANCE = re.compile(r"[0-9]{1,19}(\.[0-9]{1,19})?\.[0-9]{1,19}")   # 12.1, 12.7.1


@dataclass(frozen=True, slots=True)
class HostRef:
    """How to reach a host, as far as a member's own launcher takes it from the
    server: where and how long to wait, never whose keys or login (the member's
    own ssh configuration has those)."""
    name: str
    address: str | None
    port: int | None
    local: bool
    keepalive: float
    keepalive_count: int
    connect_timeout: float
    max_sessions: int
    helper: bool

    @classmethod
    def of(cls, host: Host) -> HostRef:
        o = host.ssh
        return cls(host.name, host.address, host.port, host.local, o.keepalive,
                   o.keepalive_count, o.connect_timeout, o.max_sessions, o.helper)

    @classmethod
    def here(cls) -> HostRef:
        """The launcher's own machine (a call that is not about a node: hook)."""
        return cls("localhost", None, None, True, 10.0, 3, 15.0, 8, False)

    def host(self) -> Host:
        return Host(name=self.name, cores=1, address=self.address, port=self.port,
                    local=self.local, ssh=SshOptions(
                        keepalive=self.keepalive, keepalive_count=self.keepalive_count,
                        connect_timeout=self.connect_timeout, max_sessions=self.max_sessions,
                        helper=self.helper))


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job as its launcher needs it: who, which instance, where, and the spec
    its user signed."""
    id: int
    number: int
    task: int | None
    user: str
    instance: int
    spec: dict[str, Any]
    placement: list[dict[str, Any]] | None
    entry: str | None = None
    entry_tag: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobRef:
        return cls(job.id, job.number, job.task, job.user, job.instance,
                   codec.spec_to_dict(job.spec), codec.placement_to_list(job.placement),
                   job.entry, job.entry_tag)

    def job(self) -> Job:
        """The job back (ValueError or ParseError if the fields do not make one)."""
        return Job(id=JobId(self.id), user=self.user,
                   spec=codec.spec_from_dict(self.spec, source="the server"),
                   state=JobState.RUNNING, submitted=0.0,
                   placement=codec.placement_from_list(self.placement),
                   instance=self.instance, number=self.number, task=self.task,
                   entry=self.entry, entry_tag=self.entry_tag)


@dataclass(frozen=True, slots=True)
class Call:
    call: int
    op: str                                 # one of OPS
    server_id: str
    host: HostRef
    job: JobRef | None = None               # launch, watch, follow, cat
    hosts: list[HostRef] = field(default_factory=list)   # launch: the placement's hosts
    name: str = ""                          # kill, signal: the instance (12.3.1)
    names: list[str] = field(default_factory=list)        # status, remove
    grace: float = 5.0                      # launch, kill
    first: str = "TERM"                     # kill, signal: the signal
    scope: str = "job"                      # signal: to whom (requirements.SCOPES)
    max_bytes: int = 0                      # cat
    facts: dict[str, str] = field(default_factory=dict)   # hook: how the job ended

    def to_frame(self) -> dict[str, Any]:
        return {"call": self.call, **{f.name: _plain(getattr(self, f.name))
                                      for f in dataclasses.fields(self) if f.name != "call"}}

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Call:
        call: Call = checked(cls, frame, "call")
        return call


@dataclass(frozen=True, slots=True)
class Report:
    """A launcher's word on a call: `started` (pid), `running`, `output` (stream,
    data), then `done` (result: an executor.outcome.Outcome's fields for a launch
    or a watch) or `failed` (error; `unreachable` when the host could not be
    reached)."""
    call: int
    kind: str
    pid: int = 0
    stream: str = ""
    data: str = ""
    result: Any = None
    error: str = ""
    unreachable: bool = False

    def to_frame(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name in ("call", "kind") or getattr(self, f.name) != f.default}

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Report:
        report: Report = checked(cls, frame, "report")
        return report


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
