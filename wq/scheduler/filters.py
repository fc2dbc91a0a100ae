"""Which hosts a job may use at all, whatever is running on them."""

from __future__ import annotations

from wq.model import Host, Requirements


def eligible(host: Host, req: Requirements) -> bool:
    if req.groups and not set(req.groups) & set(host.labels):
        return False
    if req.not_groups and set(req.not_groups) & set(host.labels):
        return False
    if req.hosts and host.name not in req.hosts:
        return False
    if host.name in req.not_hosts:
        return False
    if host.cores < req.min_cores:
        return False
    if req.min_mem and host.mem < req.min_mem:
        return False
    if req.mem and host.mem < req.mem:
        return False
    if req.gpus and host.gpus < req.gpus:
        return False
    return True


def describe(req: Requirements) -> str:
    """The filters of a job, for messages: 'group=gpu notgroup=slow'."""
    parts = []
    for label, values in (("group", req.groups), ("notgroup", req.not_groups),
                          ("host", req.hosts), ("nothost", req.not_hosts)):
        if values:
            parts.append(f"{label}={','.join(values)}")
    for label, number in (("min_cores", req.min_cores), ("min_mem", req.min_mem),
                          ("mem", req.mem), ("gpus", req.gpus)):
        if number:
            parts.append(f"{label}={number:g}")
    return " ".join(parts)
