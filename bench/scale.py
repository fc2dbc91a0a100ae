"""wq's latency and scale, on loopback sshd hosts:

    python3 bench/scale.py [--hosts 2] [--cores 4] [--tasks 100000] [--out FILE]

  * CLI start-up: `wq --help` and `wq ls` on an empty queue (wall, median of 10)
  * submit -> start on an idle cluster: a client submits one job, attached, and
    waits for its `started` event (the wrapper has started the job on the node);
    p50 and p90 of 50 jobs, one after another
  * accepting an array of --tasks tasks: one request, until its reply (the tasks
    are committed); the hosts are offline, so they all stay queued
  * with those queued: `wq ls` wall time (median of 5) and the server's RSS
  * dispatch with a deep queue (--deep N, default 100000): N separate jobs,
    then one N-task array, are put in the store while the server is stopped;
    once it has started and loaded them, the rate at which the first 2000 end
    (`true` jobs), then `wq stat` and `wq sub -b` latency (median of 5) as it
    goes on dispatching

Needs root and sshd, as bench/peers.py. Numbers are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import loopback, realistic_env, write_table  # noqa: E402
from tests.integration.sshd import WqServer  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import events  # noqa: E402
from wq.protocol import messages as m  # noqa: E402
from wq.store import Store  # noqa: E402

#: every job carries its submitter's environment: a realistic one (3 KB), not one variable
SPEC = {"command": "true", "cwd": "/tmp", "env": realistic_env()}


def wall(server: WqServer, *args: str, runs: int) -> float:
    """Median wall time of a wq command, in ms."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "wq", *args], env=server.env,
                                capture_output=True, text=True, timeout=60)
        times.append(1000 * (time.perf_counter() - began))
        if result.returncode != 0:
            raise SystemExit(f"wq {' '.join(args)} failed: {result.stderr}")
    return statistics.median(times)


def round_trip(server: WqServer, request: m.Request, runs: int) -> float:
    """Median time of one request from this process (connect, hello, the request,
    its reply), in ms: the server's share of a CLI command's time."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        with Client(server.socket) as client:
            client.request(request)
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def submit_to_start(server: WqServer, jobs: int) -> list[float]:
    latencies = []
    for _ in range(jobs):
        with Client(server.socket) as client:
            began = time.perf_counter()
            client.request(m.Submit(spec=SPEC, attach=True))
            for event in client.events():
                if isinstance(event, events.Started):
                    latencies.append(1000 * (time.perf_counter() - began))
                    break
            for _ in client.events():
                pass
    return sorted(latencies)


def deep_queue(server: WqServer, count: int, array: bool) -> list[tuple[str, str]]:
    """Stop the server, queue `count` jobs straight into its store (separate, or one
    array), start it again and measure dispatch and latency with them queued."""
    from wq import codec

    server.stop()
    store = Store(f"{server.state}/wq.db")
    spec = codec.spec_from_dict(SPEC)
    began = time.time()
    store.begin()
    if array:
        store.add_array("root", spec, began, [(i, None) for i in range(1, count + 1)], None)
    else:
        for _ in range(count):
            store.add_job("root", spec, began)
    store.commit()
    done_before = _done(store)
    store.close()
    size = f"{count // 1000}k" if count % 1000 == 0 else str(count)
    what = f"{size}-task array" if array else f"{size} separate jobs"
    server.start()
    server.wq("users", timeout=600)           # answered once the queue is loaded
    started = time.perf_counter()
    target = done_before + 2000
    store = Store(f"{server.state}/wq.db")
    try:
        while _done(store) < target:
            time.sleep(0.05)
    finally:
        store.close()
    rate = 2000 / (time.perf_counter() - started)
    stat = wall(server, "stat", runs=5)       # while it keeps dispatching
    sub = wall(server, "sub", "-b", "-c", "true", runs=5)
    stat_trip = round_trip(server, m.Stat(), runs=5)
    sub_trip = round_trip(server, m.Submit(spec=SPEC), runs=5)
    server.wq("rm", "all", timeout=600)
    return [(f"dispatch, {what}", f"{rate:7.1f} tasks/s"),
            (f"wq stat, {what}", f"{stat:7.1f} ms (of it the request: {stat_trip:.1f} ms)"),
            (f"wq sub -b, {what}", f"{sub:7.1f} ms (of it the request: {sub_trip:.1f} ms)")]


def _done(store: Store) -> int:
    row = store.db.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--deep", type=int, default=100_000,
                        help="jobs queued for the deep-queue dispatch figures (0: skip)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with loopback("scale", args.hosts, args.cores, 30) as bench:
        server = bench.server
        rows.append(("CLI start-up: wq --help", f"{wall(server, '--help', runs=10):7.1f} ms"))
        rows.append(("wq ls, empty queue", f"{wall(server, 'ls', runs=10):7.1f} ms"))
        latencies = submit_to_start(server, 50)
        rows.append(("submit -> start, idle cluster",
                     f"p50 {statistics.median(latencies):5.1f} ms, "
                     f"p90 {latencies[int(0.9 * len(latencies))]:5.1f} ms"))
        with Client(server.socket) as client:
            client.request(m.NodeState(hosts=[h.name for h in bench.hosts], offline=True))
            began = time.perf_counter()
            reply = client.request(m.Submit(spec=SPEC, array=[1, args.tasks, 1]))
            took = time.perf_counter() - began
        assert reply["tasks"] == args.tasks
        rows.append((f"accept a {args.tasks}-task array", f"{1000 * took:7.1f} ms"))
        rows.append((f"wq ls, {args.tasks} queued", f"{wall(server, 'ls', runs=5):7.1f} ms"))
        assert server.proc is not None
        rss = psutil.Process(server.proc.pid).memory_info().rss / 2**20
        rows.append((f"server RSS, {args.tasks} queued", f"{rss:7.1f} MB"))
        if args.deep:
            server.wq("rm", "all", timeout=600)
            server.wq("node", "online", *[h.name for h in bench.hosts])
            rows += deep_queue(server, args.deep, array=False)
            rows += deep_queue(server, args.deep, array=True)
    head = (f"wq latency and scale: {args.hosts} loopback sshd hosts x {args.cores} cores, "
            "stock ~/.bashrc")
    write_table(head, rows, args.out)


if __name__ == "__main__":
    main()
