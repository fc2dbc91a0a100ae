"""rm, limits, offline hosts, ls/stat/users shapes, against real hosts."""

from __future__ import annotations

from tests.integration.conftest import jobs, stat, wait_state
from tests.integration.sshd import alive, wait_for


def test_rm_kills_the_whole_remote_process_group(server, tmp_path):
    script = ("sleep 300 & echo $! > pids; (sleep 300 & echo $! >> pids; wait) & "
              "trap '' TERM; echo $$ >> pids; wait")
    job_id = int(server.wq("sub", "-b", "-c", script, cwd=str(tmp_path)).stdout)
    wait_state(server, job_id, ("running",))
    pids_file = tmp_path / "pids"
    wait_for(lambda: pids_file.exists() and len(pids_file.read_text().split()) == 3, 15,
             "the job's pids")
    pids = [int(p) for p in pids_file.read_text().split()]
    assert all(alive(p) for p in pids)
    r = server.wq("rm", str(job_id))
    assert r.returncode == 0 and f"job {job_id}: killed" in r.stdout
    wait_state(server, job_id, ("cancelled",))
    wait_for(lambda: not any(alive(p) for p in pids), 10, "the job's processes to end")


def test_rm_escalates_to_kill_after_the_grace_period(make_server, tmp_path):
    server = make_server(args=("--kill-grace", "1"))
    script = "trap '' TERM; echo $$ > pid; while :; do sleep 1; done"
    job_id = int(server.wq("sub", "-b", "-c", script, cwd=str(tmp_path)).stdout)
    wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), 15,
             "the job's pid")
    pid = int((tmp_path / "pid").read_text())
    server.wq("rm", str(job_id))
    job = wait_state(server, job_id, ("cancelled",))
    assert job["exit"] == 137
    assert not alive(pid)


def test_rm_waiting_job_and_all(server, tmp_path):
    blocker = int(server.wq("sub", "-b", "-r", "mode: bynode; N: 3", "-c", "sleep 60",
                            cwd=str(tmp_path)).stdout)
    wait_state(server, blocker, ("running",))
    waiting = int(server.wq("sub", "-b", "-c", "true", cwd=str(tmp_path)).stdout)
    r = server.wq("rm", str(waiting))
    assert f"job {waiting}: removed from the queue" in r.stdout
    assert jobs(server, "--all")[waiting]["state"] == "cancelled"
    r = server.wq("rm", "all")
    assert r.returncode == 0 and f"job {blocker}: killed" in r.stdout
    wait_state(server, blocker, ("cancelled",))
    r = server.wq("rm", "999")
    assert r.returncode == 1 and "job 999: no such job" in r.stdout


def test_limits_count_usage_plus_request(server, tmp_path):
    assert server.wq("limit", "run: 1").stdout.strip() == "limits for root: run: 1"
    a = int(server.wq("sub", "-b", "-c", "sleep 60", cwd=str(tmp_path)).stdout)
    b = int(server.wq("sub", "-b", "-c", "sleep 60", cwd=str(tmp_path)).stdout)
    wait_state(server, a, ("running",))
    full = server.wq("ls", "-f").stdout
    assert "user limit: 1 jobs running, limit 1" in full
    assert jobs(server)[b]["state"] == "waiting"
    users = server.wq("users").stdout
    assert "{Njobs:1}" in users
    server.wq("limit", "run: -1; cores: 2")
    wait_state(server, b, ("running",))
    c = int(server.wq("sub", "-b", "-r", "N: 2", "-c", "sleep 60", cwd=str(tmp_path)).stdout)
    assert "limit 2" in jobs(server, "-f")[c]["reason"]
    assert server.wq("limit", "clear").stdout.strip() == "limits for root: none"
    wait_state(server, c, ("running",))
    server.wq("rm", "all")


def test_offline_hosts_get_no_new_jobs_and_persist(make_server, tmp_path, hosts):
    server = make_server()
    assert server.wq("node", "offline", "node1", "node2").returncode == 0
    r = server.wq("sub", "-c", "echo $WQ_HOST", cwd=str(tmp_path))
    assert r.stdout == "node3\n"
    out = server.wq("stat").stdout
    assert "[XX]" in out and "4 are offline" in out
    server.stop()
    server.start()
    wait_for(lambda: stat(server)["node3"]["state"] == "up", 30, "node3 up")
    assert stat(server)["node1"]["state"] == "offline"
    server.wq("node", "online", "node1")
    assert stat(server)["node1"]["state"] in ("up", "unknown")
    r = server.wq("node", "offline", "nodeX")
    assert r.returncode == 1 and "no host named 'nodeX'" in r.stderr


def test_ls_and_stat_shapes(server, tmp_path):
    a = int(server.wq("sub", "-b", "-r", "N: 2; job_name: my job", "-c", "sleep 60",
                      cwd=str(tmp_path)).stdout)
    wait_state(server, a, ("running",))
    lines = server.wq("ls").stdout.splitlines()
    assert lines[0].split() == ["Id", "User", "St", "Pri", "Nc", "Nh", "Host0", "Tq", "Trun", "Cmd"]
    fields = lines[1].split()
    assert fields[:7] == [str(a), "root", "R", "med", "2", "1", "node1"]
    assert fields[-1] == "my-job"
    assert lines[-1] == " Jobs: 1 Running: 1 Waiting: 0"
    out = server.wq("stat").stdout.splitlines()
    assert out[0].split() == ["Usage", "Host", "Mem", "Groups"]
    assert out[1].split() == ["[**]", "node1", "4", "a,ab"]
    assert out[-1] == " Used/avail/active cores: 2/4/6 (33.3% load)"
    server.wq("rm", str(a))
    wait_state(server, a, ("cancelled",))
    done = server.wq("ls", "--state", "cancelled").stdout.splitlines()
    assert done[0].split()[-2:] == ["Exit", "Cmd"] and done[1].split()[2] == "C"
    assert server.wq("ls", "--all", "-u", "nobody").stdout.strip() == \
        "Jobs: 0 Running: 0 Waiting: 0"


def test_refresh_rereads_the_cluster_file_and_unfit_jobs_say_so(make_server, tmp_path, keys,
                                                                hosts):
    from tests.integration.conftest import cluster_yaml
    server = make_server()
    job_id = int(server.wq("sub", "-b", "-r", "mode: byhost; host: node3; N: 2", "-c",
                           "sleep 60", cwd=str(tmp_path)).stdout)
    wait_state(server, job_id, ("running",))
    waiting = int(server.wq("sub", "-b", "-r", "mode: bycore1; N: 2; group: c", "-c", "true",
                            cwd=str(tmp_path)).stdout)
    server.cluster.write_text(cluster_yaml(keys, hosts[:2]))
    r = server.wq("refresh")
    assert r.stdout.strip() == "2 host(s); removed node3"
    ls = server.wq("ls")
    assert f" {waiting} " in ls.stdout and " U " in ls.stdout
    assert f"job {waiting} can no longer fit: no host matches group=c" in ls.stderr
    assert jobs(server)[job_id]["state"] == "running"     # still watched on removed node3
    server.wq("rm", str(job_id))
    wait_state(server, job_id, ("cancelled",))


def test_stop_ends_the_server_cleanly_and_its_jobs_run_on(server, tmp_path):
    job_id = int(server.wq("sub", "-b", "-c", "echo $$ > pid; sleep 3; echo done",
                           cwd=str(tmp_path)).stdout)
    wait_state(server, job_id, ("running",))
    wait_for(lambda: (tmp_path / "pid").exists(), 15, "the job's pid")
    proc = server.proc
    r = server.wq("stop")
    assert r.returncode == 0, r.stderr
    assert f"wq server (pid {proc.pid}) stopped; its 1 running job keeps running" in r.stdout
    assert proc.poll() == 0                      # gone when wq stop says so, exit 0
    assert "stopping: asked by wq stop" in "".join(server.log)
    assert alive(int((tmp_path / "pid").read_text()))      # the job runs on
    r = server.wq("stop")
    assert r.returncode == 0 and "no wq server is running" in r.stdout
    server.start()
    wait_state(server, job_id, ("done",))
    assert server.wq("log", str(job_id)).stdout == "done\n"
