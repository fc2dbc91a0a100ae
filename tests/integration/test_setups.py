"""A host's setup before its first job and teardown once idle, on real hosts."""

from __future__ import annotations

from tests.integration.conftest import cluster_yaml, jobs, stat, wait_hosts_up, wait_state
from tests.integration.sshd import wait_for


def test_setup_runs_once_per_host_and_teardown_after_idle(make_server, keys, hosts,
                                                          tmp_path):
    events = tmp_path / "events"
    defaults = (f'setup: "echo setup $(hostname) >> {events}"\n'
                f'teardown: "echo teardown >> {events}"\n'
                "teardown_after: 2s")
    server = make_server(cluster_yaml(keys, hosts[:1], defaults=defaults), wait_up=False)
    wait_hosts_up(server, ["node1"])

    def lines() -> list[str]:
        return [line.split()[0] for line in events.read_text().splitlines()] \
            if events.exists() else []
    ids = [int(server.wq("sub", "-b", "-c", f"sleep 0.3; echo job >> {events}",
                         cwd=str(tmp_path)).stdout) for _ in range(3)]
    for job_id in ids:
        wait_state(server, job_id, ("done",))
    assert lines() == ["setup", "job", "job", "job"]
    wait_for(lambda: lines()[-1:] == ["teardown"], 20, "the teardown after 2 s idle")
    server.wait_log("host node1: torn down after 2 s idle", 10)

    one = int(server.wq("sub", "-b", "-c", f"echo job >> {events}").stdout)
    wait_state(server, one, ("done",))
    assert lines()[-2:] == ["setup", "job"]              # set up again

    server.stop()                                        # a restart does not set up again
    server.start()
    again = int(server.wq("sub", "-b", "-c", f"echo job >> {events}").stdout)
    wait_state(server, again, ("done",))
    assert lines()[-3:] == ["setup", "job", "job"]

    assert server.wq("node", "offline", "node1").returncode == 0
    wait_for(lambda: lines()[-1:] == ["teardown"], 20, "the teardown at wq node offline")


def test_a_failed_setup_drains_the_host_and_the_job_runs_elsewhere(make_server, keys, hosts,
                                                                  tmp_path):
    text = cluster_yaml(keys, hosts[:2]).replace(
        "    labels: [a, ab]\n",
        "    labels: [a, ab]\n    setup: \"echo no licence server here >&2; exit 3\"\n")
    server = make_server(text, wait_up=False)
    wait_hosts_up(server, ["node1", "node2"])
    job_id = int(server.wq("sub", "-b", "-c", "echo $WQ_HOST", cwd=str(tmp_path)).stdout)
    wait_state(server, job_id, ("done",))
    assert server.wq("log", str(job_id)).stdout == "node2\n"
    node1 = stat(server)["node1"]
    assert node1["state"] == "offline"
    assert node1["reason"] == ("drained: its setup failed (exit 3): no licence server here; "
                               "wq node online node1 tries again")
    record = jobs(server, "--all")[job_id]
    assert record["instance"] == 2                       # the first never started
