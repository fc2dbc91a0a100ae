"""Where srun's tasks go inside a job: pure, no I/O.

Slurm's srun in an allocation starts SLURM_NTASKS tasks (or -n of them) over
the job's nodes in blocks: node 0 takes as many as SLURM_TASKS_PER_NODE gives
it, then node 1, and so on, each task with its SLURM_PROCID (0..n-1),
SLURM_LOCALID (its index on its node) and SLURM_NODEID (its node's index).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wq.errors import ParseError


@dataclass(frozen=True, slots=True)
class Placed:
    """The tasks one node of the job runs."""
    node: int                       # SLURM_NODEID
    host: str
    tasks: tuple[int, ...]          # their SLURM_PROCIDs, in order (LOCALID: the index)


def counts(text: str, nodes: int) -> list[int]:
    """SLURM_TASKS_PER_NODE (2(x2),1) as a count a node; one a node when it says
    nothing."""
    if not text.strip():
        return [1] * nodes
    out: list[int] = []
    for part in text.split(","):
        found = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", part)
        if found is None:
            raise ParseError(f"SLURM_TASKS_PER_NODE: not Slurm's form: {text!r}")
        out += [int(found[1])] * int(found[2] or 1)
    if len(out) != nodes:
        raise ParseError(f"SLURM_TASKS_PER_NODE says {len(out)} nodes, the job has {nodes}")
    return out


def layout(hosts: list[str], per_node: list[int], ntasks: int | None,
           nodes: int | None) -> list[Placed]:
    """The job's `hosts` (SLURM_JOB_NODELIST, in order) taking `ntasks` tasks (None:
    as many as the job has) in blocks, on its first `nodes` hosts (None: all)."""
    if nodes is not None:
        if nodes > len(hosts):
            raise ParseError(f"-N {nodes}: the job has {len(hosts)} node(s)")
        hosts, per_node = hosts[:nodes], per_node[:nodes]
    room = sum(per_node)
    wanted = room if ntasks is None else ntasks
    if wanted > room:
        raise ParseError(f"-n {wanted}: the job's allocation holds {room} task(s) "
                         f"on {len(hosts)} node(s)")
    if nodes is not None and wanted < len(hosts):
        raise ParseError(f"-n {wanted} cannot spread over -N {nodes} nodes")
    out: list[Placed] = []
    task = 0
    for i, (host, room_here) in enumerate(zip(hosts, per_node, strict=False)):
        after = len(hosts) - i - 1 if nodes is not None else 0    # (each takes one)
        take = max(0, min(room_here, wanted - task - after))
        if take:
            out.append(Placed(i, host, tuple(range(task, task + take))))
            task += take
    return out
