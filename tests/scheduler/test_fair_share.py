"""Fair share (a lab): after priority, the user with less of their weighted share
in use goes first; FIFO within a user."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import cluster, host, job, with_
from tests.scheduler.test_properties import hosts_st, jobs_st
from wq.model import Cluster, Placement, Slice
from wq.scheduler import ClusterView, plan
from wq.scheduler.limits import Usage


def started_by(starts, queue) -> Counter:  # type: ignore[no-untyped-def]
    users = {j.id: j.user for j in queue}
    return Counter(users[s.job_id] for s in starts)


def test_a_big_array_holds_another_users_single_job_back_by_one_job_end_at_most():
    h = host("a", cores=4)
    array = [with_(job(100 + i, user="alice", submitted=1.0), number=100, task=i)
             for i in range(1, 101)]
    running = [Placement((Slice("a", 1),))] * 3          # one of alice's tasks just ended
    view = ClusterView.build(Cluster((h,)), running)
    single = job(500, user="bob", submitted=50.0)
    starts = plan([*array[3:], single], view, now=60.0, usage={"alice": Usage(3, 3)},
                  shares={})
    assert [s.job_id for s in starts] == [500]
    # without fair share the queue is FIFO: the array's next task goes first
    view = ClusterView.build(Cluster((h,)), running)
    assert [s.job_id for s in plan([*array[3:], single], view, now=60.0,
                                   usage={"alice": Usage(3, 3)})] == [104]


def test_weights_divide_the_cluster():
    queue = [job(i, user="alice", submitted=float(i)) for i in range(1, 11)] + \
        [job(i, user="bob", submitted=float(i)) for i in range(11, 21)]
    starts = plan(queue, cluster(host("a", cores=6)), now=30.0, shares={"alice": 2.0})
    assert started_by(starts, queue) == {"alice": 4, "bob": 2}


def test_priority_comes_before_share_and_fifo_holds_within_a_user():
    queue = [job(1, user="alice", submitted=1.0), job(2, user="alice", submitted=2.0),
             job(3, user="bob", submitted=3.0, priority=10),
             job(4, user="alice", submitted=4.0, priority=30)]
    starts = plan(queue, cluster(host("a", cores=2)), now=10.0,
                  usage={"alice": Usage(8, 8)}, shares={})
    assert [s.job_id for s in starts] == [4, 1]      # high priority, then alice's oldest


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ann", "bob", "cyd"]), st.integers(1, 40)),
                min_size=1, max_size=60),
       st.integers(1, 16))
def test_equal_users_get_cores_within_one_of_each_other(entries, cores):
    """Single-core jobs, nothing running: each user with jobs still waiting has
    within one job of every other's started, and each user's started jobs are
    their earliest."""
    queue = [job(i, user=user, submitted=float(t)) for i, (user, t) in enumerate(entries, 1)]
    starts = plan(queue, cluster(host("a", cores=cores)), now=100.0, shares={})
    count = started_by(starts, queue)
    waiting_left = {j.user for j in queue} - {j.user for j in queue
                                              if count[j.user] == sum(
                                                  1 for k in queue if k.user == j.user)}
    for user in waiting_left:
        assert all(count[user] >= count[other] - 1 for other in count), (count, cores)
    started = {s.job_id for s in starts}
    for user in {j.user for j in queue}:
        theirs = sorted((j for j in queue if j.user == user),
                        key=lambda j: (j.submitted, j.id))
        flags = [j.id in started for j in theirs]
        assert flags == sorted(flags, reverse=True)          # a prefix: FIFO within a user


@settings(max_examples=100, deadline=None)
@given(hosts_st, st.data())
def test_one_user_alone_is_scheduled_exactly_as_without_fair_share(hosts, data):
    queue = [with_(j, user="ann") for j in data.draw(jobs_st(len(hosts)))]
    plain = plan(queue, ClusterView.build(Cluster(tuple(hosts))), now=1000.0)
    fair = plan(queue, ClusterView.build(Cluster(tuple(hosts))), now=1000.0,
                shares={"ann": 3.0})
    assert plain == fair
