"""Job arrays, selectors and throttles, and the per-host helper's fallback and
failure, against real sshd hosts."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

from tests.integration.conftest import cluster_yaml, jobs, wait_hosts_up, wait_state
from tests.integration.sshd import SshHost, wait_for


def test_an_array_runs_every_task_with_its_own_id(server, tmp_path):
    r = server.wq("sub", "--array", "1-6", "-c",
                  'echo "$WQ_ARRAY_ID $WQ_TASK_ID $WQ_JOB_ID" > out.$WQ_TASK_ID; '
                  'echo hi $WQ_JOB_ID',
                  cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    number = int(max(jobs(server, "--all")))
    assert r.stderr == f"wq: array {number}: 6 tasks done\n"       # (no bar: not a terminal)
    for task in range(1, 7):
        assert (tmp_path / f"out.{task}").read_text() == f"{number} {task} {number}.{task}\n"
    [row] = jobs(server, "--all").values()
    assert (row["id"], row["tasks"], row["counts"], row["state"]) == \
        (str(number), 6, {"done": 6}, "done")
    expanded = jobs(server, "--all", "-e")
    assert sorted(expanded) == [f"{number}.{t}" for t in range(1, 7)]
    assert server.wq("log", f"{number}.4").stdout == f"hi {number}.4\n"
    r = server.wq("log", str(number))
    assert r.returncode == 1 and f"is an array of 6 tasks; name one, e.g. {number}.1" in r.stderr
    table = server.wq("ls", "--all").stdout
    assert re.search(rf"^ {number}\[6\] .*\(D:6\)$", table, re.M), table


def test_a_task_that_fails_makes_the_array_fail(server, tmp_path):
    r = server.wq("sub", "--array", "1-4", "-c", "test $WQ_TASK_ID -ne 3", cwd=str(tmp_path))
    number = max(jobs(server, "--all"))
    assert r.returncode == 1
    assert f"wq: task {number}.3 failed: exit code 1" in r.stderr
    assert f"wq: array {number}: 1 failed" in r.stderr
    assert jobs(server, "--all")[number]["counts"] == {"done": 3, "failed": 1}


def test_entries_from_lines_and_json_with_output_patterns(server, tmp_path):
    (tmp_path / "lines").write_text("alpha one\n\nbeta 'two'\n")
    r = server.wq("sub", "--each-line", "lines", "-o", "%A_%a.out", "-c",
                  'printf "%s|" "$WQ_ENTRY"', cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    number = max(jobs(server, "--all"))
    assert (tmp_path / f"{number}_1.out").read_text() == "alpha one|"
    assert (tmp_path / f"{number}_2.out").read_text() == "beta 'two'|"
    (tmp_path / "items.json").write_text(json.dumps(["x y", {"k": 1}, 7]))
    r = server.wq("sub", "--from-json", "items.json", "-o", "%j.out", "-c",
                  'printf "%s" "$WQ_ENTRY"', cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    number = max(k for k in jobs(server, "--all") if isinstance(k, int))
    assert [(tmp_path / f"{number}.{t}.out").read_text() for t in (1, 2, 3)] == \
        ["x y", '{"k": 1}', "7"]
    bad = server.wq("sub", "--from-json", "lines", "-c", "true", cwd=str(tmp_path))
    assert bad.returncode != 0 and bad.stderr.startswith(f"wq: {tmp_path / 'lines'}") \
        or "lines" in bad.stderr


def test_a_throttle_caps_the_tasks_running_at_once(server, tmp_path):
    # six free cores, but at most two tasks at a time; each task logs its span
    r = server.wq("sub", "--array", "1-6%2", "-c",
                  "date +%s.%N >> span.$WQ_TASK_ID; sleep 0.4; date +%s.%N >> span.$WQ_TASK_ID",
                  cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    spans = [tuple(map(float, (tmp_path / f"span.{t}").read_text().split()))
             for t in range(1, 7)]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2, spans


def test_selectors_pick_tasks_jobs_and_the_last(server, tmp_path):
    blocker = int(server.wq("sub", "-b", "-c", "sleep 60", cwd=str(tmp_path)).stdout)
    number = int(server.wq("sub", "-b", "--array", "1-10", "-c", "sleep 60",
                           cwd=str(tmp_path)).stdout)
    assert number == blocker + 1
    wait_for(lambda: jobs(server, str(number))[number]["counts"].get("running") == 5, 20,
             "five tasks running")
    assert jobs(server)[number]["counts"] == {"running": 5, "waiting": 5}
    assert set(jobs(server, f"{number}.2-4", "-e")) == {f"{number}.{t}" for t in (2, 3, 4)}
    assert set(jobs(server, f"{blocker}-{number}")) == {blocker, number}
    r = server.wq("rm", f"{number}.1-3")
    assert r.returncode == 0 and r.stdout == f"job {number}.1-3: killed\n", r.stdout
    wait_state(server, f"{number}.2", ("cancelled",))
    r = server.wq("rm", f"{number}.9-10,{blocker}")
    assert r.stdout.splitlines() == [f"job {number}.9-10: removed from the queue",
                                    f"job {blocker}: killed"]
    r = server.wq("rm", "last")
    assert r.returncode == 0 and r.stdout == f"job {number}.4-8: killed\n", r.stdout
    wait_for(lambda: jobs(server, "--all", str(number))[number]["counts"] == {"cancelled": 10},
             20, "the whole array cancelled")


def _without_python(root: Path) -> Path:
    """A PATH directory with every tool of /usr/bin but python."""
    tools = root / "bin"
    tools.mkdir()
    for source in (Path("/usr/bin"), Path("/bin")):
        for tool in source.iterdir():
            if not tool.name.startswith("python") and not (tools / tool.name).exists():
                (tools / tool.name).symlink_to(tool)
    return tools


def test_a_node_without_python3_runs_jobs_without_the_helper(make_server, hosts, keys,
                                                             tmp_path):
    tools = _without_python(tmp_path)
    plain = SshHost("plain", "127.0.0.6", tmp_path / "plain", keys,
                    extra_config=f"SetEnv PATH={tools}")
    plain.start()
    try:
        with keys.known_hosts.open("a") as fh:
            fh.write(plain.host_key_line + "\n")
        server = make_server(cluster_yaml(keys, [plain]), wait_up=False)
        server.wait_log("plain: the helper did not start: bash: line 1: python3: command "
                        "not found; using a channel per job there", 30)
        wait_hosts_up(server, ["plain"])
        r = server.wq("sub", "--array", "1-3", "-c", "echo $WQ_TASK_ID on $WQ_HOST",
                      cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        number = max(jobs(server, "--all"))
        assert server.wq("log", f"{number}.2").stdout == "2 on plain\n"
        assert not any("plain: helper running" in line for line in server.log)
    finally:
        plain.stop()


def test_a_helper_killed_mid_run_loses_nothing(server, hosts, tmp_path):
    r = server.wq("sub", "-b", "-r", "host: node2", "-c",
                  "sleep 1.5; echo finished $WQ_INSTANCE", cwd=str(tmp_path))
    job_id = int(r.stdout)
    wait_state(server, job_id, ("running",))
    line = next(line for line in server.log if "node2: helper running" in line)
    helper = int(re.search(r"pid (\d+)", line).group(1))
    os.kill(helper, signal.SIGKILL)
    server.wait_log("node2: the helper's channel closed", 10)
    job = wait_state(server, job_id, ("done", "failed", "lost"), timeout=30)
    assert (job["state"], job["exit"], job["instance"]) == ("done", 0, 1)
    assert server.wq("log", str(job_id)).stdout == "finished 1\n"
    # the next job on that host starts a new helper
    r = server.wq("sub", "-r", "host: node2", "-c", "echo again", cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout == "again\n"
    assert sum("node2: helper running" in line for line in server.log) == 2
