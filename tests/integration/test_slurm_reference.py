"""wq's Slurm commands diffed against a real Slurm.

One corpus of sbatch invocations (CASES) runs on a real Slurm
(tests/integration/realslurm.py: nodes node1-3 of 2 CPUs on loopback) and on
wq's commands over a server whose sshd hosts have the same names and cores.
Each side runs the whole corpus once (module fixtures, both sides at once),
and the test of each case compares what a client can observe: sbatch's exit
code and the form of its output, the `SLURM_*` environment inside the job,
the output files' names and contents, and the state and exit code `scontrol
show job` reports. QUERIES, asked of both about one scenario, are compared
field by field.
A case whose observations differ must be one of DIVERGENT, each a row of
docs/slurm.md's "Differences from Slurm", with its reason; a case listed there
that has come to match fails too, so that the list stays true.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import cluster_yaml
from tests.integration.realslurm import missing, real_slurm
from tests.integration.sshd import Keys, SshHost, WqServer, wait_for
from tests.integration.users import REPO
from wq.parsing import hostlist

#: the environment compared (what job scripts and tools read)
KEYS = ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_STEP", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_CPUS_PER_TASK",
        "SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_JOB_NUM_NODES", "SLURM_NNODES",
        "SLURM_SUBMIT_DIR", "SLURM_JOB_NAME", "SLURM_CPUS_ON_NODE", "SLURM_MEM_PER_NODE",
        "SLURM_MEM_PER_CPU", "SLURM_JOB_CPUS_PER_NODE", "SLURM_TASKS_PER_NODE",
        "SLURM_NTASKS_PER_NODE", "SLURM_PROCID", "SLURM_JOB_USER", "SLURM_CLUSTER_NAME")
#: what each job prints: the environment above, then the case's own lines
SHOW = "env | grep '^SLURM_' | sort"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]                # sbatch's, before --wrap
    command: str = ""                    # after the environment, in the job
    files: tuple[str, ...] = ()          # (made in the case's directory before sbatch)
    cancel: bool = False                 # cancelled once submitted (it would wait for ever)


CASES = [
    # (first: a real sbatch --wait polls after 2 s, then 8 more, then 32 more; a
    # real Slurm sends --signal at its pass every 30 s: their jobs start at once)
    Case("wait", ("--wait",), "exit 2"),
    # (a real slurmstepd follows the signal with CONT, and writes an error into
    # the output when the shell is gone by then: the traps linger a little. It
    # signals a step's processes one by one, in no set order: had the step's
    # `sleep` not ignored USR1, its death could end the shell's wait first; and
    # the step lasts as long as the `sleep` holds its output, so the trap kills it)
    Case("signal ahead of the limit to the steps", ("-t", "1", "--signal=USR1@55"),
         "srun sh -c 'trap \"\" USR1; sleep 100 & s=$!; "
         "trap \"echo step got; kill $s; sleep 0.5; exit 0\" USR1; wait; echo no signal'; "
         "echo rc=$?"),
    Case("signal ahead of the limit to the batch shell", ("-t", "1", "--signal=B:USR1@55"),
         "sleep 100 & s=$!; trap 'echo batch got; kill $s; sleep 0.5; exit 0' USR1; wait; "
         "echo no signal"),
    Case("plain", ()),
    Case("name and output pattern", ("-J", "named", "-o", "out-%x-%j.txt")),
    Case("cpus per task", ("-c", "2")),
    Case("tasks", ("-n", "2")),
    Case("tasks on two nodes", ("-N", "2", "-n", "2")),
    Case("tasks per node", ("-N", "2", "--ntasks-per-node", "2")),
    Case("nodes alone", ("-N", "2")),
    Case("tasks of two cores over nodes", ("-N", "2", "-n", "2", "-c", "2")),
    Case("three tasks", ("-n", "3")),
    Case("exclusive", ("--exclusive",)),
    Case("exclusive nodes", ("-N", "2", "--exclusive")),
    Case("memory", ("--mem", "100M")),
    Case("memory per cpu", ("-c", "2", "--mem-per-cpu", "50")),
    Case("Slurm's commands inside a job", (), "scontrol show job $SLURM_JOB_ID | grep -o "
                                              "'JobState=[^ ]*'"),
    Case("time in minutes", ("-t", "10")),
    Case("time as M:S", ("-t", "1:30")),
    Case("time as D-H", ("-t", "1-0")),
    Case("time as H:M:S", ("-t", "2:00:00")),
    Case("more nodes than there are", ("-N", "5"), cancel=True),
    Case("array", ("--array", "1-3", "-o", "a-%A_%a.out")),
    Case("array with a step and a limit", ("--array", "1-5:2%1", "-o", "s-%A_%a.out")),
    Case("array list", ("--array", "1,4", "-o", "l-%A_%a.out")),
    Case("exit status", (), "exit 3"),
    Case("chdir", ("-D", "sub"), "pwd", files=("sub/",)),
    Case("separate error file", ("-o", "o-%j.txt", "-e", "e-%j.txt"), "echo oops >&2"),
    Case("error file alone", ("-e", "err-%j.txt"), "echo out; echo err >&2"),
    Case("output patterns", ("-J", "pat", "-o", "p-%x-%u-%n-%t-%j.out")),
    Case("after any", ("-d", "afterany:{exit}"), "echo after"),
    Case("after not ok", ("-d", "afternotok:{exit}"), "echo after"),
    Case("after ok", ("-d", "afterok:{plain}"), "echo after"),
    Case("input file", ("-i", "in.txt"), "cat; echo read", files=("in.txt",)),
    Case("user environment and requeue flags", ("--get-user-env", "--requeue")),
    Case("never requeued", ("--no-requeue", "-J", "nr")),
    Case("singleton, first", ("-J", "single"), "sleep 1"),
    Case("singleton", ("-J", "single", "-d", "singleton")),
    Case("export none but one", ("--export", "NONE,REF_A=1"), 'echo "a=${REF_A-unset}"'),
    Case("export all and one", ("--export", "ALL,REF_B=2"), 'echo "b=${REF_B-unset}"'),
    Case("open mode append", ("--open-mode=append",)),
    Case("mail and comment", ("--mail-type=END", "--comment", "a note")),
    Case("test only", ("--test-only",)),
    Case("tasks per node alone", ("--ntasks-per-node", "2")),
    Case("tasks of two cores", ("-n", "2", "-c", "2")),
    Case("time as D-H:M", ("-t", "0-1:30")),
    Case("a gpu", ("--gres=gpu:1",)),
    Case("a later start", ("--begin=now+1hour",), cancel=True),
    Case("squeue inside a job", (), "squeue -h -j $SLURM_JOB_ID -o %T"),
    Case("srun over two nodes", ("-N", "2", "--ntasks-per-node", "2"),
         "srun sh -c 'echo $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_NTASKS' | sort"),
    Case("srun of fewer tasks", ("-n", "2"),
         "srun -n 1 sh -c 'echo $SLURM_PROCID $SLURM_NTASKS'; srun sh -c 'exit 3'; "
         "echo rc=$?"),
    Case("sbatch inside a job", (), "sbatch --parsable -J inner -o inner.out --wrap "
         "'echo inner' | grep -c '^[0-9]*$'; scontrol show job $SLURM_JOB_ID | "
         "grep -o 'Restarts=[0-9]*'"),
    Case("held", ("-H",), cancel=True),
]
#: what a case's arguments may name: {exit} is the id of that case's job
REFERENCES = {"exit": "exit status", "plain": "plain"}

#: cases where wq differs from Slurm, each with docs/slurm.md's row for it
DIVERGENT: dict[str, str] = {
    "more nodes than there are": "a job that can never fit",
    "a later start": "a later start (--begin)",
    "input file": "standard input from a file (-i)",
}


#: the query scenario, run once the corpus has ended: (name, sbatch's arguments,
#: --wrap's command or None for SCRIPT); {run} is the id of the job named run
SCENARIO = (("run", ("-J", "run", "-t", "10"), "sleep 300"),
            ("dep", ("-J", "dep", "-d", "afterok:{run}"), "true"),
            ("arr", ("-J", "arr", "--array", "1-6%1", "-t", "1:30"), "sleep 300"),
            ("sc", ("-J", "sc"), None),
            ("held", ("-J", "held", "-H", "-t", "10"), "true"),
            ("victim", ("-J", "victim", "-d", "afterok:{run}"), "true"))
SCRIPT = "#!/bin/sh\n#SBATCH -t 5\nsleep 300\n"
#: what `squeue -h -r -o %j|%T` shows (sorted) once the scenario has settled
SETTLED = sorted(["run|RUNNING", "dep|PENDING", "arr|RUNNING", *["arr|PENDING"] * 5,
                  "sc|RUNNING", "held|PENDING", "victim|PENDING"])


@dataclass(frozen=True)
class Query:
    command: str                         # {run}: the id of that job of the scenario
    ids: tuple[int, ...] = ()            # the columns (|-separated) that hold job ids
    keys: tuple[str, ...] = ()           # scontrol's: the Key=Value fields compared
    idle: bool = False                   # asked before the scenario, all nodes idle
    act: bool = False                    # changes the scenario: asked first, in order,
                                         # and its first line of errors compared too


QUERIES = [
    # (the running and the dependent job are left as they are: Slurm resets the
    # reason of a job it updates or releases, and says a running job it was asked
    # to hold is JobHeldAdmin, until its next pass; root's hold is an admin's)
    Query("scontrol update JobId={held} TimeLimit=1:00:00", act=True),
    Query("scontrol update JobId={held} TimeLimit=bogus", act=True),
    Query("scontrol hold 999999", act=True),
    Query("scontrol release 999999", act=True),
    Query("scontrol requeue {dep}", act=True),
    Query("scancel -s USR1 {sc}", act=True),         # (a job without steps: nothing)
    Query("scancel -b -s CONT {run}", act=True),
    Query("scancel -n nosuch", act=True),
    Query("scancel -u nosuchuser", act=True),
    Query("scancel -t BOGUS -n victim", act=True),
    Query("scancel --state=RUNNING -n victim", act=True),
    Query("scancel -t PENDING -u root -n victim", act=True),      # (then it is gone)
    Query("sinfo -h", idle=True),
    Query("sinfo -h -N", idle=True),
    Query("sinfo -h -o %P|%a|%l|%D|%t|%N|%c|%C", idle=True),
    Query("sinfo -h -N -o %N|%c|%t|%m", idle=True),
    Query("sinfo -h -p wq", idle=True),
    Query("sinfo -h -p nosuch", idle=True),
    Query("scontrol show hostnames node[1-3]", idle=True),
    Query("scontrol show partition", idle=True,
          keys=("PartitionName", "Default", "MaxTime", "State", "Nodes", "TotalCPUs",
                "TotalNodes")),
    Query("scontrol show node node1", idle=True,
          keys=("NodeName", "CPUAlloc", "CPUTot", "RealMemory", "State", "Partitions", "Gres")),
    Query("squeue -h -o %i|%F|%T|%r|%l|%j|%D|%C|%K|%a|%t|%P", ids=(0, 1)),
    Query("squeue -h -r -o %i|%F|%T|%r|%K", ids=(0, 1)),
    Query("squeue -h -o %A|%i|%R", ids=(0, 1, 2)),
    Query("squeue -h -O JobID,ArrayJobID,ArrayTaskID,State,Reason,TimeLimit", ids=(0, 1)),
    Query("squeue -h -t PD -o %i|%r", ids=(0,)),
    Query("squeue -h -t R -o %i|%D|%N", ids=(0,)),
    Query("squeue -h -j {arr} -o %i|%T", ids=(0,)),
    Query("squeue -h -j {arr}_2 -o %i|%T", ids=(0,)),
    Query("squeue -h -n run,dep -o %i|%j", ids=(0,)),
    Query("squeue -h --me -o %i", ids=(0,)),
    Query("squeue --start", ids=(0,)),
    Query("squeue --start -h -o %i|%j|%S|%r|%Y", ids=(0,)),
    *(Query(f"scontrol show job {{{name}}}",
            keys=("JobId", "ArrayJobId", "ArrayTaskId", "ArrayTaskThrottle", "JobName",
                  "UserId", "JobState", "Reason", "Dependency", "TimeLimit", "NumNodes",
                  "NumCPUs",
                  "NumTasks", "CPUs/Task", "Partition", "BatchFlag", "WorkDir", "Command"))
      for name in ("run", "dep", "arr", "sc")),
]
#: queries where wq differs from Slurm, each with docs/slurm.md's row for it
DIVERGENT_QUERIES: dict[str, str] = {}


@dataclass
class Observed:
    sbatch: tuple[int, str]                 # exit code, output's form
    env: dict[str, str]                     # KEYS inside the (first) job, normalized
    files: dict[str, str]                   # name -> lines other than the environment
    state: str                              # scontrol's JobState and ExitCode


class Side:
    """One side of the comparison: how to run its commands, in a directory of its own."""

    def __init__(self, name: str, root: Path, run: Callable[..., subprocess.CompletedProcess[str]]):
        self.name, self.root, self.run = name, root, run
        self.ids: dict[str, str] = {}
        self.dirs: dict[str, Path] = {}
        self.scenario: dict[str, str] = {}

    def submit_all(self) -> None:
        for case in CASES:
            where = self.root / re.sub(r"\W+", "-", case.name)
            where.mkdir(parents=True)
            for made in case.files:
                (where / made).mkdir(parents=True) if made.endswith("/") else \
                    (where / made).write_text("")
            self.dirs[case.name] = where
            script = f"{SHOW}\n{case.command}" if case.command else SHOW
            named = {key: self.ids.get(other, "") for key, other in REFERENCES.items()}
            args = [a.format(**named) for a in case.args]
            result = self.run("sbatch", "--parsable", *args, "--wrap", script, cwd=where)
            said = result.stdout.split()            # (--wait: the id, then what it says)
            self.ids[case.name] = said[0] if said and said[0].isdigit() else ""
            if case.cancel and self.ids[case.name]:
                self.run("scancel", self.ids[case.name], cwd=where)
            (where / ".sbatch").write_text(f"{result.returncode}\n{result.stdout}")

    def ask_all(self) -> None:
        """QUERIES, idle ones first, then the scenario's once it has settled."""
        where = self.root / "queries"
        where.mkdir()
        (where / "job.sh").write_text(SCRIPT)
        self.answers: dict[str, str] = {}
        for query in QUERIES:
            if query.idle:
                self.answers[query.command] = self.ask(query.command, where)
        for name, args, command in SCENARIO:
            tail = ("--wrap", command) if command is not None else ("job.sh",)
            given = [a.format(**self.scenario) for a in args]
            result = self.run("sbatch", "--parsable", *given, *tail, cwd=where)
            assert result.returncode == 0, (self.name, name, result.stderr)
            self.scenario[name] = result.stdout.strip()

        def settled() -> bool:
            shown = self.run("squeue", "-h", "-r", "-o", "%j|%T", cwd=where).stdout
            return sorted(shown.split()) == SETTLED
        wait_for(settled, 60, f"{self.name} to settle the query scenario")
        for query in [q for q in QUERIES if q.act] + [q for q in QUERIES if not q.act]:
            if not query.idle:
                self.answers[query.command] = self.ask(query.command, where, query.act)
        self.run("scancel", *self.scenario.values(), cwd=where)

    def ask(self, command: str, where: Path, errors: bool = False) -> str:
        words = command.format(**self.scenario).split(" ")
        result = self.run(*words, cwd=where)
        said = result.stderr.splitlines()[:1] if errors else []
        return f"{result.returncode}\n{result.stdout}" + "".join(f"{line}\n" for line in said)

    def answer(self, query: Query) -> list[str]:
        """A query's answer as comparable lines: ids as the scenario's names, the
        directory as DIR, scontrol's fields as Key=Value, in order."""
        code, out = self.answers[query.command].split("\n", 1)
        names = {v: k for k, v in self.scenario.items()}
        where = str(self.root / "queries")

        def ident(token: str) -> str:
            found = re.fullmatch(r"(\d+)(_.*)?", token)
            if found is None:
                return token
            return names.get(found[1], "N") + (found[2] or "")
        if query.keys:                  # each record (they are apart by blank lines)
            shown = [code]
            for record in re.split(r"\n\s*\n", out.strip()):
                pairs = dict(re.findall(r"([\w/:]+)=(\S*)", record))
                for key in ("JobId", "ArrayJobId"):
                    if key in pairs:
                        pairs[key] = ident(pairs[key])
                if "Dependency" in pairs:       # afterok:12(unfulfilled)
                    pairs["Dependency"] = re.sub(r"(?<=:)\d+", lambda m: ident(m[0]),
                                                 pairs["Dependency"])
                shown += [f"{k}={pairs[k].replace(where, 'DIR')}" for k in query.keys
                          if k in pairs]
            return shown
        if query.act:                   # (its messages name jobs)
            out = re.sub(r"\d+", lambda m: ident(m[0]), out)
        if not query.idle:              # (where a job runs is each scheduler's choice)
            out = re.sub(r"node(\[[-,\d]+\]|\d+)", "node*", out)
        lines = []
        for line in out.splitlines():
            cells = line.split("|") if "|" in line else line.split()
            cells = [ident(c) if i in query.ids else c for i, c in enumerate(cells)]
            lines.append("|".join(cells))
        return [code, *sorted(lines)]

    def ended(self) -> bool:
        live = self.run("squeue", "-h", "-o", "%i %T", cwd=self.root).stdout.split("\n")
        return not any(line.strip() for line in live)

    def observe(self, case: Case) -> Observed:
        where = self.dirs[case.name]
        code, out = (where / ".sbatch").read_text().split("\n", 1)
        job = self.ids[case.name]
        sbatch = (int(code), re.sub(r"\d+", "N", out.strip()))
        files: dict[str, str] = {}
        env: dict[str, str] = {}
        for path in sorted(p for p in where.rglob("*") if p.is_file() and p.name != ".sbatch"):
            lines = path.read_text().splitlines()
            if not env:
                env = normalize(dict(line.split("=", 1) for line in lines
                                     if line.startswith("SLURM_") and "=" in line
                                     and line.split("=", 1)[0] in KEYS), job, where)
            name = str(path.relative_to(where)).replace(job, "J") if job else path.name
            files[name] = "\n".join(re.sub(r"\bnode\d+", "nodeN",    # (each scheduler's choice)
                                            line.replace(str(where), "DIR")) for line in lines
                                    if not line.startswith("SLURM_")
                                    and not STEP_RETRY.match(line))
        state = ""
        if job:
            shown = self.run("scontrol", "show", "job", job.split("_")[0], cwd=where).stdout
            state = " ".join(sorted(set(re.findall(r"(?:JobState|ExitCode|TimeLimit)=\S+",
                                                   shown))))
        return Observed(sbatch, env, files, state)


#: a real srun's word that it waits for the resources of the job's last step,
#: which slurmd frees a moment after that step ended (seen under load), and then
#: that it has them: a pause of Slurm's own, never part of what a job sees
STEP_RETRY = re.compile(r"srun: (Job \d+ step creation temporarily disabled, retrying"
                        r"|Step created for job \d+$)")


def normalize(env: dict[str, str], job: str, where: Path) -> dict[str, str]:
    """Values as their form where the two sides cannot agree: ids, node names
    (which nodes a job gets, and so whether they are neighbours, is each
    scheduler's choice: a node list is its length), the directory, the user."""
    out = dict(env)
    for key, value in env.items():
        if key in ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_ARRAY_JOB_ID"):
            out[key] = "J" if value == job else re.sub(r"\d+", "N", value)
        elif key in ("SLURM_JOB_NODELIST", "SLURM_NODELIST"):
            out[key] = f"{len(hostlist.expand(value))} node(s)"
        elif key == "SLURM_SUBMIT_DIR":
            out[key] = "DIR" if Path(value) == where else value
    return out


def play(side: Side, what: str) -> Side:
    """The whole corpus, then the queries, on one side."""
    side.submit_all()
    wait_for(side.ended, 120, f"{what} to run the corpus")
    side.ask_all()
    return side


@pytest.fixture(scope="module")
def slurm_playing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[Side]]:
    """The real Slurm's side, played in a thread of its own while wq's plays
    (each side takes about ten seconds)."""
    why = missing()
    if why is not None:
        if os.environ.get("CI"):            # (scripts/test installs it: CI must compare)
            pytest.fail(why)
        pytest.skip(why)
    slurm = real_slurm([("node1", "127.0.0.21", 2), ("node2", "127.0.0.22", 2),
                        ("node3", "127.0.0.23", 2)], name="wq")
    pool = ThreadPoolExecutor(1)
    try:
        slurm.start()
        root = slurm.base / "cases"
        root.mkdir()

        def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
            return slurm.run(*args, cwd=cwd)
        playing = pool.submit(play, Side("slurm", root, run), "the real Slurm")
        yield playing
        playing.result()
    finally:
        pool.shutdown(wait=True)
        slurm.stop()
        shutil.rmtree(slurm.base, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(slurm_playing: Future[Side], ours: Side) -> Side:
    return slurm_playing.result(timeout=300)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, keys: Keys, hosts: list[SshHost],
         slurm_playing: Future[Side]) -> Iterator[Side]:
    base = tmp_path_factory.mktemp("wq-side")
    cluster = base / "cluster.yaml"
    cluster.write_text(cluster_yaml(keys, hosts, cores=2, labels={}))   # (one partition)
    server = WqServer(base / "srv", cluster)
    try:
        server.start()
        installed = server.wq("slurm", "install", str(base / "bin"))
        assert installed.returncode == 0, installed.stderr
        env = {**server.env, "PATH": f"{base / 'bin'}:{os.environ['PATH']}"}

        def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
            return subprocess.run(list(args), env=env, cwd=str(cwd), capture_output=True,
                                  text=True, timeout=60)
        yield play(Side("wq", base / "cases", run), "wq")
    finally:
        if server.proc is not None:
            server.wq("rm", "all", timeout=60)
        server.stop()
        server.forget_node_dirs()


def same_or_listed(name: str, listed: tuple[str, dict[str, str]], slurm: object, wq: object,
                   why: str) -> None:
    """wq's observation is Slurm's, or `name` is in the `listed` divergences (a
    name and its table), and then still differs, so that the list stays true."""
    if name in listed[1]:
        assert slurm != wq, f"{name} now matches Slurm: drop it from {listed[0]} " \
                            "and from docs/slurm.md"
    else:
        assert wq == slurm, why


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wq_does_what_slurm_does(reference: Side, ours: Side, case: Case) -> None:
    slurm, wq = reference.observe(case), ours.observe(case)
    same_or_listed(case.name, ("DIVERGENT", DIVERGENT), slurm, wq, differences(slurm, wq))


@pytest.mark.parametrize("query", QUERIES, ids=[q.command for q in QUERIES])
def test_wq_answers_what_slurm_answers(reference: Side, ours: Side, query: Query) -> None:
    slurm, wq = reference.answer(query), ours.answer(query)
    same_or_listed(query.command, ("DIVERGENT_QUERIES", DIVERGENT_QUERIES), slurm, wq,
                   "Slurm | wq:\n" + "\n".join(f"{a!r} | {b!r}" for a, b in
                                                 itertools.zip_longest(slurm, wq) if a != b))


def test_each_divergence_is_a_row_of_docs_slurm_md() -> None:
    text = (REPO / "docs" / "slurm.md").read_text()
    section = text.split("## Differences from Slurm", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| case")}
    wanted = set(DIVERGENT.values()) | set(DIVERGENT_QUERIES.values())
    assert wanted <= rows, wanted - rows


def differences(slurm: Observed, wq: Observed) -> str:
    """What differs, a line each: `what: Slurm's | wq's`."""
    lines = []
    for part in ("sbatch", "state"):
        if getattr(slurm, part) != getattr(wq, part):
            lines.append(f"{part}: {getattr(slurm, part)!r} | {getattr(wq, part)!r}")
    for part in ("env", "files"):
        theirs, mine = getattr(slurm, part), getattr(wq, part)
        for key in sorted(theirs.keys() | mine.keys()):
            if theirs.get(key) != mine.get(key):
                lines.append(f"{part} {key}: {theirs.get(key)!r} | {mine.get(key)!r}")
    return "Slurm | wq:\n" + "\n".join(lines)

