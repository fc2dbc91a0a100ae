"""Licences: the cluster's named counts, held by jobs while they run."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from wq.model import Cluster
from wq.scheduler import ClusterView, admit, plan, waiting_reason

from tests.builders import host, job

HOSTS = (host("a", cores=4), host("b", cores=4))


def view(resources: dict[str, int], used: list[tuple[str, int]] = ()) -> ClusterView:
    return ClusterView.build(Cluster(HOSTS, resources=tuple(sorted(resources.items()))),
                             licenses_used=used)


def test_two_jobs_needing_the_only_licence_start_one_at_a_time():
    v = view({"matlab": 1})
    first, second = job(1, licenses=(("matlab", 1),)), job(2, licenses=(("matlab", 1),))
    other = job(3)
    assert [s.job_id for s in plan([first, second, other], v, now=10)] == [1, 3]
    assert waiting_reason(second, v) == "waiting for 1 matlab licence (0 of 1 free)"


def test_licences_held_by_running_jobs_are_not_free():
    v = view({"matlab": 4, "genus": 3}, used=[("matlab", 3), ("genus", 1)])
    wants = job(1, licenses=(("genus", 1), ("matlab", 2)))
    assert plan([wants], v, now=10) == []
    assert waiting_reason(wants, v) == "waiting for 2 matlab licences (1 of 4 free)"
    assert [s.job_id for s in plan([job(2, licenses=(("matlab", 1),))], v, now=10)] == [2]


def test_a_request_beyond_the_cluster_is_refused_at_submission():
    v = view({"matlab": 2})
    refused = admit(job(1, licenses=(("matlab", 3),)).spec.requirements, v)
    assert refused is not None and refused.reason == \
        "needs 3 matlab licences; the cluster has 2"
    refused = admit(job(1, licenses=(("ansys", 1),)).spec.requirements, v)
    assert refused is not None and refused.reason == \
        "no licence named 'ansys' in the cluster's resources (it has: matlab)"
    assert admit(job(1, licenses=(("matlab", 2),)).spec.requirements, v) is None


def test_more_held_than_there_is_after_a_count_was_lowered():
    v = view({"matlab": 1}, used=[("matlab", 2)])
    assert v.free_licenses("matlab") == 0
    assert plan([job(1, licenses=(("matlab", 1),))], v, now=10) == []


def test_a_starved_job_reserves_its_licences_not_hosts():
    v = view({"matlab": 2}, used=[("matlab", 1)])
    big = job(1, submitted=0.0, licenses=(("matlab", 2),))
    small = job(2, submitted=5.0, licenses=(("matlab", 1),))
    plain = job(3, submitted=6.0)
    # not starved yet: the small one takes the free licence
    assert [s.job_id for s in plan([big, small, plain], view({"matlab": 2}, [("matlab", 1)]),
                                   now=100, starve_after=300)] == [2, 3]
    # starved: the licence is kept for it; hosts are not (the plain job starts)
    assert [s.job_id for s in plan([big, small, plain], v, now=400,
                                   starve_after=300)] == [3]


TOTALS = st.fixed_dictionaries({"m": st.integers(0, 4), "g": st.integers(0, 2)})
WANTS = st.lists(st.sampled_from([(), (("m", 1),), (("m", 2),), (("g", 1),),
                                  (("g", 1), ("m", 1))]), max_size=20)


@settings(max_examples=300, deadline=None)
@given(TOTALS, WANTS, st.lists(st.sampled_from([("m", 1), ("g", 1)]), max_size=3),
       st.integers(1, 3), st.sampled_from([0.0, 1000.0]))
def test_licences_are_never_oversubscribed(totals, wants, used, rounds, now):
    v = view(totals, used)
    before = Counter()
    for name, n in used:
        before[name] += n
    waiting = [job(i + 1, submitted=float(i), licenses=w) for i, w in enumerate(wants)]
    taken: Counter[str] = Counter()
    for r in range(rounds):
        started = {s.job_id for s in plan(waiting, v, now=now + r, starve_after=300)}
        for j in waiting:
            if j.id in started:
                taken.update(dict(j.spec.requirements.licenses))
        waiting = [j for j in waiting if j.id not in started]
    for name, total in totals.items():
        assert taken[name] <= max(total - before[name], 0)
