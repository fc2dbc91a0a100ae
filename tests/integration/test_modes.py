"""Every placement mode, against three real hosts of 2 cores each (labels a/ab, b/ab, c)."""

from __future__ import annotations

from tests.integration.conftest import jobs, wait_state


def run(server, tmp_path, reqs: str, command: str = 'echo "$WQ_HOST $WQ_NCORES $WQ_HOSTS"'):
    r = server.wq("sub", "-r", reqs, "-c", command, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bycore_spans_hosts_and_writes_a_hostfile(server, tmp_path):
    host, ncores, hosts = run(server, tmp_path, "N: 5", 'echo "$WQ_HOST $WQ_NCORES $WQ_HOSTS"'
                              '; sort "$WQ_HOSTFILE" | uniq -c | tr -s " " | tr "\\n" ";"')[:3]
    assert (host, ncores, hosts) == ("node1", "5", "node1,node2,node3")
    r = server.wq("sub", "-r", "N: 5", "-c", 'cat "$WQ_HOSTFILE"', cwd=str(tmp_path))
    assert r.stdout.split() == ["127.0.0.2"] * 2 + ["127.0.0.3"] * 2 + ["127.0.0.4"]


def test_hostfile_path_and_placeholder(server, tmp_path):
    r = server.wq("sub", "-r", "N: 3; hostfile: hf", "-c", "wc -l < hf; wc -l < %hostfile%",
                  cwd=str(tmp_path))
    assert r.stdout.split() == ["3", "3"], r.stderr


def test_bycore1_stays_on_one_host(server, tmp_path):
    assert run(server, tmp_path, "mode: bycore1; N: 2") == ["node1", "2", "node1"]
    r = server.wq("sub", "-r", "mode: bycore1; N: 3", "-c", "true", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "refused" in r.stderr and "3 cores on one host" in r.stderr


def test_byhost(server, tmp_path):
    assert run(server, tmp_path, "mode: byhost; host: node3; N: 2") == ["node3", "2", "node3"]


def test_bynode_takes_whole_hosts(server, tmp_path):
    assert run(server, tmp_path, "mode: bynode; N: 2") == ["node1", "4", "node1,node2"]


def test_bygroup_takes_every_host_of_the_group(server, tmp_path):
    assert run(server, tmp_path, "mode: bygroup; group: ab") == ["node1", "4", "node1,node2"]


def test_group_and_notgroup(server, tmp_path):
    assert run(server, tmp_path, "group: ab; notgroup: a") == ["node2", "1", "node2"]


def test_priority_orders_the_queue(server, tmp_path):
    blocker = int(server.wq("sub", "-b", "-r", "mode: bynode; N: 3", "-c", "sleep 60",
                            cwd=str(tmp_path)).stdout)
    wait_state(server, blocker, ("running",))
    low = int(server.wq("sub", "-b", "-r", "priority: low; mode: bynode; N: 3", "-c", "sleep 60",
                        cwd=str(tmp_path)).stdout)
    high = int(server.wq("sub", "-b", "-r", "priority: high; mode: bynode; N: 3", "-c",
                         "sleep 60", cwd=str(tmp_path)).stdout)
    server.wq("rm", str(blocker))
    wait_state(server, high, ("running",))
    assert jobs(server)[low]["state"] == "waiting"
