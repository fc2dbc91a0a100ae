"""Placement by mode: bycore, bycore1, byhost, bynode, bygroup.

Each function takes a job's requirements and the usable, eligible hosts (in
cluster-file order) and returns a Placement or None. Hosts are filled first
fit in cluster-file order, so the order of the file is the packing order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wq.model import Mode, Placement, Requirements, Slice
from wq.scheduler.view import HostUse

Placer = Callable[[Requirements, Sequence[HostUse]], Placement | None]


def _fits_extras(use: HostUse, req: Requirements) -> bool:
    return use.free_mem >= req.mem and len(use.free_gpus) >= req.gpus


def _slice(use: HostUse, req: Requirements, cores: int) -> Slice:
    return Slice(use.host.name, cores, req.mem, tuple(use.free_gpus[:req.gpus]))


def _whole(use: HostUse) -> Slice:
    return Slice(use.host.name, use.host.cores, use.host.mem,
                 tuple(range(use.host.gpus)), whole=True)


def bycore(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    if req.nodes or req.per_host or req.whole or req.task_cores > 1:
        return tasks(req, hosts)
    one = bycore1(req, hosts)
    if one is not None:
        return one
    slices, need = [], req.n
    for use in hosts:
        if need == 0:
            break
        if use.free_cores and _fits_extras(use, req):
            take = min(use.free_cores, need)
            slices.append(_slice(use, req, take))
            need -= take
    return Placement(tuple(slices)) if need == 0 else None


def tasks(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    """Slurm's allocation of N/unit tasks: each task's cores on one host, at most
    `per_host` cores a host, on exactly `nodes` hosts when given (each with a
    task at least, then the rest in host order, as Slurm's block distribution),
    whole hosts when `whole`. One host that holds them all if any (without
    `nodes`), else the first hosts in order that do."""
    size = req.task_cores
    count = req.n // size
    rooms: list[tuple[HostUse, int]] = []
    for use in hosts:
        if req.whole:
            room = use.host.cores // size if use.idle and use.host.mem >= req.mem \
                and use.host.gpus >= req.gpus else 0
        else:
            room = use.free_cores // size if _fits_extras(use, req) else 0
        if req.per_host:
            room = min(room, req.per_host // size)
        if room > 0:
            rooms.append((use, room))
    if not req.nodes:
        one = next((use for use, room in rooms if room >= count), None)
        if one is not None:                                 # one host, as bycore would
            return Placement((_whole(one) if req.whole else _slice(one, req, req.n),))
    elif len(rooms) < req.nodes or count < req.nodes:
        return None
    if req.nodes:
        chosen = rooms[:req.nodes]
        if sum(room for _, room in chosen) < count:       # the roomiest, in host order
            roomiest = sorted(range(len(rooms)), key=lambda i: -rooms[i][1])[:req.nodes]
            chosen = [rooms[i] for i in sorted(roomiest)]
        given = [1] * len(chosen)
    else:
        chosen, given = rooms, [0] * len(rooms)
    left = count - sum(given)
    for i, (_, room) in enumerate(chosen):
        more = min(room - given[i], left)
        given[i] += more
        left -= more
    if left > 0:
        return None
    slices = tuple(_whole(use) if req.whole else _slice(use, req, n * size)
                   for (use, _), n in zip(chosen, given, strict=True) if n)
    return Placement(slices)


def bycore1(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    for use in hosts:
        if use.free_cores >= req.n and _fits_extras(use, req):
            return Placement((_slice(use, req, req.n),))
    return None


def byhost(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    return bycore1(req, [u for u in hosts if u.host.name == req.hosts[0]])


def bynode(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    idle = [u for u in hosts if u.idle]
    if len(idle) < req.n:
        return None
    return Placement(tuple(_whole(u) for u in idle[:req.n]))


def bygroup(req: Requirements, hosts: Sequence[HostUse]) -> Placement | None:
    """Every host of the groups, whole; `hosts` must be all of them, usable or not."""
    if not hosts or not all(u.usable and u.idle for u in hosts):
        return None
    return Placement(tuple(_whole(u) for u in hosts))


PLACERS: dict[Mode, Placer] = {
    Mode.BYCORE: bycore, Mode.BYCORE1: bycore1, Mode.BYHOST: byhost,
    Mode.BYNODE: bynode, Mode.BYGROUP: bygroup,
}
