"""ClusterView: what each host has free right now, as plain data.

Built from the cluster, the placements of running jobs and host states; a plan
works on a copy and takes from it as it places jobs.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wq.model import Cluster, Host, Placement, Requirements, Sample
from wq.scheduler import filters
from wq.scheduler.load import assess

#: kinds of job whose eligible hosts a view keeps (more: it starts again)
ELIGIBLE_KEPT = 1000


@dataclass(slots=True)
class HostUse:
    host: Host
    online: bool = True          # not drained by `wq node offline`
    up: bool = True              # reachable
    used_cores: int = 0
    used_mem: float = 0.0
    used_gpus: set[int] = field(default_factory=set)
    whole: bool = False          # taken whole by a bynode/bygroup job
    over: str | None = None      # over a limit on its own load: no new job (why)
    load: float | None = None    # its load average beyond wq's jobs, when sampled
    gpu_free: dict[int, float] | None = None    # GB free per GPU it may give, measured

    @property
    def usable(self) -> bool:
        return self.online and self.up and self.over is None

    @property
    def free_cores(self) -> int:
        return 0 if self.whole else max(self.host.cores - self.used_cores, 0)

    @property
    def free_mem(self) -> float:
        return 0.0 if self.whole else max(self.host.mem - self.used_mem, 0.0)

    @property
    def free_gpus(self) -> list[int]:
        """Free GPUs, those with the most free memory first when measured (a GPU
        measured under the host's min_free_gpu_mem is not free)."""
        if self.whole:
            return []
        ids = [i for i in range(self.host.gpus) if i not in self.used_gpus]
        free = self.gpu_free
        if free is None:
            return ids
        return sorted((i for i in ids if i in free), key=lambda i: (-free[i], i))

    @property
    def idle(self) -> bool:
        return not self.whole and self.used_cores == 0 and not self.used_gpus


class ClusterView:
    def __init__(self, uses: Iterable[HostUse],
                 licenses: Mapping[str, int] | None = None) -> None:
        self.uses: dict[str, HostUse] = {u.host.name: u for u in uses}
        self._free = sum(u.free_cores for u in self.uses.values() if u.usable)
        self._eligible: dict[Requirements, list[HostUse]] = {}
        self.licenses: dict[str, int] = dict(licenses or {})   # the cluster's counts
        self.licenses_used: Counter[str] = Counter()

    @classmethod
    def build(cls, cluster: Cluster, placements: Iterable[Placement] = (),
              offline: Iterable[str] = (), down: Iterable[str] = (),
              licenses_used: Iterable[tuple[str, int]] = (),
              samples: Mapping[str, Sample] | None = None,
              wq_load: Mapping[str, float] | None = None) -> ClusterView:
        """`licenses_used`: what running jobs hold of the cluster's resources (they
        may hold more than there is, after a `wq refresh` lowered a count);
        `samples`: hosts' own state, checked against their limits, counting as
        wq's own load its cores in use or `wq_load` (its recent average), the
        larger."""
        offline_set, down_set = set(offline), set(down)
        view = cls((HostUse(h, online=h.name not in offline_set, up=h.name not in down_set)
                    for h in cluster.hosts), dict(cluster.resources))
        for p in placements:
            view.take(p)
        view.take_licenses(licenses_used)
        for name, sample in (samples or {}).items():
            view.reassess(name, sample, (wq_load or {}).get(name))
        return view

    def reassess(self, name: str, sample: Sample, recent: float | None) -> None:
        """Check a host's own state against its limits again: a new sample, or the
        cores wq's jobs hold there changed (`recent`: wq's share of its load)."""
        use = self.uses.get(name)
        if use is None:
            return
        before = use.free_cores if use.usable else 0
        found = assess(use.host, sample, use.used_cores, recent)
        use.over, use.load, use.gpu_free = found.over, found.other_load, found.gpu_free
        self._free += (use.free_cores if use.usable else 0) - before

    def empty_like(self) -> ClusterView:
        """The same hosts, every one online, up and free, and every licence free:
        what could ever fit."""
        return ClusterView((HostUse(u.host) for u in self.uses.values()), self.licenses)

    def free_licenses(self, name: str) -> int:
        return max(self.licenses.get(name, 0) - self.licenses_used[name], 0)

    def has_licenses(self, wanted: Iterable[tuple[str, int]]) -> bool:
        return all(self.free_licenses(name) >= n for name, n in wanted)

    def take_licenses(self, wanted: Iterable[tuple[str, int]]) -> None:
        for name, n in wanted:
            self.licenses_used[name] += n

    def release_licenses(self, held: Iterable[tuple[str, int]]) -> None:
        for name, n in held:
            self.licenses_used[name] -= n
            if self.licenses_used[name] <= 0:
                del self.licenses_used[name]

    def copy(self) -> ClusterView:
        kept, self._eligible = self._eligible, {}      # (the copy finds its own)
        try:
            return copy.deepcopy(self)
        finally:
            self._eligible = kept

    def eligible(self, req: Requirements) -> list[HostUse]:
        """The hosts `req` may use at all, in cluster-file order (filters.eligible:
        it depends on the hosts alone, so it is worked out once per kind of job,
        not for every host at every placement)."""
        found = self._eligible.get(req)
        if found is None:
            if len(self._eligible) >= ELIGIBLE_KEPT:
                self._eligible.clear()
            found = self._eligible[req] = [u for u in self.uses.values()
                                           if filters.eligible(u.host, req)]
        return found

    def take(self, placement: Placement) -> None:
        for s in placement.slices:
            use = self.uses.get(s.host)
            if use is None:          # a host removed from the cluster file while in use
                continue
            before = use.free_cores
            use.used_cores += s.cores
            use.used_mem += s.mem
            use.used_gpus.update(s.gpu_ids)
            use.whole = use.whole or s.whole
            if use.usable:
                self._free += use.free_cores - before

    def release(self, placement: Placement) -> None:
        """Give back what `placement` took (a job ended)."""
        for s in placement.slices:
            use = self.uses.get(s.host)
            if use is None:
                continue
            before = use.free_cores
            use.used_cores -= s.cores
            use.used_mem -= s.mem
            use.used_gpus.difference_update(s.gpu_ids)
            if s.whole:
                use.whole = False
            if use.usable:
                self._free += use.free_cores - before

    def hosts(self) -> list[HostUse]:
        return list(self.uses.values())

    @property
    def free_cores(self) -> int:
        """Free cores on usable hosts (kept as placements are taken, not summed)."""
        return self._free
