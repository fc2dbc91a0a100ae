"""`wq why`: for each host, the first rule that keeps a waiting job off it.

Pure, as the rest of the scheduler: the server passes the view before a pass,
the view after a pass that did not start the job (`after`: what jobs ahead
of it took), the pass's reservations and the job-level facts it knows. The
rules are checked in the order of RULES, which docs/scheduling.md gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wq.model import Job, Limits, Mode, Requirements
from wq.scheduler import explain
from wq.scheduler.limits import Usage, over_limit
from wq.scheduler.view import ClusterView, HostUse

#: the rules, in the order they are checked on each host
RULES = ("labels", "hosts", "cores", "memory", "gpus", "offline", "down", "load", "mode",
         "reserved", "licences", "user limit", "queue", "fair share", "dependency",
         "throttle", "launcher")


@dataclass(frozen=True, slots=True)
class HostWhy:
    host: str
    rule: str | None            # None: nothing keeps the job off this host
    detail: str
    change: str = ""            # what would have to change


@dataclass(frozen=True, slots=True)
class Facts:
    """What the server knows of the job beyond the cluster."""
    usage: Usage
    limits: Limits | None = None
    blocked: str | None = None          # the dependency it waits for
    throttled: str | None = None        # its array at its throttle (or held)
    launcher: bool = True               # its user's launcher is there (a lab)
    offline: Mapping[str, str] | None = None    # hosts drained, with the reason
    down: Mapping[str, str] | None = None       # hosts unreachable, with the reason
    fair: bool = False                  # fair share orders the queue (a lab)


def why_hosts(job: Job, view: ClusterView, after: ClusterView,
              reserved_hosts: Mapping[str, Job], reserved_licenses: Mapping[str, Job],
              facts: Facts) -> list[HostWhy]:
    """Every host of `view`, with the first rule that keeps `job` off it."""
    req = job.spec.requirements
    out = []
    others: set[str] = set()            # hosts that are not for this job at all
    for use in view.hosts():
        static = _static(req, use)
        if static is not None:
            others.add(use.host.name)
        found = (static or _state(req, use, facts) or _room(req, use)
                 or _reserved(job, use.host.name, reserved_hosts)
                 or _licences(job, view, reserved_licenses)
                 or _limit(req, facts)
                 or _queue(req, after.uses.get(use.host.name), facts.fair)
                 or _job_level(job, facts))
        out.append(HostWhy(use.host.name, *found) if found
                   else HostWhy(use.host.name, None, "free for it"))
    return _together(req, view, out, others)


Found = tuple[str, str, str] | None


def _static(req: Requirements, use: HostUse) -> Found:
    """What the host is, whatever runs on it."""
    host = use.host
    if req.groups and not set(req.groups) & set(host.labels):
        return ("labels", f"its labels ({','.join(host.labels) or 'none'}) include no "
                f"group {','.join(req.groups)}",
                "ask for a group it has, or label it so in the cluster file")
    excluded = set(req.not_groups) & set(host.labels)
    if excluded:
        return ("labels", f"it has label {sorted(excluded)[0]}, which the job excludes "
                "(notgroup)", "drop it from notgroup")
    if req.hosts and host.name not in req.hosts:
        return ("hosts", f"not one of the job's hosts ({','.join(req.hosts)})",
                "name it in host")
    if host.name in req.not_hosts:
        return ("hosts", "the job excludes it (nothost)", "drop it from nothost")
    if host.cores < req.min_cores:
        return ("cores", f"{host.cores} cores, below the job's min_cores {req.min_cores}",
                "lower min_cores")
    if req.mode in (Mode.BYCORE1, Mode.BYHOST) and host.cores < req.n:
        return ("cores", f"{host.cores} cores in all; the job needs {req.n} on one host",
                "ask for fewer cores, or mode bycore to spread them over hosts")
    needed = max(req.min_mem, req.mem)
    if needed and host.mem < needed:
        return ("memory", f"{host.mem:g} GB in all; the job needs {needed:g} GB",
                "ask for less memory (mem, min_mem)")
    if req.gpus and host.gpus < req.gpus:
        return ("gpus", f"{host.gpus} GPUs in all; the job needs {req.gpus}",
                "ask for fewer GPUs")
    return None


def _state(req: Requirements, use: HostUse, facts: Facts) -> Found:
    name = use.host.name
    if not use.online:
        reason = (facts.offline or {}).get(name) or "taken offline"
        return ("offline", reason, f"wq node online {name}")
    if not use.up:
        return ("down", (facts.down or {}).get(name) or "unreachable",
                "wait until it is back (wq refresh probes it now)")
    if use.over is not None:
        return ("load", use.over, "wait until its own load falls (sampled every few "
                "seconds), or change its limits in the cluster file")
    if req.mode in (Mode.BYNODE, Mode.BYGROUP) and not use.idle:
        return ("mode", f"{req.mode.value} takes whole idle hosts; {use.used_cores} of its "
                f"{use.host.cores} cores are in use", "wait for the jobs there to end")
    return None


def _room(req: Requirements, use: HostUse) -> Found:
    """Free room now (a bynode or bygroup host is idle, checked above)."""
    if req.mode in (Mode.BYNODE, Mode.BYGROUP):
        return None
    wanted = req.n if req.mode in (Mode.BYCORE1, Mode.BYHOST) else 1
    if use.free_cores < wanted:
        return ("cores", f"{use.free_cores} of its {use.host.cores} cores free; the job "
                f"needs {wanted}" + ("" if req.mode is not Mode.BYCORE else " or more"),
                "wait for the jobs there to end")
    if use.free_mem < req.mem:
        return ("memory", f"{use.free_mem:g} of its {use.host.mem:g} GB free; the job "
                f"needs {req.mem:g}", "wait for the jobs there to end")
    if len(use.free_gpus) < req.gpus:
        return ("gpus", f"{len(use.free_gpus)} of its {use.host.gpus} GPUs free; the job "
                f"needs {req.gpus}", "wait for the jobs there to end")
    return None


def _reserved(job: Job, host: str, reserved: Mapping[str, Job]) -> Found:
    holder = reserved.get(host)
    if holder is None or holder.id == job.id:
        return None
    return ("reserved", f"kept for job {holder.label}, which has waited longest "
            "(the starvation guard)", f"wait until job {holder.label} starts")


def _licences(job: Job, view: ClusterView, reserved: Mapping[str, Job]) -> Found:
    req = job.spec.requirements
    if not req.licenses:
        return None
    if not view.has_licenses(req.licenses):
        return ("licences", explain.why_no_licenses(req, view).removeprefix("waiting for "),
                "wait until jobs holding them end, or raise the count (resources) in "
                "the cluster file")
    for name, _ in req.licenses:
        holder = reserved.get(name)
        if holder is not None and holder.id != job.id:
            return ("licences", f"the {name} licences are kept for job {holder.label} "
                    "(the starvation guard)", f"wait until job {holder.label} starts")
    return None


def _limit(req: Requirements, facts: Facts) -> Found:
    least = req.n if req.mode in (Mode.BYCORE, Mode.BYCORE1, Mode.BYHOST) else 1
    over = over_limit(facts.limits, facts.usage, least)
    if over is None:
        return None
    return ("user limit", over.removeprefix("user limit: "),
            "wait for your running jobs to end, or raise your limit (wq limit)")


def _queue(req: Requirements, after: HostUse | None, fair: bool) -> Found:
    """The host had room, and jobs ahead of this one took it in the pass (by fair
    share, in a lab: users with less of their share in use go first)."""
    if after is None:
        return None
    taken = not after.idle if req.mode in (Mode.BYNODE, Mode.BYGROUP) \
        else _room(req, after) is not None
    if not taken:
        return None
    if fair:
        return ("fair share", "jobs of users with less of their share in use (or of "
                "higher priority) take its room first", "wait for its turn")
    return ("queue", "jobs ahead of it (higher priority, or older) take its room first",
            "wait for its turn")


def _job_level(job: Job, facts: Facts) -> Found:
    if facts.blocked:
        return ("dependency", facts.blocked.removeprefix("waiting for "),
                "wait for it (or wq rm this job)")
    if facts.throttled:
        return ("throttle", facts.throttled, "wait for its other tasks to end")
    if not facts.launcher:
        return ("launcher", f"{job.user}'s launcher is not connected",
                f"{job.user}'s next wq command starts it")
    return None


def _together(req: Requirements, view: ClusterView, hosts: list[HostWhy],
              others: set[str]) -> list[HostWhy]:
    """Rules of the hosts taken together: bycore's cores in all, bynode's count of
    idle hosts, bygroup's every host of its group (those not in `others`)."""
    free = [h for h in hosts if h.rule is None]
    if not free:
        return hosts
    if req.mode is Mode.BYCORE:
        total = sum(view.uses[h.host].free_cores for h in free)
        if total < req.n:
            return _instead(hosts, ("cores", f"the job needs {req.n} cores in all; the hosts "
                                    f"free for it have {total}", "wait for jobs to end"))
    elif req.mode is Mode.BYNODE and len(free) < req.n:
        return _instead(hosts, ("mode", f"the job needs {req.n} idle hosts; {len(free)} "
                                "are free for it", "wait for jobs to end"))
    elif req.mode is Mode.BYGROUP:
        busy = next((h for h in hosts if h.rule is not None and h.host not in others), None)
        if busy is not None:
            return _instead(hosts, ("mode", "bygroup takes every host of its group at once; "
                                    f"{busy.host} is not free for it ({busy.rule})",
                                    f"wait for {busy.host}"))
    return hosts


def _instead(hosts: list[HostWhy], found: tuple[str, str, str]) -> list[HostWhy]:
    return [HostWhy(h.host, *found) if h.rule is None else h for h in hosts]

