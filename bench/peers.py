"""wq against its peers on the same loopback hosts: N `true` tasks, K hosts x C slots.

    python3 bench/peers.py [--tasks 2000] [--hosts 4] [--slots 4] [--runs 5]
                           [--out FILE] [--only wq,wq-slow,asyncssh,...]

Measured side by side, runs interleaved (one run of every system, then the
next round), and reported as the median rate with its spread (min-max):
  * wq            a wq server on the K sshd hosts; N jobs submitted, until all ended;
                  with the server's own CPU time per task (user + system)
  * wq-slow       the same on K more sshd hosts whose ~/.bashrc takes ~50 ms to
                  source (sshd's bash reads it for every command), as conda or
                  pyenv set-ups do
  * asyncssh      one connection per host, one channel per task, C at a time per
                  host: the floor for anything agentless that opens a channel per task
  * parallel      GNU parallel --sshloginfile, ssh with ControlMaster (apt-get install
                  parallel); skipped when missing
  * hyperqueue    HyperQueue's LocalCluster (pip install hyperqueue): a server and K
                  workers x C cores on this machine, no ssh at all; its completion is
                  seen through a last task that depends on the others (run_hyperqueue);
                  each task's output kept in files, its default, as wq keeps them;
                  skipped when missing
  * hyperqueue-quiet  the same with every task's output discarded
  * embedded      wq's embedded default: `wq serve` without a cluster file (this
                  machine, no ssh), as a new user first times it
  * tsp           Task Spooler (apt-get install task-spooler), as many slots as this
                  machine has cores, a `tsp` process per task; skipped when missing
  * xargs         `xargs -P CORES true`: the physical floor on this machine
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
from typing import NamedTuple
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import loopback, write_table  # noqa: E402
from tests.integration.sshd import STOCK_BASHRC, Keys, SshHost, WqServer  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import events  # noqa: E402
from wq.protocol import messages as m  # noqa: E402

SLOW_BASHRC = STOCK_BASHRC + "sleep 0.05   # like a conda or pyenv set-up\n"


class Measured(NamedTuple):
    seconds: float
    server_cpu: float | None = None     # the wq server's CPU seconds over the run


def run_wq(server: WqServer, tasks: int) -> Measured:
    """One array of `tasks` tasks (one request), attached until its last task ended."""
    spec = {"command": "true", "cwd": "/tmp", "env": {"PATH": "/usr/bin:/bin"}}
    assert server.proc is not None
    cpu = psutil.Process(server.proc.pid)
    with Client(server.socket) as client:
        before = cpu.cpu_times()
        began = time.monotonic()
        client.request(m.Submit(spec=spec, array=[1, tasks, 1], attach=True))
        counts: dict[str, int] = {}
        for event in client.events():
            if isinstance(event, (events.Task, events.ArrayEnd)):
                counts = event.counts
        took = time.monotonic() - began
        after = cpu.cpu_times()
    if counts.get("done") != tasks:
        raise SystemExit(f"wq: not every task ended done: {counts}")
    return Measured(took, after.user - before.user + after.system - before.system)


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


def run_hyperqueue(hosts: int, slots: int, tasks: int, root: Path, outputs: bool) -> float:
    """HyperQueue's LocalCluster, timed from submission until completion is seen.

    Its Python API waits by asking the server once a second (wait_for_jobs),
    which alone spreads a 5 s run over 4-6 s; its CLI's `hq submit --wait` is
    told at once, but the wheel ships no `hq`. So the job carries one more
    task that depends on all the others and writes to a FIFO this process is
    blocked reading: completion is seen within one more task's start, as wq's
    attached client hears its last task's end. The workers are warmed up first
    (a task on every core): start_worker returns before a worker has joined.
    `outputs`: each task's stdout and stderr go to files in the job's
    directory, HyperQueue's default, as wq keeps every job's; else nowhere."""
    from hyperqueue import Job, LocalCluster
    from hyperqueue.cluster import WorkerConfig

    fifo = root / f"hq-done-{time.monotonic_ns()}"
    os.mkfifo(fifo)
    with _quiet(), LocalCluster(server_dir=str(root / "hq")) as cluster:  # type: ignore[arg-type]
        for _ in range(hosts):
            cluster.start_worker(WorkerConfig(cores=slots))
        client = cluster.client()
        warm = Job()
        for _ in range(hosts * slots):
            warm.program(["sleep", "0.2"], stdout=None, stderr=None)
        client.wait_for_jobs([client.submit(warm)])
        workdir = root / f"hq-work-{time.monotonic_ns()}"
        workdir.mkdir()
        job = Job(default_workdir=workdir)
        work = [job.program(["true"]) if outputs else
                job.program(["true"], stdout=None, stderr=None) for _ in range(tasks)]
        job.program(["sh", "-c", f"echo done > {fifo}"], deps=work, stdout=None, stderr=None)
        began = time.monotonic()
        submitted = client.submit(job)
        with open(fifo) as done:                # (blocks until the last task opens it)
            done.read()
        took = time.monotonic() - began
        client.wait_for_jobs([submitted])
    fifo.unlink()
    return took


def run_embedded(root: Path, tasks: int) -> Measured:
    """wq's embedded default: a server with no cluster file (this machine), started
    afresh for each run."""
    here = root / f"embedded-{time.monotonic_ns()}"
    # its job directories (~/.cache/wq) on the file system Task Spooler writes to
    (here / "home").mkdir(parents=True)
    server = WqServer(here, None, env={"HOME": str(here / "home")})
    server.start()
    try:
        return run_wq(server, tasks)
    finally:
        server.stop()
        server.forget_node_dirs()


def run_tsp(root: Path, tasks: int) -> float:
    """Task Spooler: its own server (TS_SOCKET), one slot a core; from the first
    submission until the last task ended. Each task's output is kept in a file
    (in TMPDIR), its default, as wq keeps every job's."""
    here = root / f"tsp-{time.monotonic_ns()}"
    here.mkdir()
    env = {**os.environ, "TS_SOCKET": str(here / "tsp.sock"), "TMPDIR": str(here),
           "TS_MAXFINISHED": str(tasks + 10), "TS_SAVELIST": ""}
    tsp = shutil.which("tsp") or "ts"
    subprocess.run([tsp, "-S", str(os.cpu_count() or 1)], env=env, check=True)
    try:
        began = time.monotonic()
        for _ in range(tasks):
            subprocess.run([tsp, "true"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([tsp, "-w"], env=env, check=False)
        return time.monotonic() - began
    finally:
        subprocess.run([tsp, "-K"], env=env, check=False)


def run_xargs(tasks: int) -> float:
    began = time.monotonic()
    subprocess.run(["xargs", "-P", str(os.cpu_count() or 1), "-n", "1", "true"],
                   input="\n".join("x" for _ in range(tasks)), text=True, check=True)
    return time.monotonic() - began


def timed(measure: Callable[[], float]) -> Callable[[], Measured]:
    return lambda: Measured(measure())


class Series:
    """One system's runs."""

    def __init__(self, name: str, tasks: int) -> None:
        self.name, self.tasks = name, tasks
        self.runs: list[Measured] = []

    def rates(self) -> list[float]:
        return [self.tasks / r.seconds for r in self.runs]

    def median(self) -> float:
        return statistics.median(self.rates())

    def row(self) -> str:
        rates = self.rates()
        text = (f"{self.median():8.1f} tasks/s ({min(rates):.0f}-{max(rates):.0f}) "
                f"{1000 / self.median():6.2f} ms/task")
        cpu = [r.server_cpu for r in self.runs if r.server_cpu is not None]
        if cpu:
            text += f", server CPU {1000 * statistics.median(cpu) / self.tasks:.3f} ms/task"
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--only",
                        default="wq,wq-slow,asyncssh,parallel,hyperqueue,hyperqueue-quiet,embedded,"
                                "tsp,xargs",
                        help="which systems to measure (comma-separated)")
    args = parser.parse_args()
    chosen = args.only.split(",")
    with contextlib.ExitStack() as stack:
        bench = stack.enter_context(loopback("peers", args.hosts, args.slots, 20))
        slow = stack.enter_context(loopback("peers-slow", args.hosts, args.slots, 30,
                                            SLOW_BASHRC)) if "wq-slow" in chosen else None
        hosts, keys, root = bench.hosts, bench.keys, bench.root
        systems: list[tuple[str, str, Callable[[], Measured] | str]] = [
            ("wq", "wq", lambda: run_wq(bench.server, args.tasks)),
            ("wq-slow", "wq, a ~50 ms ~/.bashrc on the hosts",
             (lambda: run_wq(slow.server, args.tasks)) if slow else "not chosen"),
            ("asyncssh", "asyncssh, a channel per task",
             timed(lambda: run_asyncssh(hosts, keys, args.tasks, args.slots))),
            ("parallel", "GNU parallel + ControlMaster",
             timed(lambda: run_parallel(hosts, keys, args.tasks, args.slots, root))
             if shutil.which("parallel") else "skipped: apt-get install parallel"),
            ("hyperqueue", "HyperQueue LocalCluster (no ssh)",
             timed(lambda: run_hyperqueue(args.hosts, args.slots, args.tasks, root, True))
             if _has("hyperqueue") else "skipped: pip install hyperqueue"),
            ("hyperqueue-quiet", "HyperQueue, outputs discarded",
             timed(lambda: run_hyperqueue(args.hosts, args.slots, args.tasks, root, False))
             if _has("hyperqueue") else "skipped: pip install hyperqueue"),
            ("embedded", "wq embedded default (this machine)",
             lambda: run_embedded(root, args.tasks)),
            ("tsp", "Task Spooler (this machine)",
             timed(lambda: run_tsp(root, args.tasks))
             if shutil.which("tsp") or shutil.which("ts")
             else "skipped: apt-get install task-spooler"),
            ("xargs", "xargs -P cores (this machine)", timed(lambda: run_xargs(args.tasks))),
        ]
        series = {key: Series(name, args.tasks) for key, name, measure in systems
                  if key in chosen and not isinstance(measure, str)}
        for round_ in range(1, args.runs + 1):
            for key, name, measure in systems:
                if key in series and not isinstance(measure, str):
                    series[key].runs.append(measure())
                    print(f"round {round_}: {name:38} "
                          f"{args.tasks / series[key].runs[-1].seconds:8.1f} tasks/s",
                          file=sys.stderr)
    rows = [(name, series[key].row() if key in series else str(measure))
            for key, name, measure in systems if key in chosen]
    for a, b, what in (("wq", "hyperqueue", "wq / HyperQueue"),
                       ("wq", "hyperqueue-quiet", "wq / HyperQueue, outputs discarded"),
                       ("embedded", "tsp", "embedded / Task Spooler"),
                       ("wq-slow", "wq", "slow ~/.bashrc / stock")):
        if a in series and b in series:
            rows.append((what, f"{series[a].median() / series[b].median():8.2f}"))
    head = (f"{args.tasks} `true` tasks, {args.hosts} loopback sshd hosts x {args.slots} "
            f"slots, {os.cpu_count()} cores, median (min-max) of {args.runs} interleaved runs")
    write_table(head, rows, args.out)


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
