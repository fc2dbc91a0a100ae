"""plan() over classes of alike jobs decides exactly what the per-job pass did
(tests/scheduler/reference.py), on random queues: arrays with throttles, many
alike jobs, priorities and block, users at limits, jobs to place elsewhere,
starving jobs, offline hosts; and the Waiting index keeps queue order as jobs
come and go."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import host, job
from tests.scheduler.reference import Group, reference_plan
from tests.scheduler.test_properties import hosts_st
from wq.model import Cluster, Job, JobId, Limits
from wq.scheduler import ClusterView, Usage, Waiting, plan
from wq.scheduler.order import queue_key

SHAPES = [{"n": 1}, {"n": 2}, {"n": 3, "mem": 4}, {"mode": "bycore1", "n": 2},
          {"mode": "bynode", "n": 1}, {"gpus": 1}, {"n": 1, "groups": "a"},
          {"n": 2, "priority": 30}, {"n": 1, "priority": 40}, {"mode": "bygroup", "groups": "b"},
          {"n": 1, "not_groups": "a"}, {"mode": "byhost", "hosts": "h0", "n": 1}]


@st.composite
def queues(draw: st.DrawFn) -> tuple[list[Job], dict[int, int]]:
    jobs: list[Job] = []
    room: dict[int, int] = {}
    next_id = 1
    for number in range(1, draw(st.integers(0, 14)) + 1):
        shape = dict(draw(st.sampled_from(SHAPES)))
        user = draw(st.sampled_from(["ann", "bob", "cy"]))
        submitted = float(draw(st.integers(0, 20)))          # ties happen
        tasks = draw(st.sampled_from([None, None, 1, 3, 6]))
        for _ in range(1, (tasks or 1) + 1):
            j = job(next_id, user=user, submitted=submitted, **shape)
            j = dataclasses.replace(j, number=number,
                                    task=None if tasks is None else draw(st.integers(1, 40)),
                                    avoid=tuple(draw(st.lists(st.sampled_from(["h0", "h1"]),
                                                              max_size=1))))
            jobs.append(j)
            next_id += 1
        if tasks is not None and draw(st.booleans()):
            room[number] = draw(st.integers(0, 3))
    return jobs, room


def groups_of(jobs: list[Job], room: dict[int, int]) -> list[Group]:
    """The queue as the dispatcher used to hand it over: an array's tasks as one group
    in task order, every other job alone."""
    arrays: dict[int, list[Job]] = {}
    out = []
    for j in jobs:
        if j.task is None:
            out.append(Group((j,)))
        else:
            arrays.setdefault(j.number, []).append(j)
    for number, tasks in arrays.items():
        out.append(Group(sorted(tasks, key=lambda t: (t.task, t.id)), room.get(number)))
    return out


@settings(max_examples=400, deadline=None)
@given(hosts_st, queues(), st.integers(0, 30), st.booleans(), st.integers(0, 6))
def test_the_same_starts_as_the_per_job_pass(hosts, queue, now, limited, starve_after):
    jobs, room = queue
    view = ClusterView.build(Cluster(tuple(hosts)), offline=("h1",) if len(hosts) > 2 else ())
    limits = {"bob": Limits(jobs=2, cores=3)} if limited else {}
    usage = {"bob": Usage(1, 1)} if limited else {}
    expected = reference_plan(groups_of(jobs, room), view.copy(), now=now, usage=usage,
                              limits=limits, starve_after=starve_after)
    waiting = Waiting()
    for j in jobs:
        waiting.add(j)
    got = plan(waiting, view.copy(), now=now, usage=usage, limits=limits,
               starve_after=starve_after, room=room)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(queues(), st.data())
def test_waiting_keeps_queue_order_through_adds_and_removes(queue, data):
    jobs, _ = queue
    waiting = Waiting()
    present: dict[JobId, Job] = {}
    for j in data.draw(st.permutations(jobs)):
        waiting.add(j)
        present[j.id] = j
        if present and data.draw(st.booleans()):
            gone = present.pop(data.draw(st.sampled_from(sorted(present))))
            waiting.remove(gone)
    assert len(waiting) == len(present)
    for _, cls in waiting.heads():
        if cls.array is None:
            assert list(cls) == sorted(cls, key=queue_key)
        else:
            assert [t.task for t in cls] == sorted(t.task or 0 for t in cls)
    assert sorted(j.id for _, c in waiting.heads() for j in c) == sorted(present)


def test_a_class_that_does_not_fit_is_tried_once():
    view = ClusterView.build(Cluster((host("a", cores=4),)))
    jobs = [job(i, n=8 if i % 2 else 1, submitted=i) for i in range(1, 20_001)]
    waiting = Waiting()
    for j in jobs:
        waiting.add(j)
    assert len(waiting.classes) == 2
    starts = plan(waiting, view, now=0)
    assert [s.job_id for s in starts] == [2, 4, 6, 8]


@settings(max_examples=200, deadline=None)
@given(hosts_st, queues())
def test_free_cores_is_kept_as_placements_come_and_go(hosts, queue):
    jobs, room = queue
    view = ClusterView.build(Cluster(tuple(hosts)), offline=("h1",) if len(hosts) > 2 else ())
    starts = plan(jobs, view, now=0, room=room)

    def summed(v: ClusterView) -> int:
        return sum(u.free_cores for u in v.hosts() if u.usable)
    assert view.free_cores == summed(view)
    for start in starts:
        view.release(start.placement)
        assert view.free_cores == summed(view)
    fresh = ClusterView.build(Cluster(tuple(hosts)), offline=("h1",) if len(hosts) > 2 else ())
    assert view.free_cores == fresh.free_cores
    assert [(u.used_cores, u.whole, u.used_gpus) for u in view.hosts()] == \
        [(0, False, set()) for _ in hosts]


def test_removing_many_at_once_is_removing_each():
    jobs = [dataclasses.replace(job(i, submitted=i % 3), number=1 if i < 50 else i,
                                task=i if i < 50 else None) for i in range(1, 120)]
    one, many = Waiting(), Waiting()
    for j in jobs:
        one.add(j)
        many.add(j)
    gone = [j for j in jobs if j.id % 3 == 0 or j.id < 20]
    for j in gone:
        one.remove(j)
    many.remove_many(gone)
    assert len(one) == len(many)
    assert {k: [j.id for j in c] for k, c in one.classes.items()} == \
        {k: [j.id for j in c] for k, c in many.classes.items()}


def test_taking_heads_and_adding_keeps_order_across_compaction():
    waiting = Waiting()
    live: list[Job] = []
    for i in range(1, 1001):
        j = job(i, submitted=float(i // 7))
        waiting.add(j)
        live.append(j)
        if i % 3 == 0:                        # a start takes the first
            first = min(live, key=queue_key)
            waiting.remove(first)
            live.remove(first)
        if i % 50 == 0:                       # a requeued job goes back in its place
            back = job(10_000 + i, submitted=0.0)
            waiting.add(back)
            live.append(back)
    [cls] = waiting.classes.values()
    assert [j.id for j in cls] == [j.id for j in sorted(live, key=queue_key)]
