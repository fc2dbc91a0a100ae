"""wq why: for each host, the first rule that keeps a waiting job off it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wq.model import Cluster, Limits, Placement, Slice
from wq.scheduler import ClusterView, Reservations, Usage, plan
from wq.scheduler.why import RULES, Facts, why_hosts

from tests.builders import host, job, with_
from tests.scheduler.test_properties import jobs_st, hosts_st


def rules(j, v, after=None, reservations=None, **facts):
    reservations = reservations or Reservations()
    found = why_hosts(j, v, after or v.copy(), reservations.hosts, reservations.licenses,
                      Facts(usage=facts.pop("usage", Usage()), **facts))
    return {h.host: (h.rule, h.detail) for h in found}


HOSTS = (host("a", cores=4, mem=8, labels=["cpu"]), host("b", cores=8, mem=64, gpus=2,
                                                         labels=["gpu"]),
         host("c", cores=2, labels=["cpu"]))


def view(**kw) -> ClusterView:
    return ClusterView.build(Cluster(HOSTS, resources=(("matlab", 1),)), **kw)


def test_each_host_gets_its_first_rule():
    found = rules(job(1, mode="bycore1", n=4, groups="cpu", mem=16), view(offline=["c"]))
    assert found["b"][0] == "labels"
    assert found["a"] == ("memory", "8 GB in all; the job needs 16 GB")
    assert found["c"][0] == "cores"          # 2 cores: never, before offline


def test_state_then_room_then_cluster_rules():
    v = view(down=["c"], placements=[Placement((Slice("a", 3),))],
             licenses_used=[("matlab", 1)])
    found = rules(job(1, mode="bycore1", n=2), v)
    assert found["a"] == ("cores", "1 of its 4 cores free; the job needs 2")
    assert found["c"] == ("down", "unreachable")
    assert found["b"] == (None, "free for it")
    found = rules(job(1, licenses=(("matlab", 1),)), v, down={"c": "cannot connect"})
    assert found["b"] == ("licences", "1 matlab licence (0 of 1 free)")
    assert found["c"] == ("down", "cannot connect")
    found = rules(job(1, n=2), v, limits=Limits(cores=3), usage=Usage(1, 2))
    assert found["b"] == ("user limit", "2 cores in use + 2 asked, limit 3")


def test_job_level_rules_come_last():
    v = view()
    assert rules(job(1), v, blocked="waiting for job 7 (afterok)")["a"] == \
        ("dependency", "job 7 (afterok)")
    assert rules(job(1), v, throttled="array 3 runs at most 2 tasks at once")["a"][0] == \
        "throttle"
    assert rules(job(1), v, launcher=False)["a"] == \
        ("launcher", "ann's launcher is not connected")


def test_reservations_and_the_queue():
    v = view()
    starved = job(9, n=1)
    reservations = Reservations()
    reservations.add(starved, ["a"], ["matlab"])
    found = rules(job(1), v, reservations=reservations)
    assert found["a"][0] == "reserved" and "job 9" in found["a"][1]
    assert rules(job(1, licenses=(("matlab", 1),)), v,
                 reservations=reservations)["b"][0] == "licences"
    after = v.copy()
    after.take(Placement((Slice("b", 8),)))
    assert rules(job(1, mode="bycore1", n=4), v, after=after)["b"][0] == "queue"


def test_hosts_taken_together():
    v = view(placements=[Placement((Slice("a", 4),)), Placement((Slice("b", 7),))])
    found = rules(job(1, mode="bycore", n=4), v)
    assert {r for r, _ in found.values()} == {"cores"}
    assert "needs 4 cores in all" in found["c"][1]
    found = rules(job(1, mode="bynode", n=3), view(placements=[Placement((Slice("a", 1),))]))
    assert found["a"][0] == "mode" and found["b"][0] == "mode"
    found = rules(job(1, mode="bygroup", groups="cpu"),
                  view(placements=[Placement((Slice("a", 1),))]))
    assert found["b"][0] == "labels" and found["c"] == (
        "mode", "bygroup takes every host of its group at once; a is not free for it (mode)")


@settings(max_examples=300, deadline=None)
@given(hosts_st, st.data())
def test_every_host_not_chosen_for_a_job_that_waits_has_a_rule(hosts, data):
    names = [h.name for h in hosts]
    offline = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    busy = data.draw(st.lists(st.tuples(st.sampled_from(names), st.integers(1, 8)),
                              max_size=4))
    v = ClusterView.build(Cluster(tuple(hosts)), offline=offline)
    for name, cores in busy:
        if v.uses[name].free_cores >= cores:
            v.take(Placement((Slice(name, cores),)))
    jobs = data.draw(jobs_st(len(hosts)))
    for j in jobs[:5]:
        j = with_(j, avoid=())
        starts = plan([j], v.copy(), now=0.0)      # (alone: nothing ahead takes room)
        found = why_hosts(j, v, v.copy(), {}, {}, Facts(usage=Usage()))
        assert [h.host for h in found] == names
        assert all(h.rule is None or h.rule in RULES for h in found)
        if not starts:
            assert all(h.rule is not None for h in found), (j.spec.requirements, found)
        else:
            chosen = set(starts[0].placement.hosts)
            assert all(h.rule is None for h in found if h.host in chosen)
