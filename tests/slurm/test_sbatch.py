"""sbatch's options and #SBATCH lines as wq jobs, and squeue/sacct formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.errors import ParseError
from wq.model import After, DepKind, Mode
from wq.protocol.replies import JobRow
from wq.slurm import formats
from wq.slurm.sbatch import memory, output_pattern, parse, slurm_time

SCRIPT = """#!/bin/bash
#SBATCH --job-name=sim
#SBATCH -c 4 --mem=2G   # a comment
#SBATCH --time 1-02:00:00
echo hi
#SBATCH --ignored-after-the-first-command
"""


def test_sbatch_lines_and_the_command_line_which_wins():
    batch = parse(["-t", "30", "--parsable", "job.sh", "arg1"], SCRIPT)
    req = batch.requirements
    assert (req.mode, req.n, req.threads, req.mem) == (Mode.BYCORE1, 4, 4, 2.0)
    assert req.time_limit == 30 * 60 and req.job_name == "sim" and batch.parsable
    assert batch.script == "job.sh" and batch.script_args == ("arg1",)


@pytest.mark.parametrize("args, mode, n", [
    ([], Mode.BYCORE, 1),
    (["-n", "8"], Mode.BYCORE, 8),
    (["-n", "2", "-c", "3"], Mode.BYCORE, 6),
    (["-N", "1", "-n", "4"], Mode.BYCORE1, 4),
    (["--cpus-per-task=6"], Mode.BYCORE1, 6),
    (["-N", "3"], Mode.BYCORE, 3),
])
def test_tasks_cpus_and_nodes(args, mode, n):
    req = parse([*args, "--wrap", "x"], None).requirements
    assert (req.mode, req.n) == (mode, n)


@pytest.mark.parametrize("args, n, threads, nodes, per_host, whole", [
    (["-N", "2", "-n", "3", "-c", "2"], 6, 2, 2, 0, False),
    (["-N", "2", "--ntasks-per-node", "2"], 4, None, 2, 2, False),
    (["-N", "2", "--ntasks-per-node=2", "-c", "3"], 12, 3, 2, 6, False),
    (["--exclusive"], 1, None, 0, 0, True),
    (["-N", "1", "--exclusive"], 1, None, 1, 0, True),
    (["-n", "4", "-c", "2"], 8, 2, 0, 0, False),
])
def test_slurms_allocation_shapes_become_bycores(args, n, threads, nodes, per_host, whole):
    req = parse([*args, "--wrap", "x"], None).requirements
    assert req.mode is Mode.BYCORE
    assert (req.n, req.threads, req.nodes, req.per_host, req.whole) == \
        (n, threads, nodes, per_host, whole)


def test_fewer_tasks_than_nodes_is_refused():
    with pytest.raises(ParseError, match="--nodes: 3 nodes need a task each; --ntasks is 2"):
        parse(["-N", "3", "-n", "2", "--wrap", "x"], None)


def test_the_rest_of_the_mapping():
    batch = parse(["-o", "o-%x-%j.txt", "-e", "e.txt", "-D", "sub", "--array=1-9:2%3",
                   "-d", "afterok:5:6,afterany:7_2", "--gres=gpu:tesla:2", "-p", "fast",
                   "-C", "avx&big", "-w", "n1,n2", "-x", "n3", "--mem-per-cpu", "1000",
                   "-c", "2", "--export=NONE,A=1", "-W", "-L", "matlab:2,genus",
                   "--wrap", "true"], None)
    req = batch.requirements
    assert req.licenses == (("genus", 1), ("matlab", 2))
    assert (batch.stdout, batch.stderr, batch.chdir) == ("o-%x-%j.txt", "e.txt", "sub")
    assert batch.array == ((1, 9, 2),) and batch.throttle == 3 and batch.wait
    assert batch.after == (After(DepKind.AFTEROK, 5), After(DepKind.AFTEROK, 6),
                           After(DepKind.AFTERANY, 7, 2))
    assert req.gpus == 2 and req.groups == ("fast", "avx", "big")
    assert req.hosts == ("n1", "n2") and req.not_hosts == ("n3",)
    assert req.mem == pytest.approx(2 * 1000 / 1024)
    assert batch.export == "NONE,A=1" and batch.wrap == "true"


def test_harmless_options_warn_and_meaningful_ones_are_refused():
    batch = parse(["-A", "lab", "--mail-type=END", "--qos", "x", "--wrap", "t"], None)
    assert batch.ignored == ("--account", "--mail-type", "--qos")
    for args, message in ((["--begin", "now+1h"], "start"),
                          (["--bogus"], "unknown option --bogus"),
                          (["--time"], "needs a value"), (["-n", "x"], "positive count"),
                          (["--gres=fpga:1"], "only gpu"),
                          (["--licenses=matlab:0"], "--licenses: expected a count of matlab"),
                          (["--array", "1-3,3"], "1-3 and 3 overlap"),
                          (["--array", "5-2"], "'5-2' is an empty range"),
                          (["-d", "after:3"], "not supported")):
        with pytest.raises(ParseError, match=message):
            parse(["--wrap", "t", *args], None)


@pytest.mark.parametrize("text, seconds", [
    ("30", 1800), ("5:30", 360), ("0:01", 60), ("1:00:00", 3600), ("2-0", 172800),
    ("1-2:30", 95400), ("1-2:3:4", 93840), ("UNLIMITED", None), ("infinite", None), ("0", None)])
def test_slurm_times(text, seconds):
    assert slurm_time(text) == seconds


def test_sizes_arrays_and_patterns():
    assert memory("4000", "--mem") == pytest.approx(4000 / 1024)
    assert memory("16G", "--mem") == 16 and memory("1t", "--mem") == 1024
    assert output_pattern("%x-%u-%j-%A_%a-%N.out", "sim", "ann") == "sim-ann-%j-%A_%a-%h.out"


@given(st.lists(st.text(alphabet="-=abcdeJnNtoW0123456789:% ", max_size=12), max_size=6))
def test_any_command_line_parses_or_is_one_clear_error(args):
    try:
        parse(args, None)
    except ParseError as exc:
        assert "\n" not in str(exc)


def row(**kw) -> JobRow:
    base = dict(id="12.3", number=12, task=3, user="ann", state="running", pri="med",
                nc=2, nh=1, host0="n1", submitted=1000.0, started=1010.0, ended=None,
                exit=None, name="sim", reason="", instance=1, hosts=["n1"],
                requirements={"mode": "bycore", "N": 2, "time": "1h", "mem": 2.0})
    return JobRow(**{**base, **kw})


def test_squeue_formats_and_sacct_fields():
    pieces = formats.squeue_format("%.6i %j %u %t %T %M %l %D %C %R %N %P %A %a %F %K %r")
    assert formats.render(pieces, row(), 1075.0) == \
        "  12_3 sim ann R RUNNING 1:05 1:00:00 1 2 n1 n1 wq 12_3 (null) 12 3 None"
    own = row(slurm={"id": 14, "priority": 30})
    assert formats.render(formats.squeue_format("%A %i %Q"), own, 0) == "14 12_3 30"
    header = formats.render(pieces, None, 0)
    assert header.split()[:3] == ["JOBID", "NAME", "USER"]
    waiting = row(state="waiting", nc=None, hosts=[], reason="waiting for afterok:3: ...")
    assert formats.render(formats.squeue_format("%t %R %r"), waiting, 0) == \
        "PD (Dependency) Dependency"
    throttled = row(state="waiting", reason="array 12 runs at most 2 tasks at once")
    assert formats.reason(throttled) == "JobArrayTaskLimit"
    fields = formats.field_list("JobIDRaw,State%12,ExitCode,Elapsed,ReqMem,AllocCPUS")
    done = row(state="failed", exit=3, ended=1100.0)
    assert [formats.FIELDS[f][0](done, 0) for f, _ in fields] == [
        "12_3", "FAILED", "3:0", "00:01:30", "2048M", "2"]
    assert formats.state_filter("pd,R") == {"waiting", "running"}
    assert formats.state_filter("all") is None
    with pytest.raises(ValueError):
        formats.field_list("Nonsense")


def test_an_arrays_waiting_tasks_are_one_line_as_in_slurm():
    rows = [row(task=1), *(row(task=t, state="waiting", slurm={"throttle": 1})
                          for t in (2, 3, 4, 6)), row(id="13", number=13, task=None),
            row(id="14.5", number=14, task=5, state="waiting")]
    shown = list(formats.collapse(rows))
    pieces = formats.squeue_format("%i|%A|%K")
    assert [formats.render(pieces, r, 0) for r in shown] == [
        "12_1|12_1|1", "12_[2-4,6%1]|12|2-4,6%1", "13|13|N/A", "14_5|14_5|5"]


def test_singleton_is_left_for_the_submitting_side_to_resolve():
    batch = parse(["-d", "afterok:3,singleton", "--wrap", "t"], None)
    assert batch.singleton and [str(a) for a in batch.after] == ["afterok:3"]
    alone = parse(["-d", "singleton", "--wrap", "t"], None)
    assert alone.singleton and alone.after == ()
    assert not parse(["-d", "afterany:4", "--wrap", "t"], None).singleton
