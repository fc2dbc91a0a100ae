"""What users change of their jobs, in the engine: hold and release, requeue,
update. Held jobs keep their place and start nothing; a requeued job runs
again under its id; an update reaches every waiting task of an array."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import host, job, with_
from tests.server.test_dependencies import DepSim, after
from tests.server.test_engine import OUTCOMES, Sim, task
from wq.executor.outcome import Outcome
from wq.model import JobState
from wq.server import effects as fx


def jobs(sim: Sim, *ids: int) -> tuple:
    return tuple(sim.engine.jobs[i] for i in ids)


def test_a_held_job_keeps_its_place_and_starts_once_released():
    sim = Sim(host("a", cores=1))
    sim.submit(job(1), job(2), job(3))
    assert sim.feed(fx.Hold(jobs(sim, 1, 2), "ann", True)) == [
        "record 1,2 held", "answer 1: held; 2: held"]
    assert sim.schedule() == ["record 3 started", "launch 3.1 on a"]
    assert sim.engine.waiting_count() == 2 and sim.engine.aside_of == {"ann": 2}
    assert sim.engine.blocked_reason(sim.engine.jobs[1]) == "held (wq release 1 lets it start)"
    assert sim.feed(fx.Hold(jobs(sim, 1, 3), "ann", True)) == [
        "answer 1: already held; 3: running: only a waiting job can be held"]
    sim.end(3, Outcome(exit_code=0))
    assert sim.schedule() == []                       # the core is free; both are held
    assert sim.feed(fx.Hold(jobs(sim, 2), "ann", False)) == [
        "record 2 released", "answer 2: released", "reschedule"]
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a"]
    assert sim.engine.aside_of == {"ann": 1} and sim.held == {1}


def test_only_the_owner_or_an_admin_holds_a_job():
    sim = Sim(host("a"))
    sim.submit(job(1, user="bob"))
    assert sim.feed(fx.Hold(jobs(sim, 1), "ann", True)) == [
        "answer 1: not yours (it belongs to bob)"]
    assert sim.feed(fx.Hold(jobs(sim, 1), "ann", True, admin=True))[0] == "record 1 held"


def test_holding_an_array_holds_its_waiting_tasks_and_removing_it_still_works():
    sim = Sim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in range(1, 5)))
    sim.schedule()
    assert sim.feed(fx.Hold(jobs(sim, 11, 12, 13, 14), "ann", True))[-1] == (
        "answer 10.1: running: only a waiting job can be held; 10.2: held; 10.3: held; "
        "10.4: held")
    sim.end(11, Outcome(exit_code=0))
    assert sim.schedule() == []
    sim.feed(fx.Remove(jobs(sim, 12, 13, 14), "ann"))
    assert not sim.engine.jobs and not sim.engine.blocked_queue and not sim.engine.aside_of
    assert not sim.engine.active_in


def test_a_held_job_whose_dependencies_are_met_stays_held():
    sim = DepSim(host("a", cores=2))
    sim.submit(job(1))
    sim.submit(after(job(2), "afterok:1"))
    sim.feed(fx.Hold(jobs(sim, 2), "ann", True))
    sim.schedule()
    sim.end(1, Outcome(exit_code=0))
    assert 2 not in sim.engine.blocked and sim.engine.jobs[2].held
    assert sim.schedule() == []
    sim.feed(fx.Hold(jobs(sim, 2), "ann", False))
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a"]


def test_a_running_job_requeued_is_stopped_then_waits_again_under_its_id():
    sim = Sim(host("a"))
    sim.submit(job(1), watched=True)
    sim.schedule()
    assert sim.feed(fx.Requeue(jobs(sim, 1), "ann")) == [
        "kill 1.1 TERM", "answer 1: requeued (being stopped)"]
    assert sim.end(1, Outcome(exit_code=143)) == [
        "record 1 requeued", "tell 1 requeued", "reschedule"]
    assert sim.state(1) is JobState.WAITING
    assert sim.schedule() == ["record 1 started", "launch 1.2 on a"]


def test_an_ended_job_requeued_waits_again_and_its_array_counts_it_live():
    sim = Sim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in range(1, 3)))
    sim.schedule()
    sim.end(11, Outcome(exit_code=3))
    assert sim.state(11) is JobState.FAILED
    assert sim.feed(fx.Requeue((sim.ended[11],), "ann")) == [
        "record 10.1 requeued", "answer 10.1: requeued", "reschedule"]
    assert sim.engine.active_in[10] == 2 and sim.engine.array_counts[10] == Counter()
    assert sim.schedule() == ["record 10.1 started", "launch 10.1.2 on a"]   # (task order)
    sim.end(11, Outcome(exit_code=0))
    assert sim.schedule() == ["record 10.2 started", "launch 10.2.1 on a"]
    sim.end(12, Outcome(exit_code=0))
    assert not sim.engine.active_in and not sim.engine.array_counts


def test_a_requeued_target_is_live_again_for_those_still_waiting_on_it():
    sim = DepSim(host("a", cores=2))
    sim.submit(*(task(10, i) for i in range(1, 3)))
    sim.submit(after(job(20), "afterok:10"))
    sim.run(11, 0)
    sim.feed(fx.Requeue((sim.ended[11],), "ann"))
    sim.run(12, 0)                        # 10.1 waits again: 20 still waits for it
    assert 20 in sim.engine.blocked
    sim.run(11, 0)
    assert 20 not in sim.engine.blocked


def test_requeue_is_refused_for_sessions_and_others_jobs():
    sim = Sim(host("a"))
    sim.submit(with_(job(1), spec=dataclasses.replace(job(1).spec, interactive=True)),
               job(2, user="bob"))
    assert sim.feed(fx.Requeue(jobs(sim, 1, 2), "ann", admin=True)) == [
        "answer 1: an interactive session cannot be requeued; "
        "2: not yours (it belongs to bob)"]


def test_an_update_reaches_every_waiting_task_of_an_array_and_not_running_ones():
    sim = Sim(host("a", cores=1))
    sim.submit(*(task(10, i) for i in range(1, 4)))
    sim.schedule()
    first = sim.engine.jobs[11].spec
    spec = dataclasses.replace(first, requirements=dataclasses.replace(
        first.requirements, time_limit=60.0))
    assert sim.feed(fx.Update(jobs(sim, 11, 12, 13), spec, "ann", "time limit 1m")) == [
        "record 10.2 spec: time limit 1m",
        "answer 10.1: running: only a waiting job can be updated; "
        "10.2: updated: time limit 1m; 10.3: updated: time limit 1m", "reschedule"]
    assert sim.engine.jobs[11].spec is first
    assert all(sim.engine.jobs[i].spec is spec for i in (12, 13))
    sim.end(11, Outcome(exit_code=0))
    assert sim.schedule() == ["record 10.2 started", "launch 10.2.1 on a"]
    assert sim.the(fx.Launch).launch.limit == "60"


ACTIONS = st.lists(st.tuples(
    st.sampled_from(["submit", "array", "schedule", "end", "hold", "release", "requeue",
                     "rm"]),
    st.integers(0, 1000)), max_size=50)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_any_sequence_of_holds_and_requeues_keeps_the_books_straight(actions):
    """The engine's live jobs are the stored live ones, held as stored; the
    scheduler's queue holds exactly the waiting jobs not held; every user's
    count of jobs kept aside is right."""
    sim = Sim(host("a", cores=2), host("b", cores=1))
    next_id = 1
    for action, pick in actions:
        live = sorted(sim.engine.jobs)
        running = sorted(sim.engine.running)
        ended = sorted(sim.ended)
        if action == "submit":
            sim.submit(job(next_id, user="ann" if pick % 2 else "bob"))
            next_id += 1
        elif action == "array":
            sim.submit(*(task(next_id, i) for i in range(1, 2 + pick % 4)))
            next_id += 7
        elif action == "schedule":
            sim.schedule()
        elif action == "end" and running:
            j = sim.engine.jobs[running[pick % len(running)]]
            sim.end(j.id, OUTCOMES[pick % len(OUTCOMES)])
        elif action in ("hold", "release", "rm") and live:
            chosen = jobs(sim, *live[pick % len(live):pick % len(live) + 1 + pick % 3])
            if action == "rm":
                sim.feed(fx.Remove(chosen, "ann", admin=True))
            else:
                sim.feed(fx.Hold(chosen, "ann", action == "hold", admin=True))
        elif action == "requeue" and (ended or live):
            if pick % 2 and ended:
                chosen = (sim.ended.pop(ended[pick % len(ended)]),)
            elif live:
                chosen = jobs(sim, live[pick % len(live)])
            else:
                continue
            sim.feed(fx.Requeue(chosen, chosen[0].user))
        engine = sim.engine
        assert set(engine.jobs) == {i for i, s in sim.stored.items() if not s.final}
        assert all(sim.stored[i] is j.state for i, j in engine.jobs.items())
        assert {i for i, j in engine.jobs.items() if j.held} == \
            {i for i in sim.held if i in engine.jobs}
        queued = [j for j in engine.jobs.values() if j.state is JobState.WAITING]
        assert len(engine.waiting) == sum(len(q) for q in engine.queue.values()) \
            == sum(not j.held for j in queued)
        assert sum(len(q) for q in engine.blocked_queue.values()) == sum(j.held for j in queued)
        assert engine.aside_of == Counter(j.user for j in queued if j.held)
        assert engine.waiting_count() == len(queued)
        assert dict(engine.active_in) == Counter(j.number_shown for j in engine.jobs.values())
        for use in engine.view().hosts():
            assert use.used_cores <= use.host.cores
