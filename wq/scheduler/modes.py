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
