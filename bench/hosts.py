"""The server with many hosts: how fast they come up, and whether requests stay
quick while it dispatches to all of them.

    python3 bench/hosts.py [--hosts 200] [--tasks 5000] [--out FILE]

On --hosts loopback sshd hosts of 1 core each (one sshd per host, 127.0.0.x and
on into 127.0.1.x):
  * hosts up: from the server's start until `wq stat` says every host is up
  * an array of --tasks `true` tasks, attached until its last ended: tasks/s and
    the server's CPU per task
  * meanwhile another client asks `stat` in a loop: p50, p99 and the slowest
    answer (each a new connection, as `wq stat` makes)

The hosts share this machine's cores with the server, which no real lab does,
and Linux's autogroup scheduling gives every session an equal share: the server
one, and each host's sshd sessions and each job one more, so that with 200
hosts busy the server would get a few per cent of a core and measure the
machine, not itself. So the server and this process get the priority of a
machine of their own (their autogroup's nice, -15); --no-priority leaves it.

Needs root and sshd, as bench/peers.py. Numbers are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import loopback, write_table  # noqa: E402
from bench.peers import run_wq  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import messages as m  # noqa: E402


def stat_loop(socket: str, stop: threading.Event, took: list[float]) -> None:
    while not stop.is_set():
        began = time.monotonic()
        with Client(socket) as client:
            client.request(m.Stat())
        took.append(time.monotonic() - began)


def prioritize(pid: int) -> None:
    """Give a process's autogroup (its session) the nice of -15."""
    with open(f"/proc/{pid}/autogroup", "w") as f:
        f.write("-15")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--no-priority", action="store_true",
                        help="leave the server's scheduling priority as it is")
    args = parser.parse_args()
    if not args.no_priority:
        prioritize(os.getpid())
    with loopback("hosts", args.hosts, 1, 40) as bench:
        assert bench.server.proc is not None
        if not args.no_priority:
            prioritize(bench.server.proc.pid)
        took: list[float] = []
        stop = threading.Event()
        asker = threading.Thread(target=stat_loop, args=(bench.server.socket, stop, took))
        asker.start()
        try:
            measured = run_wq(bench.server, args.tasks)
        finally:
            stop.set()
            asker.join()
    assert measured.server_cpu is not None
    ms = sorted(t * 1000 for t in took)
    rows = [("hosts up after the server started", f"{bench.up_after:8.2f} s"),
            (f"{args.tasks} `true` tasks", f"{args.tasks / measured.seconds:8.1f} tasks/s, "
             f"server CPU {measured.server_cpu / args.tasks * 1000:.3f} ms/task"),
            ("`stat` while dispatching", f"p50 {statistics.median(ms):.1f} ms, "
             f"p99 {ms[int(len(ms) * 0.99)]:.1f} ms, max {ms[-1]:.1f} ms "
             f"({len(ms)} asked)")]
    write_table(f"{args.hosts} loopback sshd hosts x 1 core"
                f"{', no priority' if args.no_priority else ''}", rows, args.out)


if __name__ == "__main__":
    main()
