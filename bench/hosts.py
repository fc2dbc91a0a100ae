"""The server with many hosts: how fast they come up, and whether requests stay
quick while it dispatches to all of them.

    python3 bench/hosts.py [--hosts 200] [--tasks 5000] [--out FILE]

On --hosts loopback sshd hosts of 1 core each (one sshd per host, 127.0.0.x and
on into 127.0.1.x):
  * hosts up: from the server's start until `wq stat` says every host is up
  * an array of --tasks `true` tasks, attached until its last ended: tasks/s and
    the server's CPU per task
  * `stat` asked in a loop by a process of its own (each a new connection, as
    `wq stat` makes; not a thread of this one, whose attached client holds
    the GIL as the events come): p50, p99 and the slowest answer, with the
    hosts idle first, then while the array runs

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
import contextlib
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import loopback, write_table  # noqa: E402
from bench.peers import run_wq  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import messages as m  # noqa: E402


def ask(socket: str) -> None:
    """The asking process: `stat` in a loop until its stdin ends, printing each
    answer's time in ms."""
    while not select.select([sys.stdin], [], [], 0)[0]:
        began = time.monotonic()
        with Client(socket) as client:
            client.request(m.Stat())
        print(f"{(time.monotonic() - began) * 1000:.2f}", flush=True)


@contextlib.contextmanager
def asking(socket: str) -> Iterator[list[float]]:
    """Answers' times (ms, sorted) while the block runs, filled in at its end."""
    proc = subprocess.Popen([sys.executable, __file__, "--ask", socket], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    took: list[float] = []
    try:
        yield took
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        out = proc.stdout.read()
        proc.wait(60)
        took.extend(sorted(float(line) for line in out.split()))


def spread(ms: list[float]) -> str:
    return (f"p50 {statistics.median(ms):.1f} ms, p99 {ms[int(len(ms) * 0.99)]:.1f} ms, "
            f"max {ms[-1]:.1f} ms ({len(ms)} asked)")


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
    parser.add_argument("--ask", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ask:
        return ask(args.ask)
    if not args.no_priority:
        prioritize(os.getpid())
    with loopback("hosts", args.hosts, 1, 40) as bench:
        assert bench.server.proc is not None
        if not args.no_priority:
            prioritize(bench.server.proc.pid)
        with asking(bench.server.socket) as idle:
            time.sleep(5)
        with asking(bench.server.socket) as busy:
            measured = run_wq(bench.server, args.tasks)
    assert measured.server_cpu is not None
    rows = [("hosts up after the server started", f"{bench.up_after:8.2f} s"),
            (f"{args.tasks} `true` tasks", f"{args.tasks / measured.seconds:8.1f} tasks/s, "
             f"server CPU {measured.server_cpu / args.tasks * 1000:.3f} ms/task"),
            ("`stat`, the hosts idle", spread(idle)),
            ("`stat` while dispatching", spread(busy))]
    write_table(f"{args.hosts} loopback sshd hosts x 1 core"
                f"{', no priority' if args.no_priority else ''}", rows, args.out)


if __name__ == "__main__":
    main()
