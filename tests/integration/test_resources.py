"""The cluster's resources (licences) on real hosts: held while jobs run, across
a restart and a refresh."""

from __future__ import annotations

import json

from tests.integration.conftest import cluster_yaml, info, jobs, wait_state
from tests.integration.sshd import wait_for


def test_two_jobs_needing_the_only_licence_run_one_after_the_other(make_server, keys, hosts,
                                                                   tmp_path):
    text = cluster_yaml(keys, hosts) + "resources: {matlab: 1, genus: 2}\n"
    server = make_server(text)
    flag = tmp_path / "go"
    first = int(server.wq("sub", "-b", "--license", "matlab", "-c",
                          f"while [ ! -e {flag} ]; do sleep 0.05; done",
                          cwd=str(tmp_path)).stdout)
    wait_state(server, first, ("running",))
    second = int(server.wq("sub", "-b", "-r", "licenses: matlab=1, genus", "-c", "true",
                           cwd=str(tmp_path)).stdout)
    free = int(server.wq("sub", "-b", "--license", "genus=2", "-c", "true",
                         cwd=str(tmp_path)).stdout)
    wait_state(server, free, ("done",))               # other licences are not held up

    def reason() -> str:
        return jobs(server)[second]["reason"]
    wait_for(lambda: reason() == "waiting for 1 matlab licence (0 of 1 free)", 10,
             "the waiting reason")
    why = json.loads(server.wq("why", "--json", str(second)).stdout)
    assert why["summary"] == "waiting for 1 matlab licence (0 of 1 free)"
    assert {h["host"]: h["rule"] for h in why["hosts"]} == \
        {h.name: "licences" for h in hosts}
    text = server.wq("why", str(second)).stdout.splitlines()
    assert text[0] == f"job {second} (waiting): waiting for 1 matlab licence (0 of 1 free)"
    assert text[2].split() == ["Host", "Rule", "Why", "To", "change"]
    assert server.wq("why", str(first)).stdout.startswith(
        f"job {first} (running): it is running, on ")
    stat = json.loads(server.wq("stat", "--json").stdout)
    assert stat["licenses"] == [{"name": "genus", "total": 2, "used": 0},
                                {"name": "matlab", "total": 1, "used": 1}]
    assert "Licences used/total: genus 0/2, matlab 1/1" in server.wq("stat").stdout

    server.stop()                                     # the licence stays held by its job
    server.start()
    assert jobs(server)[second]["state"] == "waiting"
    assert reason() == "waiting for 1 matlab licence (0 of 1 free)"

    r = server.wq("sub", "-b", "--license", "matlab=2", "-c", "true")
    assert r.returncode == 1
    assert r.stderr.strip().endswith("needs 2 matlab licences; the cluster has 1")

    flag.touch()
    wait_state(server, second, ("done",))
    ended = info(server, first)["instances"][0]["ended"]
    assert info(server, second)["instances"][0]["started"] >= ended


def test_a_refresh_changes_the_counts(make_server, keys, hosts, tmp_path):
    server = make_server(cluster_yaml(keys, hosts) + "resources: {matlab: 1}\n")
    flag = tmp_path / "go"
    first = int(server.wq("sub", "-b", "--license", "matlab", "-c",
                          f"while [ ! -e {flag} ]; do sleep 0.05; done",
                          cwd=str(tmp_path)).stdout)
    wait_state(server, first, ("running",))
    second = int(server.wq("sub", "-b", "--license", "matlab", "-c", "true",
                           cwd=str(tmp_path)).stdout)
    server.cluster.write_text(cluster_yaml(keys, hosts) + "resources: {matlab: 2}\n")
    assert server.wq("refresh").returncode == 0
    wait_state(server, second, ("done",))             # the second licence came with it
    server.cluster.write_text(cluster_yaml(keys, hosts))
    assert server.wq("refresh").returncode == 0
    third = server.wq("sub", "-b", "--license", "matlab", "-c", "true")
    assert third.returncode == 1 and "no licence named 'matlab'" in third.stderr
    stat = json.loads(server.wq("stat", "--json").stdout)
    assert stat["licenses"] == [{"name": "matlab", "total": 0, "used": 1}]
    flag.touch()
    wait_state(server, first, ("done",))
