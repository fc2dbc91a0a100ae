"""What running a lab member's jobs through their launcher costs:

    sudo python3 bench/lab.py [--tasks 2000] [--hosts 4] [--slots 4] [--out FILE]

Needs root (it creates a Unix user, removed afterwards). On K loopback sshd
hosts, a lab server run by root takes --tasks `true` tasks as one array from
root (run by the server itself) and then from a member (run by the member's
launcher, started by a first job and warm): each array's wall time from
submission to its end, and the CPU the server and the launcher spent per task.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import write_table  # noqa: E402
from tests.integration.conftest import cluster_yaml  # noqa: E402
from tests.integration.sshd import Keys, SshHost, WqServer  # noqa: E402
from tests.integration.users import UnixUser, give_ssh, members_venv, unix_users  # noqa: E402


def cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def launcher_pid(user: UnixUser) -> int:
    for proc in psutil.process_iter(["uids", "cmdline"]):
        if proc.info["uids"] and proc.info["uids"].real == user.uid \
                and "launcher" in (proc.info["cmdline"] or []):
            return proc.pid
    raise SystemExit("the member's launcher is not running")


def run_array(run, tasks: int) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = run("sub", "--array", f"1-{tasks}", "-c", "true")
    if result.returncode != 0:
        raise SystemExit(f"the array failed: {result.stderr}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    if os.getuid() != 0:
        raise SystemExit("bench/lab.py needs root: it creates a Unix user for the member")
    root = Path(tempfile.mkdtemp(prefix="wq-lab-bench-"))
    shared = Path(tempfile.mkdtemp(prefix="wq-lab-bench-shared-", dir="/tmp"))
    shared.chmod(0o755)
    (shared / "keys").mkdir(mode=0o755)
    keys = Keys(root / "keys")
    hosts = [SshHost(f"node{i}", f"127.0.0.{40 + i}", root / f"node{i}", keys,
                     user_keys=shared / "keys") for i in range(1, args.hosts + 1)]
    rows: list[tuple[str, str]] = []
    with members_venv() as python, unix_users(python, "member") as made:
        member = made["member"]
        server = None
        try:
            for h in hosts:
                h.start()
            keys.known_hosts.write_text("".join(h.host_key_line + "\n" for h in hosts))
            give_ssh(member, shared / "keys",
                     [(h.name, h.address, h.port, h.host_key_line) for h in hosts])
            socket = shared / "sock" / "lab.sock"
            cluster = root / "cluster.yaml"
            cluster.write_text(cluster_yaml(keys, hosts, cores=args.slots, extra=(
                f"lab:\n  socket: {socket}\n  users: [{member.name}]\n")))
            server = WqServer(root / "wq", cluster)
            server.start()
            config = member.home / ".config" / "wq"
            config.mkdir(parents=True)
            (config / "client.yaml").write_text(f"socket: {socket}\noperator: root\n")
            for path in (config / "client.yaml", config, config.parent):
                os.chown(path, member.uid, member.gid)
            assert server.proc is not None
            warm = member.wq("sub", "-c", "true", timeout=120)      # its launcher starts
            if warm.returncode != 0:
                raise SystemExit(f"the member's first job failed: {warm.stderr}")
            server.wq("sub", "-c", "true")
            for who, run in (("the operator (the server itself)",
                              lambda *a: server.wq(*a, timeout=900)),
                             ("a member (their launcher)",
                              lambda *a: member.wq(*a, timeout=900))):
                launcher = launcher_pid(member)
                before = cpu(server.proc.pid), cpu(launcher)
                took = run_array(run, args.tasks)
                after = cpu(server.proc.pid), cpu(launcher)
                rows.append((f"{who}", f"{args.tasks / took:7.1f} tasks/s"))
                rows.append(("  server CPU a task",
                             f"{1000 * (after[0] - before[0]) / args.tasks:7.2f} ms"))
                rows.append(("  launcher CPU a task",
                             f"{1000 * (after[1] - before[1]) / args.tasks:7.2f} ms"))
        finally:
            if server is not None:
                server.stop()
            for h in hosts:
                h.stop()
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(shared, ignore_errors=True)
    head = (f"lab mode: {args.tasks} `true` tasks as one array, {args.hosts} loopback sshd "
            f"hosts x {args.slots} slots")
    write_table(head, rows, args.out)


if __name__ == "__main__":
    main()
