"""Big requests against a server that must keep answering, no sshd needed:

    python3 bench/bulk.py [--tasks 1000000] [--out FILE]

On a server whose one host is unreachable (so everything stays queued):
  * accept a --tasks array, while another client asks `stat` in a loop: the
    accept's wall time and the slowest concurrent `stat` answer
  * the server's RSS with them queued
  * `wq ls -e --json` of the array (into a file): wall time, and the server's
    peak RSS meanwhile
  * restart with them queued: from `wq serve` until a `stat` is answered, and
    until the whole queue is loaded (`wq users` answers), with the `stat` loop
  * `wq rm` of the array, then `wq clean` of its cancelled tasks, each with the
    same concurrent `stat` loop

Every figure is wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import settled, write_table  # noqa: E402
from tests.integration.sshd import WqServer  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.errors import WqError  # noqa: E402
from wq.protocol import messages as m  # noqa: E402

NOWHERE = ("hosts:\n  - {name: nowhere, address: 127.0.0.9, port: 9, cores: 4,"
           " connect_timeout: 1}\n")
SPEC = {"command": "true", "cwd": "/tmp", "env": {"PATH": "/usr/bin:/bin"}}


STAT_LOOP = """
import json, select, sys, time
from wq.client import Client
from wq.protocol import messages as m
times = []
while not select.select([sys.stdin], [], [], 0.02)[0]:
    began = time.perf_counter()
    with Client(sys.argv[1]) as client:
        client.request(m.Stat())
    times.append(1000 * (time.perf_counter() - began))
print(json.dumps(times))
"""


@contextmanager
def stat_loop(socket: str) -> Iterator[list[float]]:
    """Ask `stat` over and over from another process (as another user's `wq stat`
    would); yields the answer times (ms), filled in when the block ends."""
    times: list[float] = []
    proc = subprocess.Popen([sys.executable, "-c", STAT_LOOP, socket], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        yield times
    finally:
        out, _ = proc.communicate("stop\n", timeout=120)
        times += json.loads(out)


@contextmanager
def peak_rss(pid: int) -> Iterator[list[float]]:
    """Sample a process's RSS (MB) every 20 ms; yields [peak]."""
    peak = [0.0]
    stop = threading.Event()

    def loop() -> None:
        proc = psutil.Process(pid)
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
            stop.wait(0.02)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join(10)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = action()
    return 1000 * (time.perf_counter() - began), result


def spread(times: list[float]) -> str:
    """Answer times (ms): the median, the 99th percentile and the slowest."""
    ordered = sorted(times)
    return (f"p50 {ordered[len(ordered) // 2]:.1f}, p99 {ordered[int(0.99 * len(ordered))]:.1f},"
            f" max {ordered[-1]:.1f} ms ({len(ordered)} asked)")


def until_answered(socket: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Client(socket) as client:
                client.request(m.Stat())
            return
        except (WqError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    size = f"{args.tasks // 1000}k" if args.tasks % 1000 == 0 else str(args.tasks)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="wq-bulk-") as tmp:
        cluster = Path(tmp) / "cluster.yaml"
        cluster.write_text(NOWHERE)
        server = WqServer(Path(tmp) / "srv", cluster)
        try:
            server.start()
            with stat_loop(server.socket) as stats:
                took, reply = timed(lambda: Client(server.socket).request(
                    m.Submit(spec=SPEC, array=[1, args.tasks, 1])))
            assert reply["tasks"] == args.tasks, reply
            rows.append((f"accept a {size}-task array", f"{took:9.1f} ms"))
            rows.append(("  stat meanwhile", spread(stats)))
            assert server.proc is not None
            rss = psutil.Process(server.proc.pid).memory_info().rss / 2**20
            rows.append((f"server RSS, {size} queued", f"{rss:9.1f} MB"))
            listing = Path(tmp) / "listing.json"
            cpu = psutil.Process(server.proc.pid).cpu_times()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            with peak_rss(server.proc.pid) as peak, stat_loop(server.socket) as stats, \
                    listing.open("w") as out:
                took, result = timed(lambda: subprocess.run(
                    [sys.executable, "-m", "wq", "ls", "-e", "--json"], env=server.env,
                    stdout=out, stderr=subprocess.PIPE, text=True, timeout=900))
            after = psutil.Process(server.proc.pid).cpu_times()
            client = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert result.returncode == 0, result.stderr
            assert listing.stat().st_size > 100 * args.tasks
            rows.append((f"wq ls -e --json, {size} queued", f"{took:9.1f} ms"))
            rows.append(("  CPU: server, client", "{:9.1f} s, {:.1f} s".format(
                after.user + after.system - cpu.user - cpu.system,
                client.ru_utime + client.ru_stime - children.ru_utime - children.ru_stime)))
            rows.append(("  stat meanwhile", spread(stats)))
            rows.append(("  server peak RSS meanwhile", f"{peak[0]:9.1f} MB"))
            server.stop()
            began = time.perf_counter()
            server.start()
            until_answered(server.socket, 120)
            rows.append((f"restart to first answer, {size} queued",
                         f"{1000 * (time.perf_counter() - began):9.1f} ms"))
            with stat_loop(server.socket) as stats:
                result = server.wq("users", timeout=900)       # answered once all is in
            assert result.returncode == 0, result.stderr
            rows.append(("  ... until the whole queue is in",
                         f"{1000 * (time.perf_counter() - began):9.1f} ms"))
            rows.append(("  stat meanwhile", spread(stats)))
            with stat_loop(server.socket) as stats:
                took, result = timed(lambda: server.wq("rm", "1", timeout=900))
            assert result.returncode == 0, result.stderr
            rows.append((f"wq rm of the {size}-task array", f"{took:9.1f} ms"))
            rows.append(("  stat meanwhile", spread(stats)))
            with stat_loop(server.socket) as stats:
                took, result = timed(lambda: server.wq("clean", timeout=900))
            assert result.returncode == 0, result.stderr
            rows.append((f"wq clean of the {size} cancelled tasks", f"{took:9.1f} ms"))
            rows.append(("  stat meanwhile", spread(stats)))
            rows.append(("  then, once given back", settled(server)))
        finally:
            server.stop()
    write_table(f"wq with big requests: one {size}-task array, nothing running", rows,
                args.out)


if __name__ == "__main__":
    main()
