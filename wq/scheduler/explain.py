"""Reasons, in words: why a job can never fit, and why it waits now."""

from __future__ import annotations

from collections.abc import Sequence

from wq.model import Mode, Requirements
from wq.scheduler import filters
from wq.scheduler.view import ClusterView, HostUse


def _eligible(req: Requirements, view: ClusterView) -> list[HostUse]:
    return [u for u in view.hosts() if filters.eligible(u.host, req)]


def _no_host(req: Requirements) -> str:
    described = filters.describe(req)
    return f"no host matches {described}" if described else "the cluster has no hosts"


def never_fits(req: Requirements, view: ClusterView) -> str | None:
    """Why `req` cannot fit even on the whole cluster, empty and online; None if it can."""
    for name, n in req.licenses:
        if name not in view.licenses:
            known = ", ".join(sorted(view.licenses)) or "none"
            return f"no licence named {name!r} in the cluster's resources (it has: {known})"
        if view.licenses[name] < n:
            return f"needs {_licences(name, n)}; the cluster has {view.licenses[name]}"
    hosts = _eligible(req, view)
    if req.mode is Mode.BYHOST and not any(u.host.name == req.hosts[0] for u in view.hosts()):
        return f"no host named {req.hosts[0]!r} in the cluster"
    if not hosts:
        return _no_host(req)
    if req.mode is Mode.BYCORE:
        size = req.task_cores
        rooms = sorted((_room(req, u.host.cores) for u in hosts
                        if u.host.gpus >= req.gpus and u.host.mem >= req.mem), reverse=True)
        rooms = [room for room in rooms if room]
        if req.nodes and len(rooms) < req.nodes:
            return f"needs {req.nodes} hosts; {len(rooms)} can hold a task of it"
        total = sum(rooms[:req.nodes or None]) * size
        if total < req.n:
            on = f" on {req.nodes} hosts" if req.nodes else ""
            return f"needs {req.n} cores{on}; the eligible hosts have {total} in all" \
                + (f" ({_shape(req)})" if _shape(req) else "")
    elif req.mode in (Mode.BYCORE1, Mode.BYHOST):
        largest = max(hosts, key=lambda u: u.host.cores)
        if largest.host.cores < req.n:
            return (f"needs {req.n} cores on one host; the largest eligible host, "
                    f"{largest.host.name}, has {largest.host.cores}")
    elif req.mode is Mode.BYNODE:
        if len(hosts) < req.n:
            return f"needs {req.n} whole hosts; {len(hosts)} are eligible"
    return None


def why_waiting(req: Requirements, view: ClusterView, hosts: Sequence[HostUse]) -> str:
    """Why `req` does not fit now; `hosts` are its eligible hosts."""
    unusable = [u.host.name for u in hosts if not u.usable]
    usable = [u for u in hosts if u.usable]
    if req.mode is Mode.BYGROUP:
        if unusable:
            return f"waiting for host {unusable[0]} of group {','.join(req.groups)}" \
                   f" ({_state(view.uses[unusable[0]])})"
        busy = [u.host.name for u in hosts if not u.idle]
        return f"waiting for {len(busy)} busy host(s) of group {','.join(req.groups)} to empty"
    if not usable:
        states = ", ".join(f"{u.host.name} {_state(u)}" for u in hosts[:3])
        return f"waiting: every eligible host is unavailable ({states})"
    described = filters.describe(req)
    among = f" among hosts with {described}" if described else ""
    if req.mode is Mode.BYNODE:
        idle = sum(1 for u in usable if u.idle)
        return f"waiting for {req.n} idle host(s){among} ({idle} idle now)"
    free = [u.free_cores for u in usable]
    if req.mode is Mode.BYCORE:
        on = f" on {req.nodes} hosts" if req.nodes else ""
        shape = f", {_shape(req)}" if _shape(req) else ""
        if req.whole:
            idle = sum(1 for u in usable if u.idle)
            return (f"waiting for idle hosts to take whole for {req.n} core(s){on}{among} "
                    f"({idle} idle now)")
        return f"waiting for {req.n} free core(s){on}{among}{shape} ({sum(free)} free now)"
    return (f"waiting for {req.n} free core(s) on one host{among} "
            f"(at most {max(free)} free on one now)")


def _room(req: Requirements, cores: int) -> int:
    """Tasks (of task_cores cores) a host of `cores` holds for `req`."""
    size = req.task_cores
    room = cores // size
    return min(room, req.per_host // size) if req.per_host else room


def _shape(req: Requirements) -> str:
    """A bycore job's shape beyond its cores, in words ("" for none)."""
    parts = []
    if req.task_cores > 1:
        parts.append(f"{req.task_cores} cores a task on one host")
    if req.per_host:
        parts.append(f"at most {req.per_host} a host")
    return ", ".join(parts)


def why_no_licenses(req: Requirements, view: ClusterView) -> str:
    """Why `req` waits for licences (some of them are not free now)."""
    short = [f"{_licences(name, n)} ({view.free_licenses(name)} of "
             f"{view.licenses.get(name, 0)} free)"
             for name, n in req.licenses if view.free_licenses(name) < n]
    return "waiting for " + ", ".join(short)


def _licences(name: str, n: int) -> str:
    return f"{n} {name} licence{'s' if n != 1 else ''}"


def _state(use: HostUse) -> str:
    return "offline" if not use.online else "down" if not use.up else "over its load limit"
