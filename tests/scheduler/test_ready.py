"""Users whose jobs cannot be launched now (a lab member's launcher is away)
are passed over, and their jobs say why."""

from tests.builders import cluster, host, job
from wq.scheduler import plan, waiting_reason


def test_only_the_ready_users_jobs_start_and_the_others_say_why():
    view = cluster(host("a", cores=4))
    queue = [job(1, user="bob"), job(2, user="ann"), job(3, user="bob")]
    starts = plan(queue, view, now=10.0, ready={"ann"})
    assert [s.job_id for s in starts] == [2]
    assert waiting_reason(queue[0], view, ready={"ann"}).startswith(
        "waiting for bob's launcher")
    assert [s.job_id for s in plan(queue, cluster(host("a", cores=4)), now=10.0)] \
        == [1, 2, 3]
