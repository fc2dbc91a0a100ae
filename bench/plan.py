"""The pure scheduler alone: one scheduling pass over a big queue on many hosts.

    python3 bench/plan.py [--hosts 500] [--jobs 1000000] [--classes 12] [--runs 5]

Synthetic hosts (32 cores, 128 GB, a few with 4 GPUs, labels) are filled by
running jobs; --jobs separate waiting jobs of --classes distinct requirements
(users, modes, labels, memory, GPUs) wait. Measured, median of --runs passes
(ms), each on a fresh copy of the view, as the server runs them:

  * one core frees up (nothing waiting fits in it but the 1-core jobs' class)
  * nothing is free at all
  * two whole hosts free up (a burst of job ends: many start)

The queue is passed as the server keeps it (scheduler.Waiting, maintained as
jobs come and go); building it is timed on its own. No I/O, no clock.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.builders import host, job  # noqa: E402
from wq.model import Cluster, Placement, Slice  # noqa: E402
from wq.scheduler import ClusterView, Waiting, plan  # noqa: E402


def requirements(classes: int, rng: random.Random) -> list[dict[str, object]]:
    shapes: list[dict[str, object]] = [
        {"n": 2}, {"n": 4, "mem": 8}, {"mode": "bycore1", "n": 8}, {"gpus": 1},
        {"n": 1, "groups": "fast"}, {"mode": "bynode", "n": 1}, {"n": 16, "mem": 64},
        {"n": 3, "not_groups": "slow"}, {"mode": "bycore1", "n": 2, "mem": 4},
        {"n": 1, "priority": 30}, {"n": 6}, {"n": 2, "groups": "slow"}]
    return [dict(shapes[i % len(shapes)]) for i in range(classes)]


def build(hosts: int, jobs: int, classes: int) -> tuple[ClusterView, Waiting, float]:
    rng = random.Random(7)
    names = [f"h{i:03d}" for i in range(hosts)]
    cluster = Cluster(tuple(host(n, cores=32, mem=128, gpus=4 if i % 25 == 0 else 0,
                                 labels=("fast",) if i % 3 == 0 else ("slow",))
                            for i, n in enumerate(names)))
    running = [Placement((Slice(n, 32, 0.0, tuple(range(4)) if i % 25 == 0 else ()),))
               for i, n in enumerate(names)]
    view = ClusterView.build(cluster, running)
    shapes = requirements(classes, rng)
    queue = [job(i + 1, user=f"u{i % 5}", submitted=float(i), **shapes[i % classes])
             for i in range(jobs)]
    began = time.perf_counter()
    waiting = Waiting()
    for j in queue:
        waiting.add(j)
    return view, waiting, time.perf_counter() - began


def free(view: ClusterView, name: str, cores: int) -> ClusterView:
    out = view.copy()
    out.release(Placement((Slice(name, cores, 0.0, ()),)))
    return out


def timed(waiting: Waiting, view: ClusterView, runs: int) -> tuple[float, int]:
    times, started = [], 0
    for _ in range(runs):
        copy = view.copy()
        began = time.perf_counter()
        started = len(plan(waiting, copy, now=1e9))
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--jobs", default="10000,100000,1000000",
                        help="waiting jobs, comma separated: one table each")
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    lines = []
    for jobs in (int(n) for n in args.jobs.split(",")):
        view, waiting, built = build(args.hosts, jobs, args.classes)
        lines.append(f"the pure scheduler: {args.hosts} hosts, {jobs} waiting jobs of "
                     f"{args.classes} classes; index built in {built:.2f} s "
                     f"({built / jobs * 1e6:.2f} us a job)")
        for label, shown in (("one core frees up", free(view, "h001", 1)),
                             ("nothing free", view),
                             ("two whole hosts free up",
                              free(free(view, "h001", 32), "h002", 32))):
            ms, started = timed(waiting, shown, args.runs)
            lines.append(f"  {label:28} {ms:9.2f} ms a pass ({started} started)")
        print("\n".join(lines[-4:]), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
