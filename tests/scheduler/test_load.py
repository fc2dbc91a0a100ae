"""Load-aware placement: hosts over a limit on their own load take no new job;
the less loaded come first; GPUs go by free memory."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from wq.model import Cluster, GpuSample, Placement, Sample, Slice
from wq.scheduler import ClusterView, plan, waiting_reason
from wq.scheduler.load import assess, wq_share
from wq.scheduler.why import Facts, why_hosts
from wq.scheduler import Usage

from tests.builders import host, job


def limited(name: str, **kw) -> object:
    return dataclasses.replace(host(name, cores=4), **kw)


def test_a_host_over_its_load_limit_takes_no_new_job():
    a, b = limited("a", max_load=1.0), limited("b", max_load=1.0)
    v = ClusterView.build(Cluster((a, b)), samples={"a": Sample(load=3.5), "b": Sample(load=0.2)})
    starts = plan([job(1), job(2)], v, now=0)
    assert {s.placement.first_host for s in starts} == {"b"}
    assert v.uses["a"].over == "load 3.50, 3.50 beyond wq's jobs: over its max_load 1"


def test_wq_s_own_jobs_do_not_count_against_the_limit():
    a = limited("a", max_load=1.0)
    busy = Placement((Slice("a", 3),))
    v = ClusterView.build(Cluster((a,)), [busy], samples={"a": Sample(load=3.5)})
    assert v.uses["a"].over is None and v.uses["a"].load == 0.5
    # the load of jobs that just ended lingers in the average: still wq's
    v = ClusterView.build(Cluster((a,)), samples={"a": Sample(load=3.5)}, wq_load={"a": 3.0})
    assert v.uses["a"].over is None


def test_wq_share_decays_as_the_load_average_does():
    assert wq_share(None, 3, 0) == 3.0
    assert wq_share(4.0, 0, 0) == 4.0
    assert 1.4 < wq_share(4.0, 0, 60) < 1.5          # e^-1 of it a minute later
    assert wq_share(0.0, 2, 1e6) == 2.0


def test_memory_limit():
    a = limited("a", min_free_mem=4.0)
    assert assess(a, Sample(mem_free=2.5), 0).over == \
        "2.5 GB of memory available: under its min_free_mem 4"
    assert assess(a, Sample(mem_free=5.0), 0).over is None
    assert assess(a, None, 0).over is None                     # not measured yet


def test_the_less_loaded_of_otherwise_equal_hosts_comes_first():
    hosts = (host("a"), host("b"), host("c"))
    v = ClusterView.build(Cluster(hosts), samples={"a": Sample(load=2.6), "b": Sample(load=0.3),
                                                  "c": Sample(load=0.9)})
    assert [s.placement.first_host for s in plan([job(1)], v, now=0)] == ["b"]
    # within a whole core of load, the cluster file's order stands
    v = ClusterView.build(Cluster(hosts), samples={"a": Sample(load=0.6), "b": Sample(load=0.1)})
    assert [s.placement.first_host for s in plan([job(1)], v, now=0)] == ["a"]


def test_gpus_go_by_free_memory_and_a_full_one_is_not_handed_out():
    g = dataclasses.replace(host("g", cores=8, gpus=4), min_free_gpu_mem=8.0)
    sample = Sample(gpus=(GpuSample(0, 80, 70), GpuSample(1, 80, 1), GpuSample(2, 80, 40),
                          GpuSample(3, 80, 75)))
    v = ClusterView.build(Cluster((g,)), samples={"g": sample})
    assert v.uses["g"].free_gpus == [1, 2, 0]                   # 3 has 5 GB free
    [start] = plan([job(1, gpus=2)], v, now=0)
    assert start.placement.slices[0].gpu_ids == (1, 2)
    assert plan([job(2, gpus=2)], v, now=0) == []               # only GPU 0 is left
    assert "waiting" in waiting_reason(job(2, gpus=2), v)


def test_why_names_the_load():
    a = limited("a", max_load=1.0)
    v = ClusterView.build(Cluster((a,)), samples={"a": Sample(load=3.5)})
    [h] = why_hosts(job(1), v, v.copy(), {}, {}, Facts(usage=Usage()))
    assert h.rule == "load" and "over its max_load 1" in h.detail
    assert waiting_reason(job(1), v) == \
        "waiting: every eligible host is unavailable (a over its load limit)"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 8), st.sampled_from([None, 0.5, 2.0])),
                min_size=1, max_size=5),
       st.lists(st.integers(1, 4), max_size=10))
def test_a_host_over_a_load_limit_is_never_chosen(loads, sizes):
    hosts = tuple(dataclasses.replace(host(f"h{i}", cores=4), max_load=limit)
                  for i, (_, limit) in enumerate(loads))
    samples = {f"h{i}": Sample(load=load) for i, (load, _) in enumerate(loads)}
    v = ClusterView.build(Cluster(hosts), samples=samples)
    over = {h.name for h in hosts if h.max_load is not None
            and samples[h.name].load > h.max_load}
    for start in plan([job(i + 1, mode="bycore1", n=n) for i, n in enumerate(sizes)], v,
                      now=0):
        assert not set(start.placement.hosts) & over
