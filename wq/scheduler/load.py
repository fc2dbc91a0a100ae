"""A host's own load against its limits: whether it takes new jobs, and how
loaded it is beyond wq's jobs (placement prefers the less loaded)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from wq.model import Host, Sample


@dataclass(frozen=True, slots=True)
class Assessment:
    over: str | None                    # why it takes no new job now (None: it may)
    other_load: float | None            # load average beyond wq's own jobs
    gpu_free: dict[int, float] | None   # GB free per GPU it may hand out, when measured


#: seconds: the kernel's 1-minute load average is an exponential average of
#: this time constant; wq's own share of it is averaged alike (`wq_share`)
LOAD_TAU = 60.0


def assess(host: Host, sample: Sample | None, used_cores: int,
           recent: float | None = None) -> Assessment:
    """`used_cores`: what wq's jobs hold there now; `recent`: wq's share of the load
    average (`wq_share`). wq's own load is the larger of the two."""
    if sample is None:
        return Assessment(None, None, None)
    ours = max(float(used_cores), recent or 0.0)
    other = None if sample.load is None else max(sample.load - ours, 0.0)
    over = None
    if host.max_load is not None and other is not None and other > host.max_load:
        over = (f"load {sample.load:.2f}, {other:.2f} beyond wq's jobs: over its "
                f"max_load {host.max_load:g}")
    elif host.min_free_mem is not None and sample.mem_free is not None \
            and sample.mem_free < host.min_free_mem:
        over = (f"{sample.mem_free:.1f} GB of memory available: under its "
                f"min_free_mem {host.min_free_mem:g}")
    gpu_free = None
    if sample.gpus:
        least = host.min_free_gpu_mem or 0.0
        gpu_free = {g.index: g.free for g in sample.gpus if g.free >= least}
    return Assessment(over, other, gpu_free)


def wq_share(last: float | None, used_cores: int, seconds: float) -> float:
    """wq's share of a host's load average, `seconds` after it was `last`, its jobs
    holding `used_cores` meanwhile: averaged as the kernel averages the load, so
    the load of jobs that just ended is not taken for somebody else's."""
    if last is None:
        return float(used_cores)
    decay = math.exp(-max(seconds, 0.0) / LOAD_TAU)
    return last * decay + used_cores * (1.0 - decay)
