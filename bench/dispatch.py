"""Dispatch latency and throughput of short jobs, on this machine and over loopback sshd.

    python3 bench/dispatch.py [--jobs 200] [--latency 30]

Prints, for the embedded local default and for 3 sshd hosts x 2 cores on
127.0.0.2-4 (the test harness's hosts; needs root and sshd):
  * placed p50/p95: submission accepted -> job committed as running (the scheduler)
  * started p50/p95: submission sent -> the node's wrapper reports the job started
  * throughput: N `true` jobs submitted in one go, until the last has ended
Numbers are wall-clock on this machine; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.integration.conftest import ADDRESSES, cluster_yaml  # noqa: E402
from tests.integration.sshd import Keys, SshHost, WqServer, wait_for  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import events  # noqa: E402
from wq.protocol import messages as m  # noqa: E402


def spec(command: str) -> dict:
    return {"command": command, "cwd": "/tmp", "env": {"PATH": "/usr/bin:/bin"},
            "requirements": {"mode": "bycore"}}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def latency(server: WqServer, rounds: int) -> tuple[list[float], list[float]]:
    started, placed = [], []
    for _ in range(rounds):
        with Client(server.socket) as c:
            t0 = time.monotonic()
            job_id = c.request(m.Submit(spec=spec("true"), attach=True))["id"]
            for event in c.events():
                if isinstance(event, events.Started):
                    started.append((time.monotonic() - t0) * 1000)
        with Client(server.socket) as c:
            [row] = c.request(m.ListJobs(select=[str(job_id)], all=True))["jobs"]
        placed.append((row["started"] - row["submitted"]) * 1000)
    return started, placed


def throughput(server: WqServer, n: int) -> float:
    with Client(server.socket) as c:
        t0 = time.monotonic()
        ids = [c.request(m.Submit(spec=spec("true")))["id"] for _ in range(n)]

        def done() -> bool:
            rows = c.request(m.ListJobs(select=[str(i) for i in ids], all=True))["jobs"]
            return all(r["state"] == "done" for r in rows)
        wait_for(done, 600, "all jobs done", interval=0.05)
        return n / (time.monotonic() - t0)


def run(name: str, server: WqServer, args: argparse.Namespace) -> None:
    started, placed = latency(server, args.latency)
    rate = throughput(server, args.jobs)
    print(f"{name:<22} {pct(placed, 50):8.2f} {pct(placed, 95):8.2f} {pct(started, 50):9.1f} "
          f"{pct(started, 95):9.1f} {rate:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency", type=int, default=30)
    args = parser.parse_args()
    print(f"{'cluster':<22} {'placed50':>8} {'placed95':>8} {'started50':>9} {'started95':>9} "
          f"{'jobs/s':>10}   (ms; {args.jobs} jobs for the rate)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = WqServer(root / "local", None)
        local.start()
        try:
            run("local (2 cores)", local, args)
        finally:
            local.stop()
        keys = Keys(root / "keys")
        hosts = [SshHost(f"node{i}", a, root / f"node{i}", keys)
                 for i, a in enumerate(ADDRESSES, 1)]
        try:
            for h in hosts:
                h.start()
            keys.known_hosts.write_text("".join(h.host_key_line + "\n" for h in hosts))
            cluster = root / "cluster.yaml"
            cluster.write_text(cluster_yaml(keys, hosts))
            server = WqServer(root / "ssh", cluster)
            server.start()
            try:
                wait_for(lambda: "node3 is up" in "".join(server.log) and
                         "node1 is up" in "".join(server.log) and
                         "node2 is up" in "".join(server.log), 30, "hosts up")
                run("ssh 3 hosts x 2 cores", server, args)
            finally:
                server.stop()
        finally:
            for h in hosts:
                h.stop()


if __name__ == "__main__":
    main()
