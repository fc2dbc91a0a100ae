"""Retries, automatic draining of hosts that cannot start jobs, time limits,
history (wq info, wq clean), against real hosts."""

from __future__ import annotations

import time

import psutil

from tests.integration.conftest import (cluster_yaml, info, job_dir, jobs, stat,
                                       wait_state)
from tests.integration.sshd import SshHost, wait_for
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import InfoPage, UsersPage


def test_retries_run_a_failing_job_again_on_another_host(server, tmp_path):
    r = server.wq("sub", "--retries", "2", "-c",
                  "echo $WQ_HOST >> hosts; echo try $WQ_INSTANCE; test $WQ_INSTANCE -ge 2",
                  cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "try 1\ntry 2\n"
    first, second = (tmp_path / "hosts").read_text().split()
    assert first != second
    record = info(server, max(jobs(server, "--all")))
    assert [i["outcome"] for i in record["instances"]] == ["failed", "done"]
    assert record["failures"] == 1 and "retrying (1 of 2)" in record["instances"][0]["detail"]


def test_info_in_pages_holds_what_one_reply_holds(server, tmp_path):
    """A job's history is sent in pages (here of one row): the same job, instances
    and events, in order, as the unpaged reply and `wq info --json`."""
    r = server.wq("sub", "--retries", "2", "-c", "exit 3", cwd=str(tmp_path))
    assert r.returncode == 3
    job_id = max(jobs(server, "--all"))
    assert server.wq("limit", "run: 5").returncode == 0      # so that root is listed
    with Client(server.socket) as client:
        [whole] = client.paged(m.Info(id=str(job_id)), InfoPage)
        pages = list(client.paged(m.Info(id=str(job_id), page=1), InfoPage))
        users = list(client.paged(m.Users(page=1), UsersPage))
    assert len(whole.instances) == 3 and len(whole.events) >= 6
    assert len(pages) == len(whole.instances) + len(whole.events)
    assert pages[0].job == whole.job and all(p.job is None for p in pages[1:])
    assert [i for p in pages for i in p.instances] == whole.instances
    assert [e for p in pages for e in p.events] == whole.events
    assert [p.more for p in pages] == [True] * (len(pages) - 1) + [False]
    printed = info(server, job_id)
    assert printed == {**whole.job.to_frame(),
                       "instances": [i.to_frame() for i in whole.instances],
                       "events": [e.to_frame() for e in whole.events]}
    assert printed["interactive"] is False and printed["failures"] == 2
    assert [u.user for p in users for u in p.users] == ["root"]


def test_retries_used_up_give_the_last_exit_code(server, tmp_path):
    r = server.wq("sub", "--retries", "1", "-c", "exit 5", cwd=str(tmp_path))
    assert r.returncode == 5
    job = jobs(server, "--all")[max(jobs(server, "--all"))]
    assert (job["state"], job["instance"], job["exit"]) == ("failed", 2, 5)


def test_a_host_that_cannot_start_jobs_is_drained(make_server, hosts, keys, tmp_path):
    broken = SshHost("broken", "127.0.0.5", tmp_path / "broken", keys,
                     extra_config="SetEnv HOME=/proc/wq-no-home")   # no job directory there
    broken.start()
    try:
        with keys.known_hosts.open("a") as fh:
            fh.write(broken.host_key_line + "\n")
        text = cluster_yaml(keys, [broken, *hosts], defaults="drain_after: 2")
        server = make_server(text)
        wait_for(lambda: stat(server)["broken"]["state"] == "up", 30, "broken up")
        ids = [int(server.wq("sub", "-b", "-c", "echo ok", cwd=str(tmp_path)).stdout)
               for _ in range(3)]
        for job_id in ids:
            assert wait_state(server, job_id, ("done",))["host0"] != "broken"
        host = stat(server)["broken"]
        assert host["state"] == "offline" and "drained: 2 jobs in a row failed to start" \
            in host["reason"]
        line = next(x for x in server.wq("stat").stdout.splitlines() if " broken " in x)
        assert line.startswith(" [XX]") and "drained" in line
        first = info(server, ids[0])["instances"][0]
        assert first["outcome"] == "notstarted" and "could not start it" in first["detail"]
        assert server.wq("node", "online", "broken").returncode == 0
        assert stat(server)["broken"]["state"] == "up"
    finally:
        broken.stop()


def test_a_time_limit_ends_the_job_as_timeout(server, tmp_path):
    began = time.monotonic()
    r = server.wq("sub", "-t", "2s", "-c", "echo $$ > pid; sleep 60", cwd=str(tmp_path))
    assert r.returncode == 124, r.stderr
    assert "timed out: its time limit (2s) ran out" in r.stderr
    assert time.monotonic() - began < 30
    assert not psutil.pid_exists(int((tmp_path / "pid").read_text()))
    job = jobs(server, "--all")[max(jobs(server, "--all"))]
    assert (job["state"], job["exit"]) == ("timeout", 143)
    assert " T " in server.wq("ls", "-a").stdout


def test_a_job_ignoring_term_is_killed_when_its_time_is_up(make_server, tmp_path):
    server = make_server(args=("--kill-grace", "1"))
    r = server.wq("sub", "-b", "-c", "trap '' TERM; sleep 60", "-r", "time: 00:00:01",
                  cwd=str(tmp_path))
    job = wait_state(server, int(r.stdout), ("timeout",), timeout=30)
    assert job["exit"] == 137


def test_bad_time_limits_are_refused_clearly(server, tmp_path):
    r = server.wq("sub", "-t", "90", "-c", "true", cwd=str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == ("wq: -t/--time: expected a duration such as 90s, 30m, 1h30m, "
                                "2d or HH:MM:SS, got '90'; give a unit")


def test_info_and_clean(server, tmp_path):
    ids = [int(server.wq("sub", "-b", "-c", f"echo {i}", cwd=str(tmp_path)).stdout)
           for i in range(3)]
    for job_id in ids:
        wait_state(server, job_id, ("done",))
    text = server.wq("info", str(ids[0])).stdout
    assert text.startswith(f"Job {ids[0]}  done") and "command: echo 0" in text
    assert "Events:" in text and "submitted" in text
    r = server.wq("clean", "--older-than", "1h")
    assert r.stdout == "forgot 0 finished job(s)\n"
    assert job_dir(server, ids[0]).is_dir()
    r = server.wq("clean")
    assert r.stdout == "forgot 3 finished job(s)\n"
    assert not job_dir(server, ids[0]).exists()
    assert jobs(server, "--all") == {}
    r = server.wq("info", str(ids[0]))
    assert r.returncode == 1 and f"no job {ids[0]}" in r.stderr
    assert server.wq("log", str(ids[0])).returncode == 1
