"""on_end commands: their environment (only WQ_* facts from a server) and how
they run (once, bounded, never raising)."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import job, with_
from wq import codec, hooks
from wq.errors import ParseError
from wq.model import Placement, Slice
from wq.server import onnode


def test_facts_of_a_job_and_of_an_array():
    j = with_(job(7), placement=Placement((Slice("n1", 1),)), exit_code=3)
    assert onnode.hook_facts(j, "failed", 3) == {
        "WQ_JOB_ID": "7", "WQ_STATE": "failed", "WQ_EXIT": "3", "WQ_HOST": "n1",
        "WQ_JOB_NAME": "job7"}
    task = with_(job(12), number=10, task=2)
    facts = onnode.hook_facts(task, "failed", None, {"done": 2, "failed": 1})
    assert facts["WQ_JOB_ID"] == "10" and facts["WQ_EXIT"] == ""
    assert (facts["WQ_TASKS_DONE"], facts["WQ_TASKS_FAILED"]) == ("2", "1")


def test_a_server_may_tell_only_facts():
    assert hooks.environment({"A": "1"}, {"WQ_STATE": "done"}) == {"A": "1",
                                                                   "WQ_STATE": "done"}
    for bad in ({"LD_PRELOAD": "/tmp/x.so"}, {"WQ_STATE": "a\0b"}, {"PATH": "/evil"}):
        with pytest.raises(ValueError):
            hooks.environment({}, bad)


def test_it_runs_once_reports_and_is_bounded(tmp_path):
    out = tmp_path / "out"
    code, said = asyncio.run(hooks.run(f'echo "$WQ_STATE" > {out}; echo last >&2; exit 4',
                                       str(tmp_path), {"WQ_STATE": "done", "PATH": "/bin"}))
    assert (code, said, out.read_text()) == (4, "last", "done\n")
    code, said = asyncio.run(hooks.run("sleep 5", "/nonexistent", {"PATH": "/bin"},
                                       timeout=0.2))
    assert code is None and "killed" in said


def test_on_end_travels_in_the_spec_and_is_checked():
    spec = codec.spec_from_dict({"command": "x", "cwd": "/tmp", "on_end": "echo hi"})
    assert spec.on_end == "echo hi" and codec.spec_to_dict(spec)["on_end"] == "echo hi"
    with pytest.raises(ParseError, match="on_end must be a shell command"):
        codec.spec_from_dict({"command": "x", "cwd": "/tmp", "on_end": "  "})
