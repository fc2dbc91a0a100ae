"""Properties of plan(): never overcommit, placements satisfy requirements, deterministic."""

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from wq.model import Cluster, Job, Mode, Placement
from wq.scheduler import ClusterView, filters, plan

from tests.builders import host, job

LABELS = ["a", "b", "c"]

hosts_st = st.lists(
    st.builds(lambda i, cores, mem, gpus, labels: host(f"h{i}", cores, mem, gpus, labels),
              st.integers(0, 0), st.integers(1, 8), st.sampled_from([0, 8, 32]),
              st.integers(0, 2), st.lists(st.sampled_from(LABELS), max_size=2, unique=True)),
    min_size=1, max_size=6,
).map(lambda hs: [h.__class__(**{**{s: getattr(h, s) for s in h.__slots__}, "name": f"h{i}"})
                  for i, h in enumerate(hs)])


@st.composite
def jobs_st(draw: st.DrawFn, n_hosts: int) -> list[Job]:
    out = []
    for i in range(draw(st.integers(0, 25))):
        mode = draw(st.sampled_from(list(Mode)))
        kw: dict = {"mode": mode, "priority": draw(st.sampled_from([10, 20, 30]))}
        if mode is not Mode.BYGROUP:
            kw["n"] = draw(st.integers(1, 6 if mode is not Mode.BYNODE else 3))
        if mode is Mode.BYHOST:
            kw["hosts"] = f"h{draw(st.integers(0, n_hosts - 1))}"
        if mode is Mode.BYGROUP or draw(st.booleans()):
            kw["groups"] = draw(st.sampled_from(LABELS))
        if draw(st.booleans()):
            kw["not_groups"] = draw(st.sampled_from([g for g in LABELS if g != kw.get("groups")]))
        kw["mem"] = draw(st.sampled_from([0, 0, 4]))
        kw["gpus"] = draw(st.sampled_from([0, 0, 1]))
        kw["min_cores"] = draw(st.sampled_from([0, 0, 4]))
        out.append(job(i + 1, user=draw(st.sampled_from(["ann", "bob"])),
                       submitted=draw(st.floats(0, 1000)), **kw))
    return out


@st.composite
def scenario(draw: st.DrawFn):
    hosts = draw(hosts_st)
    names = [h.name for h in hosts]
    offline = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    return hosts, offline, draw(jobs_st(len(hosts)))


def satisfies(j: Job, p: Placement, hosts: dict) -> bool:
    r = j.spec.requirements
    if not all(filters.eligible(hosts[s.host], r) for s in p.slices):
        return False
    if len(set(p.hosts)) != len(p.hosts):
        return False
    if r.mode in (Mode.BYCORE, Mode.BYCORE1, Mode.BYHOST) and p.cores != r.n:
        return False
    if r.mode in (Mode.BYCORE1, Mode.BYHOST) and len(p.slices) != 1:
        return False
    if r.mode is Mode.BYHOST and p.first_host != r.hosts[0]:
        return False
    if r.mode is Mode.BYNODE and (len(p.slices) != r.n or not all(s.whole for s in p.slices)):
        return False
    if r.mode is Mode.BYGROUP:
        group = {h for h, x in hosts.items() if filters.eligible(x, r)}
        if set(p.hosts) != group:
            return False
    return all(len(s.gpu_ids) >= r.gpus and s.mem >= r.mem for s in p.slices)


@settings(max_examples=300, deadline=None)
@given(scenario(), st.integers(1, 4))
def test_never_overcommits_and_placements_satisfy(sc, rounds):
    hosts, offline, jobs = sc
    by_name = {h.name: h for h in hosts}
    view = ClusterView.build(Cluster(tuple(hosts)), offline=offline)
    waiting = list(jobs)
    placed: list[tuple[Job, Placement]] = []
    for r in range(rounds):
        starts = plan(waiting, view, now=float(r * 200), starve_after=300)
        started = {s.job_id for s in starts}
        for s in starts:
            j = next(x for x in waiting if x.id == s.job_id)
            placed.append((j, s.placement))
        waiting = [j for j in waiting if j.id not in started]
    cores, mem = defaultdict(int), defaultdict(float)
    gpus, whole = defaultdict(list), defaultdict(int)
    for j, p in placed:
        assert satisfies(j, p, by_name), (j.spec.requirements, p)
        for s in p.slices:
            assert s.host not in offline
            cores[s.host] += s.cores
            mem[s.host] += s.mem
            gpus[s.host].extend(s.gpu_ids)
            whole[s.host] += s.whole
    for name, h in by_name.items():
        assert cores[name] <= h.cores
        assert mem[name] <= h.mem or mem[name] == 0
        assert len(gpus[name]) == len(set(gpus[name])) and all(g < h.gpus for g in gpus[name])
        if whole[name]:
            assert whole[name] == 1 and cores[name] == h.cores


@settings(max_examples=100, deadline=None)
@given(scenario())
def test_plan_is_deterministic(sc):
    hosts, offline, jobs = sc
    def run(order):
        return plan(order, ClusterView.build(Cluster(tuple(hosts)), offline=offline), now=50)
    assert run(jobs) == run(list(reversed(jobs)))
