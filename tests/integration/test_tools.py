"""Real workflow tools, installed from PyPI, driving wq unmodified on the sshd
test hosts: Snakemake through wq's profile (the cluster-generic plugin: `wq
sub --parsable`, `wq status`, `wq rm`) and through the Slurm shims (its slurm
plugin: sbatch, sacct, srun, scancel, ...), interrupted and across a server
restart; and dask-jobqueue's SLURMCluster."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import jobs
from tests.integration.sshd import WqServer, wait_for
from tests.integration.tools import tools_venv

WORKFLOW = Path(__file__).parents[1] / "data" / "workflow" / "Snakefile"
SLURM_ARGS = ("--executor", "slurm", "--jobs", "6", "--default-resources", "slurm_account=wq",
              "slurm_partition=wq", "runtime=10", "--slurm-init-seconds-before-status-checks",
              "1", "--seconds-between-status-checks", "1", "--latency-wait", "10")


@pytest.fixture(scope="module")
def tools() -> Path:
    return tools_venv()


class Workflow:
    """A copy of the test workflow, and how to run Snakemake on it against `server`."""

    def __init__(self, server: WqServer, tmp_path: Path, tools: Path) -> None:
        self.server, self.dir = server, tmp_path / "wf"
        self.dir.mkdir()
        shutil.copy(WORKFLOW, self.dir / "Snakefile")
        shims, profile = tmp_path / "shims", tmp_path / "profile"
        for args in (("slurm", "install", str(shims)), ("profile", "snakemake", str(profile))):
            assert server.wq(*args).returncode == 0
        self.profile = profile
        self.snakemake = str(tools / "snakemake")
        # Snakemake's venv, and no wq on the PATH: every command the profile and
        # the shims run names the wq that wrote them
        bare = [d for d in os.environ["PATH"].split(":") if d and not os.path.exists(
            os.path.join(d, "wq"))]
        self.env = {**server.env, "PATH": ":".join([str(shims), str(tools), *bare]),
                    "WQT_SLEEP": "0"}
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, sleep: float = 0) -> subprocess.Popen[str]:
        proc = subprocess.Popen([self.snakemake, *args], cwd=self.dir, text=True,
                                env={**self.env, "WQT_SLEEP": str(sleep)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        """Whatever of Snakemake a failed test left running (its group: the sidecar too)."""
        for proc in self.started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def run(self, *args: str, timeout: float = 240) -> tuple[int, str]:
        proc = self.start(*args)
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out

    def counts(self) -> list[str]:
        return (self.dir / "total.txt").read_text().splitlines()

    def live(self) -> list[dict]:
        result = self.server.wq("ls", "--json")
        return json.loads(result.stdout)


@pytest.fixture
def workflow(server, tmp_path, tools) -> Iterator[Workflow]:
    flow = Workflow(server, tmp_path, tools)
    try:
        yield flow
    finally:
        flow.stop()


def check_ran(flow: Workflow, code: int, out: str) -> None:
    assert code != 0, out                           # broken.txt failed, on purpose
    lines = flow.counts()
    assert [line.split()[:2] for line in lines] == \
        [[s, "threads=2"] for s in "abcdef"], out
    assert {line.split("host=")[1] for line in lines} <= {"node1", "node2", "node3"}
    failed = [j for j in jobs(flow.server, "-a").values() if j["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["exit"] != 0, failed      # (snakemake says 1)


def test_snakemake_through_wqs_profile(workflow):
    code, out = workflow.run("--profile", str(workflow.profile), "--keep-going",
                             "--seconds-between-status-checks", "1", "all", "broken.txt")
    check_ran(workflow, code, out)


def test_snakemake_through_the_slurm_shims(workflow):
    code, out = workflow.run(*SLURM_ARGS, "--keep-going", "all", "broken.txt")
    check_ran(workflow, code, out)
    assert "sbatch" in out or "SLURM" in out


# (TERM through the Slurm shims is left out: Snakemake then waits for its jobs
# by sacct, as in the full run above, behind its plugin's growing pause between
# checks, which made it the suite's longest test)
@pytest.mark.parametrize("how, sig", [
    ("profile", signal.SIGINT), ("profile", signal.SIGTERM), ("profile", signal.SIGKILL),
    ("slurm", signal.SIGINT)],
    ids=["profile-INT", "profile-TERM", "profile-KILL", "slurm-INT"])
def test_an_interrupted_snakemake_leaves_no_job_behind(workflow, how, sig):
    """INT (Ctrl-C, to the whole process group): Snakemake cancels. TERM: it
    waits for the jobs it has submitted, then exits. KILL of Snakemake alone:
    its wq session (the profile's sidecar) sees it go and the server cancels."""
    args = ("--profile", str(workflow.profile)) if how == "profile" else SLURM_ARGS
    proc = workflow.start(*args, "--seconds-between-status-checks", "1",
                          sleep=4 if sig == signal.SIGTERM else 120)
    def mid_run() -> bool:          # all six submitted; three running (two cores each)
        live = workflow.live()
        return len(live) == 6 and sum(j["state"] == "running" for j in live) >= 3 \
            and (how != "slurm" or told() == 6)

    def logged() -> str:
        return "".join(path.read_text() for path in
                       (workflow.dir / ".snakemake" / "log").glob("*.snakemake.log"))

    def told() -> int:              # the jobs Snakemake knows it submitted (an sbatch
        return logged().count("submitted with SLURM jobid")  # the server has answered
                                                             # may not be read yet)
    wait_for(mid_run, 120, "the six count jobs submitted, three of them running")
    if sig == signal.SIGKILL:
        proc.kill()
    elif sig == signal.SIGINT:                  # (Snakemake drops a Ctrl-C that comes
        def heard() -> bool:                    # while it writes a line of its log:
            return "Terminating processes on user request" in logged()   # press again)
        for _ in range(5):
            os.killpg(proc.pid, sig)
            with contextlib.suppress(TimeoutError):
                wait_for(heard, 5, "Snakemake to hear Ctrl-C")
                break
    else:
        os.killpg(proc.pid, sig)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode != 0 or sig == signal.SIGTERM, out
    try:
        wait_for(lambda: not workflow.live(), 60, "no job left waiting or running",
                 interval=0.2)
    except TimeoutError:
        raise AssertionError(f"{workflow.live()}\n{out}") from None
    states = {j["state"] for j in jobs(workflow.server, "-a").values()}
    assert states <= {"cancelled", "done"}, out
    if sig != signal.SIGTERM:
        assert "cancelled" in states, out


def test_a_workflow_survives_a_server_kill_and_restart(workflow):
    proc = workflow.start("--profile", str(workflow.profile),
                          "--seconds-between-status-checks", "1", sleep=3)
    wait_for(lambda: any(j["state"] == "running" for j in workflow.live()), 120,
             "a job to run")
    workflow.server.stop(signal.SIGKILL)
    workflow.server.start()
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    assert len(workflow.counts()) == 6


def test_dask_jobqueue_slurmcluster_scales_on_wq_and_computes(server, tmp_path, tools):
    shims = tmp_path / "shims"
    assert server.wq("slurm", "install", str(shims)).returncode == 0
    script = tmp_path / "dask_test.py"
    script.write_text(
        "import sys\n"
        "from dask_jobqueue import SLURMCluster\n"
        "from distributed import Client\n"
        "cluster = SLURMCluster(cores=1, memory='300MB', processes=1, walltime='00:10:00',\n"
        "                       scheduler_options={'host': '127.0.0.1'},\n"
        f"                       python=sys.executable, log_directory={str(tmp_path)!r})\n"
        "cluster.scale(3)\n"
        "client = Client(cluster)\n"
        "client.wait_for_workers(3, timeout=120)\n"
        "hosts = set(client.run(lambda: __import__('os').environ['WQ_HOST']).values())\n"
        "print('hosts', ','.join(sorted(hosts)))\n"
        "print('result', client.submit(sum, client.map(lambda x: x * x, range(100)))"
        ".result())\n"
        "client.close()\n"
        "cluster.close()\n")
    env = {**server.env, "PATH": f"{shims}:{tools}:{os.environ['PATH']}"}
    done = subprocess.run([str(tools / "python"), str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "result 328350" in done.stdout
    hosts = done.stdout.split("hosts ")[1].split()[0].split(",")
    assert set(hosts) <= {"node1", "node2", "node3"} and len(hosts) >= 2
    workers = [j for j in jobs(server, "-a").values() if j["name"] == "dask-worker"]
    assert len(workers) == 3
    wait_for(lambda: not json.loads(server.wq("ls", "--json").stdout), 60,
             "the workers to be gone")
