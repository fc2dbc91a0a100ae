"""The SLURM_* variables a job of sbatch's sees: what Slurm sets for what was
asked (tests/integration/test_slurm_reference.py checks them against a real
Slurm; these pin the rules)."""

import dataclasses

import pytest

from tests.builders import job, with_
from wq import codec
from wq.errors import ParseError
from wq.model import Placement, Slice, SlurmShape
from wq.server.onnode import repeats, slurm_environment
from wq.slurm.sbatch import parse


def submitted(args: list[str], *slices: tuple[str, int], task: int | None = None) -> dict:
    batch = parse([*args, "--wrap", "true"], None)
    shape = dataclasses.replace(batch.shape, submit_dir="/home/ann/run")
    one = job(12, mode=batch.requirements.mode, n=batch.requirements.n,
              threads=batch.requirements.threads, mem=batch.requirements.mem)
    one = with_(one, spec=dataclasses.replace(one.spec, slurm=shape, cwd="/home/ann/run/sub"),
                placement=Placement(tuple(Slice(h, c) for h, c in slices)),
                **({} if task is None else {"number": 12, "task": task}))
    return slurm_environment(one)


def test_a_plain_job_is_one_task_on_one_node_and_says_no_counts_it_was_not_given():
    env = submitted([], ("node2", 1))
    assert env["SLURM_JOB_NODELIST"] == env["SLURM_NODELIST"] == "node2"
    assert (env["SLURM_NNODES"], env["SLURM_JOB_CPUS_PER_NODE"],
            env["SLURM_TASKS_PER_NODE"]) == ("1", "1", "1")
    assert "SLURM_NTASKS" not in env and "SLURM_CPUS_PER_TASK" not in env
    assert env["SLURM_SUBMIT_DIR"] == "/home/ann/run"            # (not -D's directory)


def test_tasks_cpus_and_nodes_as_slurm_counts_them():
    env = submitted(["-n", "3", "-c", "2"], ("node1", 4), ("node3", 2))
    assert (env["SLURM_NTASKS"], env["SLURM_NPROCS"], env["SLURM_CPUS_PER_TASK"]) == \
        ("3", "3", "2")
    assert env["SLURM_JOB_NODELIST"] == "node[1,3]" and env["SLURM_NNODES"] == "2"
    assert env["SLURM_JOB_CPUS_PER_NODE"] == "4,2" and env["SLURM_TASKS_PER_NODE"] == "2,1"
    assert env["SLURM_CPUS_ON_NODE"] == "4"
    two = submitted(["-N", "2", "-n", "2"], ("node1", 1), ("node2", 1))
    assert two["SLURM_JOB_CPUS_PER_NODE"] == two["SLURM_TASKS_PER_NODE"] == "1(x2)"


def test_memory_per_node_or_per_cpu():
    assert submitted(["--mem", "100M"], ("n1", 1))["SLURM_MEM_PER_NODE"] == "100"
    per_cpu = submitted(["-c", "2", "--mem-per-cpu", "50"], ("n1", 2))
    assert per_cpu["SLURM_MEM_PER_CPU"] == "50" and "SLURM_MEM_PER_NODE" not in per_cpu


def test_an_array_task_knows_its_array_and_has_an_integer_id_of_its_own():
    env = submitted(["--array", "1-6:2%1"], ("n1", 1), task=3)
    assert (env["SLURM_ARRAY_JOB_ID"], env["SLURM_ARRAY_TASK_ID"]) == ("12", "3")
    assert (env["SLURM_ARRAY_TASK_COUNT"], env["SLURM_ARRAY_TASK_MIN"],
            env["SLURM_ARRAY_TASK_MAX"], env["SLURM_ARRAY_TASK_STEP"]) == ("3", "1", "5", "2")
    # as Slurm: the last task keeps the array's id, the others take the next ones
    ids = [submitted(["--array", "1-6:2"], ("n1", 1), task=t)["SLURM_JOB_ID"] for t in (1, 3, 5)]
    assert ids == ["13", "14", "12"]
    listed = submitted(["--array", "1,4"], ("n1", 1), task=1)
    assert (listed["SLURM_JOB_ID"], listed["SLURM_ARRAY_TASK_COUNT"],
            listed["SLURM_ARRAY_TASK_MAX"], listed["SLURM_ARRAY_TASK_STEP"]) == \
        ("13", "2", "4", "1")


def test_counts_a_node_in_slurms_run_length_form():
    assert repeats([2, 2, 1]) == "2(x2),1"
    assert repeats([1]) == "1" and repeats([3, 1, 1, 1]) == "3,1(x3)"


def test_an_older_job_that_said_only_slurm_true_keeps_its_directory():
    one = job(5)
    one = with_(one, spec=dataclasses.replace(one.spec, slurm=SlurmShape()),
                placement=Placement((Slice("n1", 1),)))
    assert slurm_environment(one)["SLURM_SUBMIT_DIR"] == "/tmp"


def test_a_shape_goes_through_the_store_and_the_wire_as_it_was_and_bad_ones_are_refused():
    spec = job(1).spec
    for shape in (SlurmShape(), SlurmShape("/home/ann", ntasks=3, cpus_per_task=2, nodes=2,
                                           mem_per_cpu=512, array=((1, 9, 2),)),
                  SlurmShape(array=((1, 1, 1), (4, 10, 3)))):
        data = codec.spec_to_dict(dataclasses.replace(spec, slurm=shape))
        assert codec.spec_from_dict(data).slurm == shape
    assert codec.spec_to_dict(dataclasses.replace(spec, slurm=SlurmShape()))["slurm"] is True
    assert codec.spec_from_dict({**codec.spec_to_dict(spec)}).slurm is None
    for bad in ({"ntasks": 0}, {"submit_dir": "relative"}, {"array": [1, 2]},
                {"array": [[4, 4, 1], [1, 1, 1]]}, {"array": [[1, 3, 1], [3, 3, 1]]},
                {"nodes": True}, {"cores": 2}, "yes"):
        with pytest.raises(ParseError, match="slurm"):
            codec.spec_from_dict({**codec.spec_to_dict(spec), "slurm": bad})
