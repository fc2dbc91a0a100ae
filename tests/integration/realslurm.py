"""A real Slurm on loopback, the reference wq's Slurm commands are diffed against.

Debian's slurm-wlm and munge (scripts/test installs them): one `munged` on a
socket of its own, `slurmctld` and one `slurmd` per node, all in the
foreground, from a slurm.conf generated under a temporary directory (no
systemd, no cgroups, no accounting database: ../shared/notes/real-slurm.md).
Nodes are loopback addresses, as the sshd hosts are; each slurmd has a port
of its own, so that one machine holds them all. Clients reach it through
SLURM_CONF (`env()`); `stop()` ends the daemons it started, by pid.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.sshd import free_port, wait_for

DAEMONS = {"munged": "/usr/sbin/munged", "slurmctld": "/usr/sbin/slurmctld",
           "slurmd": "/usr/sbin/slurmd"}
CLIENTS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo", "sacct")
MUNGE_KEY = "/etc/munge/munge.key"
MEMORY = 4096                   # MB a node (as the sshd test hosts' `mem: 4`)


def missing() -> str | None:
    """Why a real Slurm cannot run here, or None."""
    if os.getuid() != 0:
        return "needs root to run a real Slurm's daemons (run the suite as root, as CI does)"
    for name, path in DAEMONS.items():
        if not os.access(path, os.X_OK):
            return f"needs {name} (Debian: apt-get install slurm-wlm munge; scripts/test does)"
    for name in CLIENTS:
        if shutil.which(name, path="/usr/bin") is None:
            return f"needs Slurm's {name} in /usr/bin (Debian's slurm-client)"
    for user in ("slurm", "munge"):
        if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
            return f"needs the {user} user (made by Debian's slurm-wlm and munge packages)"
    if not os.path.exists(MUNGE_KEY):
        return f"needs {MUNGE_KEY} (made by Debian's munge package)"
    return None


class RealSlurm:
    """A cluster `name` of nodes (name, loopback address, cpus) in one partition."""

    def __init__(self, base: Path, nodes: list[tuple[str, str, int]], name: str = "wqtest"):
        self.base, self.nodes, self.name = base, nodes, name
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.conf = base / "slurm.conf"

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(self.base),
                "LANG": "C.UTF-8", "SLURM_CONF": str(self.conf), **extra}

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """One of Slurm's own commands (`args[0]`, from /usr/bin)."""
        return subprocess.run([f"/usr/bin/{args[0]}", *args[1:]], capture_output=True,
                              text=True, timeout=timeout, cwd=str(cwd or self.base),
                              env=env or self.env())

    def start(self, timeout: float = 30) -> None:
        base = self.base
        for part in ("munge", "state", "spool", "log"):
            (base / part).mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        munge = base / "munge"
        munge.chmod(0o755)                     # (its socket must be reachable by all)
        shutil.copy(MUNGE_KEY, munge / "key")
        (munge / "key").chmod(0o400)
        shutil.chown(munge, "munge", "munge")
        shutil.chown(munge / "key", "munge", "munge")
        for part in ("state", "spool", "log"):
            shutil.chown(base / part, "slurm", "slurm")
        self._write_conf()
        self._spawn("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--clear-groups",
                               DAEMONS["munged"], "--foreground", f"--socket={munge}/sock",
                               f"--key-file={munge}/key", f"--pid-file={munge}/pid",
                               f"--log-file={munge}/log", f"--seed-file={munge}/seed"])
        wait_for(lambda: (munge / "sock").exists() or self._died(), timeout, "munged")
        self._spawn("slurmctld", [DAEMONS["slurmctld"], "-D", "-i", "-f", str(self.conf)])
        for node, _, _ in self.nodes:
            self._spawn(f"slurmd {node}", [DAEMONS["slurmd"], "-D", "-N", node,
                                           "-f", str(self.conf)])
        wait_for(lambda: self._idle() or self._died(), timeout, "the Slurm nodes to be idle")

    def _write_conf(self) -> None:
        base, host = self.base, socket.gethostname()
        ctld = "127.0.0.20"
        lines = [
            f"ClusterName={self.name}",
            f"SlurmctldHost={host}({ctld})",
            f"SlurmctldPort={free_port(ctld)}",
            "SlurmUser=slurm",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={base}/munge/sock",
            f"StateSaveLocation={base}/state",
            f"SlurmdSpoolDir={base}/spool/%n",
            f"SlurmctldPidFile={base}/slurmctld.pid",
            f"SlurmdPidFile={base}/slurmd-%n.pid",
            f"SlurmctldLogFile={base}/log/slurmctld.log",
            f"SlurmdLogFile={base}/log/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "ReturnToService=2",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            # (the main scheduler every second; no backfill pass in a test's life: one
            # plans idle nodes, `plnd`, and gives the jobs it starts a limit of 365
            # days rather than UNLIMITED, at moments no test can choose)
            "SchedulerParameters=sched_interval=1,bf_interval=3600",
            "MinJobAge=300",
        ]
        for node, address, cpus in self.nodes:
            lines.append(f"NodeName={node} NodeAddr={address} NodeHostname={host} "
                         f"Port={free_port(address)} CPUs={cpus} RealMemory={MEMORY} "
                         "State=UNKNOWN")
        names = ",".join(node for node, _, _ in self.nodes)
        lines.append(f"PartitionName=wq Nodes={names} Default=YES MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.base / "log" / f"{name.replace(' ', '-')}.out", "ab")
        with out:
            self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def _died(self) -> bool:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} ended (exit {proc.returncode}): {self.log(name)}")
        return False

    def log(self, name: str) -> str:
        path = self.base / "log" / f"{name.replace(' ', '-')}.out"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _idle(self) -> bool:
        shown = self.run("sinfo", "-h", "-N", "-o", "%N %T", timeout=10)
        states = dict(line.split() for line in shown.stdout.splitlines() if line.strip())
        return len(states) == len(self.nodes) and set(states.values()) == {"idle"}

    def wait_idle(self, timeout: float = 60) -> None:
        """Until no job of anyone's is queued or running."""
        wait_for(lambda: self.run("squeue", "-h", timeout=10).stdout.strip() == "", timeout,
                 "the real Slurm's queue to empty")

    def stop(self) -> None:
        """Cancel what is queued or running (so that no job step outlives its
        slurmd), then end the daemons."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            ids = self.run("squeue", "-h", "-o", "%A", timeout=10).stdout.split()
            if ids:
                self.run("scancel", *ids, timeout=10)
                try:
                    self.wait_idle(30)
                except TimeoutError:
                    pass                        # (stopped all the same)
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()


def real_slurm(nodes: list[tuple[str, str, int]], name: str = "wqtest") -> RealSlurm:
    """A RealSlurm in a fresh directory under /tmp (slurm and munge must reach it)."""
    return RealSlurm(Path(tempfile.mkdtemp(prefix="wq-slurm-", dir="/tmp")), nodes, name)

