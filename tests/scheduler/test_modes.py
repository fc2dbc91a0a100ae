from wq.model import Limits, Mode
from wq.scheduler import Start, admit, plan, waiting_reason
from wq.scheduler.limits import Usage

from tests.builders import cluster, host, job, req


def slices(start: Start) -> list[tuple[str, int]]:
    return [(s.host, s.cores) for s in start.placement.slices]


def test_default_is_one_core_on_the_first_host():
    [d] = plan([job(1)], cluster(host("a"), host("b")), now=0)
    assert slices(d) == [("a", 1)]


def test_bycore_prefers_one_host_then_spans():
    view = cluster(host("a", cores=2), host("b", cores=4))
    [d] = plan([job(1, n=3)], view, now=0)
    assert slices(d) == [("b", 3)]
    [d] = plan([job(2, n=3)], view, now=0)
    assert slices(d) == [("a", 2), ("b", 1)]


def test_bycore1_never_spans_hosts():
    view = cluster(host("a", cores=2), host("b", cores=2))
    assert plan([job(1, mode="bycore1", n=3)], view, now=0) == []
    refused = admit(req(mode="bycore1", n=3), view)
    assert refused is not None and "3 cores on one host" in refused.reason


def test_byhost_uses_only_the_named_host():
    view = cluster(host("a"), host("b"))
    [d] = plan([job(1, mode="byhost", hosts="b", n=2)], view, now=0)
    assert slices(d) == [("b", 2)]
    refused = admit(req(mode="byhost", hosts="zz"), view)
    assert refused is not None and "'zz'" in refused.reason


def test_bynode_takes_idle_hosts_whole():
    view = cluster(host("a", cores=2), host("b", cores=8), host("c", cores=8))
    [busy] = plan([job(1)], view, now=0)
    [d] = plan([job(2, mode="bynode", n=2, min_cores=8)], view, now=0)
    assert slices(busy) == [("a", 1)]
    assert slices(d) == [("b", 8), ("c", 8)]
    assert all(s.whole for s in d.placement.slices)
    assert plan([job(3)], view, now=0) == [Start(3, busy.placement.__class__(  # a still has 1
        (busy.placement.slices[0].__class__("a", 1),)))]


def test_bygroup_takes_every_host_of_the_group_or_none():
    view = cluster(host("a", labels=["g"]), host("b", labels=["g"]), host("c"))
    [d] = plan([job(1, mode="bygroup", groups="g")], view, now=0)
    assert sorted(slices(d)) == [("a", 4), ("b", 4)]


def test_bygroup_waits_when_one_host_of_the_group_is_offline():
    view = cluster(host("a", labels=["g"]), host("b", labels=["g"]), offline=("b",))
    assert plan([job(1, mode="bygroup", groups="g")], view, now=0) == []
    reason = waiting_reason(job(1, mode="bygroup", groups="g"), view)
    assert "b" in reason and "offline" in reason


def test_notgroup_is_honoured():
    view = cluster(host("a", labels=["slow"]), host("b", labels=["fast"]))
    [d] = plan([job(1, not_groups="slow")], view, now=0)
    assert slices(d) == [("b", 1)]


def test_group_and_min_mem_filters():
    view = cluster(host("a", mem=8, labels=["x"]), host("b", mem=64, labels=["x"]),
                   host("c", mem=64))
    [d] = plan([job(1, groups="x", min_mem=32)], view, now=0)
    assert slices(d) == [("b", 1)]


def test_mem_is_reserved_per_host():
    view = cluster(host("a", cores=8, mem=16))
    starts = plan([job(1, mem=10), job(2, mem=10)], view, now=0)
    assert [s.job_id for s in starts] == [1]
    assert "waiting" in waiting_reason(job(2, mem=10), view)


def test_gpus_are_assigned_by_index():
    view = cluster(host("a", gpus=2))
    a, b = plan([job(1, gpus=1), job(2, gpus=1)], view, now=0)
    assert a.placement.slices[0].gpu_ids == (0,)
    assert b.placement.slices[0].gpu_ids == (1,)
    assert plan([job(3, gpus=1)], view, now=0) == []


def test_priority_then_fifo():
    view = cluster(host("a", cores=1))
    [d] = plan([job(1, priority=10), job(2, priority=20), job(3, priority=20)], view, now=0)
    assert d.job_id == 2


def test_offline_and_down_hosts_get_nothing():
    view = cluster(host("a"), host("b"), host("c"), offline=("a",), down=("b",))
    [d] = plan([job(1)], view, now=0)
    assert slices(d) == [("c", 1)]


def test_block_priority_stops_everything_behind_it():
    view = cluster(host("a", cores=2))
    plan([job(1)], view, now=0)
    starts = plan([job(2, n=2, priority=40), job(3)], view, now=10)
    assert starts == []


def test_starving_job_reserves_its_hosts():
    view = cluster(host("a", cores=4), host("b", cores=1))
    plan([job(1, n=2)], view, now=0)                  # a: 2 of 4 used
    big = job(2, mode="bycore1", n=4, submitted=0)
    small = [job(i, submitted=1) for i in range(3, 6)]
    # before the threshold, small jobs backfill a and b
    early = plan([big, *small], view.copy(), now=100, starve_after=300)
    assert {s.job_id for s in early} == {3, 4, 5}
    # after it, they may only use hosts the big job cannot use
    late = plan([big, *small], view.copy(), now=400, starve_after=300)
    assert [(s.job_id, s.placement.first_host) for s in late] == [(3, "b")]


def test_limits_count_usage_plus_request():
    view = cluster(host("a", cores=8))
    limits = {"ann": Limits(cores=4)}
    usage = {"ann": Usage(jobs=1, cores=3)}
    starts = plan([job(1, n=2), job(2, n=1), job(3, user="bob", n=4)], view, now=0,
                  usage=usage, limits=limits)
    assert [s.job_id for s in starts] == [2, 3]
    reason = waiting_reason(job(1, n=2), cluster(host("a", cores=8)), usage=usage,
                            limits=limits)
    assert "limit 4" in reason


def test_job_limit():
    view = cluster(host("a", cores=8))
    starts = plan([job(i) for i in range(1, 5)], view, now=0, limits={"ann": Limits(jobs=2)})
    assert [s.job_id for s in starts] == [1, 2]


def test_refusals_say_why():
    view = cluster(host("a", cores=2), host("b", cores=2, labels=["gpu"]))
    cases = {
        req(n=5): "needs 5 cores; the eligible hosts have 4",
        req(groups="nope"): "no host matches group=nope",
        req(mode="bynode", n=3): "needs 3 whole hosts; 2 are eligible",
        req(mem=100): "no host matches mem=100",
        req(mode="bygroup", groups="zz"): "no host matches group=zz",
    }
    for r, text in cases.items():
        refused = admit(r, view)
        assert refused is not None and text in refused.reason, (r, refused)
    assert admit(req(n=4), view) is None
    assert admit(req(mode=Mode.BYGROUP, groups=("gpu",)), view) is None


def test_a_job_that_can_no_longer_fit_says_so():
    view = cluster(host("a", cores=2))
    reason = waiting_reason(job(1, n=8), view)
    assert reason.startswith("can no longer fit")


def test_a_job_held_by_its_own_limit_reserves_nothing():
    view = cluster(host("a", cores=4))
    usage = {"ann": Usage(jobs=1, cores=1)}
    limits = {"ann": Limits(jobs=1)}
    old = [job(i, submitted=0, priority=40 if i == 1 else 20) for i in (1, 2)]
    others = [job(3, user="bob", submitted=1)]
    starts = plan([*old, *others], view, now=10_000, usage=usage, limits=limits)
    assert [s.job_id for s in starts] == [3]


def test_a_retried_job_goes_to_another_host_when_it_can():
    import dataclasses

    retried = dataclasses.replace(job(1, n=2), avoid=("a",))
    [d] = plan([retried], cluster(host("a"), host("b")), now=0)
    assert slices(d) == [("b", 2)]
    busy_b = cluster(host("a"), host("b", cores=1))
    [d] = plan([retried], busy_b, now=0)          # nowhere else fits: back to a
    assert slices(d) == [("a", 2)]


# -- Slurm's shapes: tasks of `threads` cores, `nodes`, `per_host`, `whole` ----------------


def test_a_task_of_several_cores_stays_on_one_host():
    view = cluster(host("a", cores=3), host("b", cores=3))
    [d] = plan([job(1, n=4, threads=2)], view, now=0)
    assert slices(d) == [("a", 2), ("b", 2)]                # not 3 + 1


def test_nodes_spreads_over_exactly_that_many_hosts_a_task_each_then_in_order():
    view = cluster(host("a", cores=4), host("b", cores=4), host("c", cores=4))
    [d] = plan([job(1, n=2, nodes=2)], view, now=0)
    assert slices(d) == [("a", 1), ("b", 1)]               # (one host would hold it)
    [d] = plan([job(2, n=6, nodes=2)], view, now=0)
    assert slices(d) == [("a", 3), ("b", 3)]               # a's room, then b's
    refused = admit(req(n=4, nodes=4), view)
    assert refused is not None and refused.reason == "needs 4 hosts; 3 can hold a task of it"


def test_nodes_takes_the_roomiest_hosts_when_the_first_ones_are_too_small():
    view = cluster(host("a", cores=1), host("b", cores=4), host("c", cores=4))
    [d] = plan([job(1, n=8, nodes=2)], view, now=0)
    assert slices(d) == [("b", 4), ("c", 4)]


def test_per_host_caps_each_hosts_share():
    view = cluster(host("a", cores=8), host("b", cores=8))
    [d] = plan([job(1, n=8, per_host=4, nodes=2)], view, now=0)
    assert slices(d) == [("a", 4), ("b", 4)]
    refused = admit(req(n=12, threads=2, per_host=4, nodes=2), view)
    assert refused is not None and refused.reason == (
        "needs 12 cores on 2 hosts; the eligible hosts have 8 in all "
        "(2 cores a task on one host, at most 4 a host)")


def test_whole_takes_idle_hosts_whole_and_waits_for_them():
    view = cluster(host("a", cores=2), host("b", cores=2))
    busy = plan([job(1)], view, now=0)
    [d] = plan([job(2, whole=True)], view, now=0)
    assert slices(d) == [("b", 2)] and d.placement.slices[0].whole
    assert busy and plan([job(3, whole=True)], view, now=0) == []
    assert waiting_reason(job(3, whole=True), view) == \
        "waiting for idle hosts to take whole for 1 core(s) (0 idle now)"
