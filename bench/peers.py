"""wq against its peers on the same loopback hosts: N `true` tasks, K hosts x C slots.

    python3 bench/peers.py [--tasks 2000] [--hosts 4] [--slots 4] [--runs 3]
                           [--slow-bashrc] [--out FILE] [--only wq,asyncssh,...]

Measured side by side, in this run, medians of --runs:
  * wq            a wq server on the K sshd hosts; N jobs submitted, until all ended
  * asyncssh      one connection per host, one channel per task, C at a time per
                  host: the floor for anything agentless that opens a channel per task
  * parallel      GNU parallel --sshloginfile, ssh with ControlMaster (apt-get install
                  parallel); skipped when missing
  * hyperqueue    HyperQueue's LocalCluster (pip install hyperqueue): a server and K
                  workers x C cores on this machine, no ssh at all; skipped when missing
  * embedded      wq's embedded default: `wq serve` without a cluster file (this
                  machine, no ssh), as a new user first times it
  * tsp           Task Spooler (apt-get install task-spooler), as many slots as this
                  machine has cores, a `tsp` process per task; skipped when missing
  * xargs         `xargs -P CORES true`: the physical floor on this machine
--slow-bashrc gives the hosts' shells a ~/.bashrc that takes ~50 ms to source
(sshd's bash reads it for every command), as conda or pyenv set-ups do.
Needs root (each sshd runs in a mount namespace with its own ~/.bashrc) and sshd.
Numbers are wall-clock on this machine; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import loopback, write_table  # noqa: E402
from tests.integration.sshd import STOCK_BASHRC, Keys, SshHost, WqServer  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import events  # noqa: E402
from wq.protocol import messages as m  # noqa: E402

SLOW_BASHRC = STOCK_BASHRC + "sleep 0.05   # like a conda or pyenv set-up\n"


def run_wq(server: WqServer, tasks: int) -> float:
    """One array of `tasks` tasks (one request), attached until its last task ended."""
    spec = {"command": "true", "cwd": "/tmp", "env": {"PATH": "/usr/bin:/bin"}}
    with Client(server.socket) as client:
        began = time.monotonic()
        client.request(m.Submit(spec=spec, array=[1, tasks, 1], attach=True))
        counts: dict[str, int] = {}
        for event in client.events():
            if isinstance(event, (events.Task, events.ArrayEnd)):
                counts = event.counts
        took = time.monotonic() - began
    if counts.get("done") != tasks:
        raise SystemExit(f"wq: not every task ended done: {counts}")
    return took


def run_asyncssh(hosts: list[SshHost], keys: Keys, tasks: int, slots: int) -> float:
    import asyncssh

    async def main() -> float:
        conns = [await asyncssh.connect(h.address, port=h.port, known_hosts=str(keys.known_hosts),
                                        client_keys=[str(keys.identity)], config=[])
                 for h in hosts]
        began = time.monotonic()
        left = iter(range(tasks))

        async def worker(conn: asyncssh.SSHClientConnection) -> None:
            for _ in left:
                await conn.run("true", check=True)
        await asyncio.gather(*(worker(c) for c in conns for _ in range(slots)))
        took = time.monotonic() - began
        for conn in conns:
            conn.close()
        return took
    return asyncio.run(main())


def run_parallel(hosts: list[SshHost], keys: Keys, tasks: int, slots: int, root: Path) -> float:
    config = root / "parallel_ssh_config"
    config.write_text("".join(
        f"Host {h.name}\n  HostName {h.address}\n  Port {h.port}\n  User root\n"
        f"  IdentityFile {keys.identity}\n  UserKnownHostsFile {keys.known_hosts}\n"
        f"  StrictHostKeyChecking yes\n  ControlMaster auto\n"
        f"  ControlPath {root}/cm-%C\n  ControlPersist 120\n" for h in hosts))
    for h in hosts:                       # the masters are up before the clock starts
        subprocess.run(["ssh", "-F", str(config), h.name, "true"], check=True, timeout=30)
    logins = root / "sshlogins"
    logins.write_text("".join(f"{slots}/{h.name}\n" for h in hosts))
    began = time.monotonic()
    subprocess.run(["parallel", "--sshloginfile", str(logins), "--ssh", f"ssh -F {config}",
                    "true", ":::", *map(str, range(tasks))], check=True,
                   stdout=subprocess.DEVNULL, timeout=3600)
    return time.monotonic() - began


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence file descriptors 1 and 2 (HyperQueue draws progress bars and tables)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def run_hyperqueue(hosts: int, slots: int, tasks: int, root: Path) -> float:
    from hyperqueue import Job, LocalCluster
    from hyperqueue.cluster import WorkerConfig

    with _quiet(), LocalCluster(server_dir=str(root / "hq")) as cluster:  # type: ignore[arg-type]
        for _ in range(hosts):
            cluster.start_worker(WorkerConfig(cores=slots))
        client = cluster.client()
        job = Job()
        for _ in range(tasks):
            job.program(["true"], stdout=None, stderr=None)
        began = time.monotonic()
        submitted = client.submit(job)
        client.wait_for_jobs([submitted])
        took = time.monotonic() - began
    return took


def run_embedded(root: Path, tasks: int) -> float:
    """wq's embedded default: a server with no cluster file (this machine)."""
    server = WqServer(root / f"embedded-{time.monotonic_ns()}", None)
    server.start()
    try:
        return run_wq(server, tasks)
    finally:
        server.stop()


def run_tsp(root: Path, tasks: int) -> float:
    """Task Spooler: its own server (TS_SOCKET), one slot a core; from the first
    submission until the last task ended."""
    env = {**os.environ, "TS_SOCKET": str(root / f"tsp-{time.monotonic_ns()}.sock"),
           "TS_MAXFINISHED": str(tasks + 10), "TS_SAVELIST": ""}
    tsp = shutil.which("tsp") or "ts"
    subprocess.run([tsp, "-S", str(os.cpu_count() or 1)], env=env, check=True)
    try:
        began = time.monotonic()
        for _ in range(tasks):
            subprocess.run([tsp, "-n", "true"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([tsp, "-w"], env=env, check=False)
        return time.monotonic() - began
    finally:
        subprocess.run([tsp, "-K"], env=env, check=False)


def run_xargs(tasks: int) -> float:
    began = time.monotonic()
    subprocess.run(["xargs", "-P", str(os.cpu_count() or 1), "-n", "1", "true"],
                   input="\n".join("x" for _ in range(tasks)), text=True, check=True)
    return time.monotonic() - began


def median_rate(measure: Callable[[], float], tasks: int, runs: int) -> tuple[float, float]:
    seconds = statistics.median(measure() for _ in range(runs))
    return tasks / seconds, 1000 * seconds / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow-bashrc", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--only",
                        default="wq,asyncssh,parallel,hyperqueue,embedded,tsp,xargs",
                        help="which systems to measure (comma-separated)")
    args = parser.parse_args()
    bashrc = SLOW_BASHRC if args.slow_bashrc else STOCK_BASHRC
    rows: list[tuple[str, str]] = []
    with loopback("peers", args.hosts, args.slots, 20, bashrc) as bench:
        hosts, keys, root, server = bench.hosts, bench.keys, bench.root, bench.server
        systems: list[tuple[str, str, Callable[[], float] | str]] = [
            ("wq", "wq", lambda: run_wq(server, args.tasks)),
            ("asyncssh", "asyncssh, a channel per task",
             lambda: run_asyncssh(hosts, keys, args.tasks, args.slots)),
            ("parallel", "GNU parallel + ControlMaster",
             (lambda: run_parallel(hosts, keys, args.tasks, args.slots, root))
             if shutil.which("parallel") else "skipped: apt-get install parallel"),
            ("hyperqueue", "HyperQueue LocalCluster (no ssh)",
             (lambda: run_hyperqueue(args.hosts, args.slots, args.tasks, root))
             if _has("hyperqueue") else "skipped: pip install hyperqueue"),
            ("embedded", "wq embedded default (this machine)",
             lambda: run_embedded(root, args.tasks)),
            ("tsp", "Task Spooler (this machine)",
             (lambda: run_tsp(root, args.tasks))
             if shutil.which("tsp") or shutil.which("ts")
             else "skipped: apt-get install task-spooler"),
            ("xargs", "xargs -P cores (this machine)", lambda: run_xargs(args.tasks)),
        ]
        chosen = args.only.split(",")
        for key, name, measure in systems:
            if key not in chosen:
                continue
            if isinstance(measure, str):
                rows.append((name, measure))
                continue
            rate, per_task = median_rate(measure, args.tasks, args.runs)
            rows.append((name, f"{rate:8.1f} tasks/s {per_task:7.2f} ms/task"))
            print(f"{name:34} {rows[-1][1]}", file=sys.stderr)
    shell = "a ~50 ms ~/.bashrc" if args.slow_bashrc else "a stock ~/.bashrc"
    head = (f"{args.tasks} `true` tasks, {args.hosts} loopback sshd hosts x {args.slots} "
            f"slots, {shell}, median of {args.runs} runs")
    write_table(head, rows, args.out)


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
