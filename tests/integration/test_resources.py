"""The cluster's resources on real hosts: licences held while jobs run, across a
restart and a refresh; hosts' own load sampled and obeyed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import cluster_yaml, info, jobs, wait_hosts_up, wait_state
from tests.integration.sshd import SshHost, WqServer, wait_for


def holding(server: WqServer, cwd: Path, flag: Path, *args: str) -> int:
    """A job (of `args`) that runs until `flag` exists, once it runs."""
    job_id = int(server.wq("sub", "-b", *args, "-c", f"while [ ! -e {flag} ]; do sleep 0.05; "
                           "done", cwd=str(cwd)).stdout)
    wait_state(server, job_id, ("running",))
    return job_id


def test_two_jobs_needing_the_only_licence_run_one_after_the_other(make_server, keys, hosts,
                                                                   tmp_path):
    text = cluster_yaml(keys, hosts) + "resources: {matlab: 1, genus: 2}\n"
    server = make_server(text)
    flag = tmp_path / "go"
    first = holding(server, tmp_path, flag, "--license", "matlab")
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
    first = holding(server, tmp_path, flag, "--license", "matlab")
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


def _load(root: Path, load: float) -> None:
    """What the host's sampling reads as its /proc (through WQ_SAMPLE_ROOT)."""
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "meminfo").write_text("MemTotal: 8388608 kB\nMemAvailable: 6291456 kB\n")
    (root / "proc" / "loadavg.new").write_text(f"{load:.2f} {load:.2f} {load:.2f} 1/99 123\n")
    (root / "proc" / "loadavg.new").rename(root / "proc" / "loadavg")


def test_a_loaded_host_takes_no_new_job_until_its_load_falls(make_server, keys, tmp_path):
    roots = {name: tmp_path / f"{name}-state" for name in ("busy", "calm")}
    _load(roots["busy"], 5.0)
    _load(roots["calm"], 0.1)
    nodes = [SshHost(name, address, tmp_path / name, keys,
                     extra_config=f"SetEnv WQ_SAMPLE_ROOT={roots[name]}")
             for name, address in (("busy", "127.0.0.12"), ("calm", "127.0.0.13"))]
    try:
        for node in nodes:
            node.start()
            with keys.known_hosts.open("a") as fh:
                fh.write(node.host_key_line + "\n")
        server = make_server(cluster_yaml(keys, nodes, defaults="max_load: 1.5"),
                             wait_up=False)
        wait_hosts_up(server, ["busy", "calm"])

        def over() -> str:
            rows = json.loads(server.wq("stat", "--json").stdout)["hosts"]
            return {r["name"]: r for r in rows}["busy"].get("over", "")
        wait_for(lambda: over() != "", 20, "busy's load to be sampled")
        assert over() == "load 5.00, 5.00 beyond wq's jobs: over its max_load 1.5"
        assert "(no new jobs: load 5.00" in server.wq("stat").stdout

        flag = tmp_path / "go"
        first = [holding(server, tmp_path, flag) for _ in range(2)]
        assert {jobs(server)[j]["host0"] for j in first} == {"calm"}
        later = int(server.wq("sub", "-b", "-c", "echo $WQ_HOST", cwd=str(tmp_path)).stdout)
        why = json.loads(server.wq("why", "--json", str(later)).stdout)
        rules = {h["host"]: h["rule"] for h in why["hosts"]}
        assert rules == {"busy": "load", "calm": "cores"}

        _load(roots["busy"], 0.2)                 # its owner's build is done
        wait_state(server, later, ("done",), timeout=30)
        assert server.wq("log", str(later)).stdout == "busy\n"
        flag.touch()
        for job_id in first:
            wait_state(server, job_id, ("done",))
    finally:
        for node in nodes:
            node.stop()
