"""Dependencies in the engine: held jobs are released when their targets end
as asked, and cancelled (with the reason) when they never can; chains go as
far as they go; a restart finds them held again from what the store knows."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import host, job, with_
from tests.server.test_engine import Sim, task
from wq.executor.outcome import Outcome
from wq.model import After, DepKind, Job, JobState
from wq.parsing import deps as parse_deps
from wq.scheduler import deps
from wq.scheduler.deps import Key, Tally
from wq.server import effects as fx
from wq.server.state import Engine


class DepSim(Sim):
    """A Sim that also knows each job's number and task, so it can tell the
    engine what the store knows of a target (as server/targets.py does)."""

    def __init__(self, *hosts: Any, **kw: Any) -> None:
        super().__init__(*hosts, **kw)
        self.where: dict[int, Key] = {}

    def tally(self, key: Key) -> Tally:
        states = Counter(self.stored[i].value for i, k in self.where.items()
                         if k == key or (key[1] is None and k[0] == key[0]))
        return Tally.of(states)

    def submit(self, *jobs: Job, throttle: int | None = None, watched: bool = False
               ) -> list[str]:
        for j in jobs:
            self.stored[j.id] = j.state
            self.where[j.id] = (j.number_shown, j.task)
        known = {deps.key_of(a, j): self.tally(deps.key_of(a, j))
                 for j in jobs for a in j.spec.after}
        return self.feed(fx.Submitted(tuple(jobs), throttle, watched, tallies=known))

    def run(self, job_id: int, code: int) -> None:
        """Start what fits, then end job `job_id` with `code`."""
        self.schedule()
        self.end(job_id, Outcome(exit_code=code))


def after(j: Job, text: str) -> Job:
    return with_(j, spec=dataclasses.replace(j.spec, after=parse_deps.parse(text)))


def test_a_job_waits_for_its_dependency_and_says_so_then_runs():
    sim = DepSim(host("a", cores=4))
    sim.submit(job(1))
    sim.schedule()
    sim.submit(after(job(2), "afterok:1"), watched=True)
    assert sim.schedule() == ["tell 2 waiting"]
    assert sim.the(fx.Publish).event.reason == "waiting for afterok:1: job 1 has not ended"
    assert 2 in sim.engine.blocked and sim.engine.waiting_count() == 1
    assert sim.end(1, Outcome(exit_code=0)) == ["record 1 done", "reschedule"]
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a"]
    assert not sim.engine.blocked and not sim.engine.tallies and not sim.engine.dependents


def test_an_unmeetable_dependency_cancels_the_job_and_the_chain_behind_it():
    sim = DepSim(host("a", cores=4))
    sim.submit(job(1))
    sim.submit(after(job(2), "afterok:1"), after(job(3), "afterok:2"),
               after(job(4), "afterany:3"), after(job(5), "afternotok:1"))
    sim.run(1, 3)
    effects = [e for e in sim.effects if isinstance(e, fx.RecordMany)]
    assert [(e.ids, e.reason) for e in effects] == [
        ((2,), "dependency never met: afterok:1: job 1 ended not done"),
        ((3,), "dependency never met: afterok:2: job 2 ended not done")]
    assert sim.state(2) is sim.state(3) is JobState.CANCELLED
    assert sim.schedule() == ["record 4 started", "launch 4.1 on a",
                              "record 5 started", "launch 5.1 on a"]


def test_afternotok_of_a_job_that_ended_done_is_never_met():
    sim = DepSim(host("a"))
    sim.submit(job(1))
    sim.submit(after(job(2), "afternotok:1"))
    sim.run(1, 0)
    assert sim.state(2) is JobState.CANCELLED
    assert "afternotok:1: job 1 ended done" in sim.the(fx.RecordMany).reason


def test_afterok_of_an_array_needs_every_task_and_one_failure_ends_the_wait_at_once():
    sim = DepSim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in (1, 2, 3)))
    sim.submit(after(job(20), "afterok:10"), after(job(21), "afterany:10"))
    sim.run(11, 0)
    assert sim.engine.blocked_reason(sim.engine.jobs[20]) == \
        "waiting for afterok:10: job 10 has 2 of 3 still to end"
    sim.run(12, 1)                        # 10.2 failed: 20 can never run, 21 still waits
    assert sim.state(20) is JobState.CANCELLED and 21 in sim.engine.blocked
    sim.run(13, 0)
    assert 21 not in sim.engine.blocked
    assert sim.schedule() == ["record 21 started", "launch 21.1 on a"]


def test_aftercorr_releases_task_i_after_task_i_and_cancels_only_its_own():
    sim = DepSim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in (1, 2, 3)))
    sim.submit(*(after(task(20, i), "aftercorr:10") for i in (1, 2, 3)))
    assert len(sim.engine.blocked) == 3
    sim.run(11, 0)
    assert sim.schedule() == ["record 10.2 started", "launch 10.2.1 on a"]  # first in line
    assert [j.label for j in sim.engine.queued(20)] == ["20.1", "20.2", "20.3"]
    assert 21 not in sim.engine.blocked and {22, 23} <= set(sim.engine.blocked)
    sim.end(12, Outcome(exit_code=1))
    assert sim.state(22) is JobState.CANCELLED       # 20.2 after a failed 10.2
    sim.run(13, 0)
    assert sim.schedule() == ["record 20.1 started", "launch 20.1.1 on a"]
    sim.end(21, Outcome(exit_code=0))
    assert sim.schedule() == ["record 20.3 started", "launch 20.3.1 on a"]


def test_a_dependency_on_one_task():
    sim = DepSim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in (1, 2)))
    sim.submit(after(job(20), "afterok:10.2"))
    sim.run(11, 1)
    assert 20 in sim.engine.blocked
    sim.run(12, 0)
    assert sim.schedule() == ["record 20 started", "launch 20.1 on a"]


def test_removing_a_held_job_forgets_its_targets():
    sim = DepSim(host("a"))
    sim.submit(job(1))
    sim.submit(after(job(2), "afterok:1"))
    assert sim.feed(fx.Remove((sim.engine.jobs[2],), "ann"))[0] == "record 2 cancelled"
    assert not sim.engine.blocked and not sim.engine.tallies
    assert not sim.engine.blocked_queue and list(sim.engine.queue) == [1]
    assert sim.engine.waiting_count() == 1


def test_a_dependency_met_or_never_met_at_submission_is_dealt_with_then():
    sim = DepSim(host("a"))
    sim.submit(job(1))
    sim.run(1, 0)
    sim.submit(after(job(2), "afterok:1"), after(job(3), "afternotok:1"))
    assert 2 not in sim.engine.blocked and sim.state(3) is JobState.CANCELLED


def test_held_jobs_are_held_again_after_a_restart_from_what_the_store_knows():
    sim = DepSim(host("a"))
    sim.stored.update({1: JobState.DONE, 2: JobState.WAITING, 3: JobState.WAITING,
                       4: JobState.WAITING})
    sim.where.update({1: (1, None), 2: (2, None), 3: (3, None), 4: (4, None)})
    held = (after(job(3), "afterok:1,afterok:2"), after(job(4), "afterany:3"))
    known = {(1, None): sim.tally((1, None)), (2, None): sim.tally((2, None)),
             (3, None): sim.tally((3, None))}
    sim.feed(fx.Loaded((job(2), *held), tallies=known))
    assert sim.engine.blocked == {3: [After(DepKind.AFTEROK, 2)],
                                  4: [After(DepKind.AFTERANY, 3)]}
    sim.run(2, 0)
    sim.run(3, 0)
    assert sim.schedule() == ["record 4 started", "launch 4.1 on a"]


def test_a_long_chain_is_cancelled_without_deep_recursion():
    sim = DepSim(host("a"))
    sim.submit(job(1))
    sim.submit(*(after(job(i), f"afterok:{i - 1}") for i in range(2, 3000)))
    sim.run(1, 1)
    assert not sim.engine.jobs and sim.state(2999) is JobState.CANCELLED


# -- any sequence of events ----------------------------------------------------------

KINDS = [k.value for k in DepKind if k is not DepKind.AFTERCORR]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "array", "schedule", "end", "rm"]),
                          st.integers(0, 1000)), max_size=50))
def test_held_jobs_are_exactly_those_whose_dependencies_are_pending(actions):
    """After every event: a live job is held iff some dependency is still
    pending by the store's states, none is never met, and it is not running;
    no tally is kept for a target nobody waits on."""
    sim = DepSim(host("a", cores=2), host("b", cores=1))
    next_id = 1
    for action, pick in actions:
        live = sorted(sim.engine.jobs)
        running = sorted(sim.engine.running)
        numbers = sorted({k[0] for k in sim.where.values()})
        spec = ""
        if numbers and pick % 3:
            spec = f"{KINDS[pick % 3]}:{numbers[pick % len(numbers)]}"
        if action == "submit":
            j = job(next_id)
            sim.submit(after(j, spec) if spec else j)
            next_id += 1
        elif action == "array":
            tasks = [task(next_id, i) for i in range(1, 2 + pick % 3)]
            arrays = [n for n in numbers if any(k == (n, 1) for k in sim.where.values())]
            if arrays and pick % 2:
                spec = f"aftercorr:{arrays[pick % len(arrays)]}"
            sim.submit(*(after(t, spec) if spec else t for t in tasks))
            next_id += 5
        elif action == "schedule":
            sim.schedule()
        elif action == "end" and running:
            sim.end(running[pick % len(running)], Outcome(exit_code=pick % 2))
        elif action == "rm" and live:
            sim.feed(fx.Remove((sim.engine.jobs[live[pick % len(live)]],), "ann"))
        check(sim)


def check(sim: DepSim) -> None:
    engine: Engine = sim.engine
    assert set(engine.jobs) == {i for i, s in sim.stored.items() if not s.final}
    for j in engine.jobs.values():
        statuses = [deps.status(a, sim.tally(deps.key_of(a, j))) for a in j.spec.after]
        assert deps.Status.NEVER not in statuses, j
        pending = deps.Status.PENDING in statuses
        assert (j.id in engine.blocked) == pending, j
        if pending:
            assert j.state is JobState.WAITING
    assert set(engine.tallies) == set(engine.dependents)
    for key, tally in engine.tallies.items():
        assert tally == sim.tally(key)
    assert sum(len(q) for q in engine.blocked_queue.values()) == len(engine.blocked)
    assert len(engine.waiting) + len(engine.blocked) == sum(
        j.state is JobState.WAITING for j in engine.jobs.values())
