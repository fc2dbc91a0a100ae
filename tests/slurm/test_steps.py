"""srun inside a job: where its tasks go (steps.layout, as Slurm's block
distribution), and the script that runs one host's share of them."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.errors import ParseError
from wq.executor.wrapper import step_script
from wq.slurm.steps import Placed, counts, layout


def test_tasks_per_node_is_read_in_slurms_run_length_form():
    assert counts("2(x2),1", 3) == [2, 2, 1]
    assert counts("", 2) == [1, 1]
    with pytest.raises(ParseError):
        counts("2(x3)", 2)
    with pytest.raises(ParseError):
        counts("two", 1)


def test_tasks_fill_the_nodes_in_blocks():
    hosts = ["a", "b"]
    assert layout(hosts, [2, 2], None, None) == [Placed(0, "a", (0, 1)), Placed(1, "b", (2, 3))]
    assert layout(hosts, [2, 2], 3, None) == [Placed(0, "a", (0, 1)), Placed(1, "b", (2,))]
    assert layout(hosts, [2, 2], 1, None) == [Placed(0, "a", (0,))]
    assert layout(hosts, [2, 2], 2, 2) == [Placed(0, "a", (0,)), Placed(1, "b", (1,))]
    assert layout(hosts, [2, 2], None, 1) == [Placed(0, "a", (0, 1))]


def test_a_step_larger_than_the_allocation_is_refused():
    with pytest.raises(ParseError, match="holds 4 task"):
        layout(["a", "b"], [2, 2], 5, None)
    with pytest.raises(ParseError, match="has 2 node"):
        layout(["a", "b"], [2, 2], None, 3)
    with pytest.raises(ParseError, match="cannot spread"):
        layout(["a", "b"], [2, 2], 1, 2)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.data())
def test_every_task_is_placed_once_within_its_nodes_room(per_node, data):
    hosts = [f"h{i}" for i in range(len(per_node))]
    ntasks = data.draw(st.integers(1, sum(per_node)))
    placed = layout(hosts, per_node, ntasks, None)
    assert sorted(t for p in placed for t in p.tasks) == list(range(ntasks))
    assert all(len(p.tasks) <= per_node[p.node] for p in placed)
    first = [p.tasks[0] for p in placed]
    assert first == sorted(first)                     # blocks, in node order


def test_a_hosts_share_runs_each_task_with_its_ids_and_exits_with_the_worst(tmp_path):
    script = step_script(["sh", "-c", 'echo "$SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID '
                          '$WQ_HOST $A $HOSTNAME"; exit $SLURM_PROCID'],
                         {"A": "it's", "HOSTNAME": "elsewhere"}, str(tmp_path), "b", 1, [2, 3])
    done = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOSTNAME": "here"}, timeout=30)
    assert done.returncode == 3
    assert sorted(done.stdout.splitlines()) == ["2 0 1 b it's here", "3 1 1 b it's here"]
    assert done.stderr == ("srun: error: b: task 2: Exited with exit code 2\n"
                           "srun: error: b: task 3: Exited with exit code 3\n")


def test_tasks_failing_alike_are_said_together_as_srun_does(tmp_path):
    script = step_script(["sh", "-c", "exit $((SLURM_PROCID < 2 ? 3 : 0))"], {},
                         str(tmp_path), "n1", 0, [0, 1, 2])
    done = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stderr) == (
        3, "srun: error: n1: tasks 0-1: Exited with exit code 3\n")


def test_a_step_in_a_missing_directory_fails_at_once(tmp_path):
    script = step_script(["true"], {}, str(tmp_path / "gone"), "b", 0, [0])
    assert subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                          timeout=30).returncode == 1


def test_a_program_for_each_task_is_refused_not_ignored():
    from wq.slurm.sbatch import parse_srun

    with pytest.raises(ParseError, match="--multi-prog: a program of its own"):
        parse_srun(["-n", "2", "--multi-prog", "tasks.conf"])
