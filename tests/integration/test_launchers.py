"""Lab members' jobs run as themselves, through their own launchers: real Unix
users, each with their own ssh key on a real sshd host, and a lab server run
by root (the operator here)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import cluster_yaml
from tests.integration.sshd import Keys, SshHost, WqServer, wait_for
from tests.integration.users import REPO, WAYS, UnixUser, give_ssh, unix_users


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory, keys: Keys, members_python: str
            ) -> Iterator[tuple[dict[str, UnixUser], SshHost]]:
    """alice and bob, each with a key authorized (as themselves only) on a host of
    their own lab, which they know, and on the lab's head node (this machine,
    reached over ssh as `labhead`, as from a workstation of theirs)."""
    user_keys = Path(tempfile.mkdtemp(prefix="wq-keys-", dir="/tmp"))   # sshd reads a
    user_keys.chmod(0o755)                              # user's keys as that user
    host = SshHost("lab1", "127.0.0.6", tmp_path_factory.mktemp("lab1"), keys,
                   user_keys=user_keys)
    head = SshHost("labhead", "127.0.0.7", tmp_path_factory.mktemp("labhead"), keys,
                   user_keys=user_keys)
    with unix_users(members_python, "alice", "bob") as made:
        for user in made.values():
            give_ssh(user, user_keys, [(h.name, h.address, h.port, h.host_key_line)
                                       for h in (host, head)])
        host.start()
        head.start()
        try:
            yield made, host
        finally:
            host.stop()
            head.stop()
            shutil.rmtree(user_keys, ignore_errors=True)


@pytest.fixture
def lab(tmp_path: Path, keys: Keys, members: tuple[dict[str, UnixUser], SshHost]
        ) -> Iterator[WqServer]:
    users, host = members
    base = Path(tempfile.mkdtemp(prefix="wq-lab-", dir="/tmp"))
    base.chmod(0o755)
    socket = base / "sock" / "lab.sock"
    keys.known_hosts.write_text(keys.known_hosts.read_text() + host.host_key_line + "\n")
    cluster = tmp_path / "cluster.yaml"
    names = ", ".join(u.name for u in users.values())
    cluster.write_text(cluster_yaml(keys, [host], cores=4, extra=(
        f"lab:\n  socket: {socket}\n  users: [{names}]\n")))
    server = WqServer(tmp_path / "srv", cluster)
    try:
        server.start()
        for user in users.values():
            user.use_lab(socket, manual=False)
        yield server
    finally:
        server.stop()
        print("".join(server.log), file=sys.stderr)       # shown when a test fails
        for user in users.values():
            log = user.home / ".local" / "state" / "wq" / "launcher.log"
            if log.exists():
                print(f"--- {user.name}'s launcher:\n{log.read_text()}", file=sys.stderr)
                log.unlink()
            stop_launchers(user)
            user.leave_lab()
        shutil.rmtree(base, ignore_errors=True)


def launchers(user: UnixUser) -> list[psutil.Process]:
    """The user's running `wq launcher` processes."""
    found = []
    for proc in psutil.process_iter(["uids", "cmdline"]):
        info = proc.info
        if info["uids"] and info["uids"].real == user.uid and "launcher" in (
                info["cmdline"] or []):
            found.append(proc)
    return found


def stop_launchers(user: UnixUser) -> None:
    for proc in launchers(user):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def submit_runs(user: UnixUser, seconds: int) -> str:
    """A batch job of the user's that notes each run in ~/runs.txt, then sleeps."""
    (user.home / "runs.txt").unlink(missing_ok=True)
    sub = user.wq("sub", "-b", "-c", f"echo run >> runs.txt; sleep {seconds}", cwd=user.home)
    assert sub.returncode == 0, sub.stderr
    return sub.stdout.strip()


def kill_launcher(user: UnixUser) -> None:
    for proc in launchers(user):
        os.kill(proc.pid, signal.SIGKILL)
    wait_for(lambda: not launchers(user), 20, "the launcher to die")


def ls(server: WqServer) -> dict[str, dict]:
    return {r["id"]: r for r in json.loads(server.wq("ls", "-a", "--json").stdout)}


def test_each_members_jobs_run_as_themselves(lab, members):
    users, _ = members
    alice, bob = users["alice"], users["bob"]
    for user in (alice, bob):
        result = user.wq("sub", "-c", "id -un; echo $WQ_HOST", cwd=user.home, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [user.name, "lab1"]
        assert len(launchers(user)) == 1                 # started by that first wq sub
    assert lab.wq("sub", "-c", "id -un").stdout.strip() == "root"
    rows = ls(lab)
    assert sorted(r["user"] for r in rows.values()) == sorted([alice.name, bob.name, "root"])
    assert all(r["state"] == "done" for r in rows.values())
    mine = next(i for i, r in rows.items() if r["user"] == alice.name)
    log = alice.wq("log", mine)
    assert log.returncode == 0 and log.stdout.split() == [alice.name, "lab1"]


def test_a_job_altered_in_the_servers_database_is_refused_by_its_launcher(lab, members):
    users, _ = members
    alice = users["alice"]
    assert lab.wq("node", "offline", "lab1").returncode == 0
    sub = alice.wq("sub", "-b", "-c", "echo honest > honest.txt", cwd=alice.home)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip()
    lab.stop()
    db = sqlite3.connect(f"{lab.state}/wq.db")
    (spec,) = db.execute("SELECT spec FROM jobs WHERE id=?", (int(job_id),)).fetchone()
    altered = json.loads(spec)
    altered["command"] = "echo pwned > pwned.txt"
    db.execute("UPDATE jobs SET spec=? WHERE id=?", (json.dumps(altered), int(job_id)))
    db.commit()
    db.close()
    lab.start()
    assert lab.wq("node", "online", "lab1").returncode == 0
    wait_for(lambda: ls(lab)[job_id]["state"] == "failed", 60, "the altered job to fail")
    assert "not as" in ls(lab)[job_id]["reason"] and "signed" in ls(lab)[job_id]["reason"]
    assert not (alice.home / "pwned.txt").exists()


@pytest.mark.parametrize("when", ["dispatching", "running"])
def test_a_launcher_killed_mid_run_loses_nothing_and_runs_nothing_twice(lab, members, when):
    """Killed as the job is placed (its launch may or may not have reached the
    node) or once it runs: either way the job runs once and ends done."""
    users, _ = members
    alice = users["alice"]
    job_id = submit_runs(alice, 4)
    if when == "running":
        wait_for(lambda: (alice.home / "runs.txt").exists(), 60, "the job to run on its node")
    else:
        wait_for(lambda: ls(lab)[job_id]["state"] == "running", 60, "the job to be placed")
    kill_launcher(alice)
    assert ls(lab)[job_id]["state"] == "running"             # the job never needed it
    again = alice.wq("sub", "-b", "-c", "true", cwd=alice.home)   # starts a new launcher
    assert again.returncode == 0, again.stderr
    wait_for(lambda: ls(lab)[job_id]["state"] == "done", 60, "the job to end")
    assert (alice.home / "runs.txt").read_text() == "run\n"
    info = json.loads(alice.wq("info", "--json", job_id).stdout)
    outcomes = [i["outcome"] for i in info["instances"]]
    assert outcomes[-1] == "done" and set(outcomes[:-1]) <= {"notstarted"}
    if when == "running":
        assert outcomes == ["done"]


def test_a_server_killed_with_members_jobs_running_finds_them_all(lab, members):
    users, _ = members
    alice, bob = users["alice"], users["bob"]
    ids = {}
    for user in (alice, bob):
        (user.home / "started").unlink(missing_ok=True)
        sub = user.wq("sub", "-b", "-c", "touch started; sleep 3; id -un > who.txt",
                      cwd=user.home)
        assert sub.returncode == 0, sub.stderr
        ids[user.name] = sub.stdout.strip()
    wait_for(lambda: all((u.home / "started").exists() for u in (alice, bob)), 60,
             "both jobs to run on their node")
    assert lab.proc is not None
    os.kill(lab.proc.pid, signal.SIGKILL)
    lab.proc.wait(10)
    lab.start()                       # the launchers come back by themselves
    wait_for(lambda: all(ls(lab)[i]["state"] == "done" for i in ids.values()), 90,
             "both jobs to end")
    for user in (alice, bob):
        assert (user.home / "who.txt").read_text().strip() == user.name
        info = json.loads(user.wq("info", "--json", ids[user.name]).stdout)
        assert [i["outcome"] for i in info["instances"]] == ["done"]


def test_a_members_single_job_waits_for_one_job_end_behind_anothers_big_array(lab, members):
    users, _ = members
    alice, bob = users["alice"], users["bob"]
    sub = alice.wq("sub", "-b", "--array", "1-1000", "-c", "sleep 0.5", cwd=alice.home)
    assert sub.returncode == 0, sub.stderr
    array = sub.stdout.strip()
    wait_for(lambda: ls(lab)[array]["counts"].get("running") == 4, 60, "the host to fill")
    theirs = bob.wq("sub", "-b", "-c", "true", cwd=bob.home)
    assert theirs.returncode == 0, theirs.stderr
    job_id = theirs.stdout.strip()
    wait_for(lambda: ls(lab)[job_id]["state"] == "done", 60, "bob's job to run")
    single = ls(lab)[job_id]
    tasks = json.loads(lab.wq("ls", "-e", "--json", array).stdout)
    jumped = [t["id"] for t in tasks
              if t["started"] and single["submitted"] < t["started"] < single["started"]]
    assert jumped == [], f"alice's tasks started before bob's job: {jumped}"
    assert alice.wq("rm", array).returncode == 0


def test_a_members_interactive_session_runs_as_them(lab, members):
    users, _ = members
    alice = users["alice"]
    result = alice.wq("sub", "-i", "-c", "id -un; echo $WQ_HOST; exit 3", cwd=alice.home)
    assert (result.returncode, result.stdout) == (3, f"{alice.name}\nlab1\n"), result.stderr


def test_a_member_on_another_machine_uses_the_lab_through_ssh(lab, members):
    """WQ_SERVER=labhead: each command runs on the head node over the member's own
    ssh login, with its output and exit code."""
    users, _ = members
    alice = users["alice"]
    alice.use_lab(lab_socket(lab), manual=False, way="user file")     # (on the head node)
    env = alice.env(WQ_SERVER="labhead", WQ_REMOTE_COMMAND=f"{alice.python} -m wq")
    result = alice.wq("sub", "-c", "id -un; echo $WQ_HOST; exit 7", env=env, cwd=alice.home)
    assert (result.returncode, result.stdout) == (7, f"{alice.name}\nlab1\n"), result.stderr
    listed = alice.wq("ls", "-a", "--json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)[-1]["user"] == alice.name
    session = alice.wq("sub", "-i", "-c", "echo in-a-session; exit 4", env=env)
    assert (session.returncode, session.stdout.strip()) == (4, "in-a-session"), session.stderr


def test_a_job_lost_with_its_host_while_its_launcher_was_away_is_taken_back(lab, members):
    """The host drops out while alice's launcher is away; it comes back, and so
    does her launcher, which finds her job still running there: it is taken
    back, not run again."""
    users, host = members
    alice = users["alice"]
    job_id = submit_runs(alice, 8)
    wait_for(lambda: (alice.home / "runs.txt").exists(), 60, "the job to run on its node")
    kill_launcher(alice)
    host.kill_sshd()
    wait_for(lambda: ls(lab)[job_id]["state"] == "waiting", 60, "the job to be lost")
    host.start()
    wait_for(lambda: "lab1" in lab.wq("stat").stdout and "down" not in lab.wq("stat").stdout,
             60, "the host to be up")
    assert ls(lab)[job_id]["state"] == "waiting"          # (its launcher is away)
    assert alice.wq("launcher", "-d").returncode == 0
    wait_for(lambda: ls(lab)[job_id]["state"] == "done", 60, "the job to be taken back")
    assert (alice.home / "runs.txt").read_text() == "run\n"


def test_wq_clean_deletes_a_members_job_directories_through_their_launcher(lab, members):
    users, _ = members
    alice = users["alice"]
    before = set((alice.home / ".cache" / "wq").glob("*/*/"))     # (earlier servers')
    result = alice.wq("sub", "-c", "true", cwd=alice.home)
    assert result.returncode == 0, result.stderr
    dirs = set((alice.home / ".cache" / "wq").glob("*/*/")) - before   # (not its socket)
    assert dirs, "the job left no directory on its node"
    cleaned = lab.wq("clean")
    assert cleaned.returncode == 0 and "forgot" in cleaned.stdout, cleaned.stderr
    assert not any(d.exists() for d in dirs)


def test_a_members_on_end_command_runs_as_them_by_their_launcher(lab, members):
    users, _ = members
    alice = users["alice"]
    hooked = alice.home / "hooked.txt"
    hooked.unlink(missing_ok=True)
    sub = alice.wq("sub", "-b", "--on-end",
                   f'echo "$(id -un) $WQ_JOB_ID $WQ_STATE $WQ_EXIT" > {hooked}',
                   "-c", "exit 6", cwd=alice.home, timeout=30)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip()
    wait_for(hooked.exists, 30, "alice's on_end command to run")
    wait_for(lambda: hooked.read_text().strip() != "", 10, "it to write")
    assert hooked.read_text().split() == [alice.name, job, "failed", "6"]
    assert hooked.stat().st_uid == alice.uid


def lab_socket(server: WqServer) -> str:
    assert server.cluster is not None
    return re.search(r"socket: (\S+)", server.cluster.read_text())[1]  # type: ignore[index]


@contextlib.contextmanager
def way_in(way: str, socket: str, operator: str, config_home: Path, uid: int, gid: int
           ) -> Iterator[tuple[list[str], dict[str, str]]]:
    """The words before `wq`'s verb, and the environment, that reach the lab's
    server the `way` docs/lab.md gives; the system file is bound over
    /etc/wq in a private mount namespace (nothing of the machine's changes)."""
    config = config_home / "wq" / "client.yaml"
    env = {"XDG_CONFIG_HOME": str(config_home)}
    argv: list[str] = []
    made_etc = False
    try:
        if way == "env":
            env.update(WQ_SOCKET=socket, WQ_OPERATOR=operator)
        elif way == "socket option":
            argv = ["--socket", socket]
            env["WQ_OPERATOR"] = operator
        elif way == "user file":
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(f"socket: {socket}\noperator: {operator}\n")
            for path in (config, config.parent, config.parent.parent):
                os.chown(path, uid, gid)
        else:
            etc = Path(tempfile.mkdtemp(prefix="wq-etc-", dir="/tmp"))
            etc.chmod(0o755)
            (etc / "client.yaml").write_text(f"socket: {socket}\noperator: {operator}\n")
            (etc / "client.yaml").chmod(0o644)
            made_etc = not os.path.exists("/etc/wq")
            if made_etc:
                os.mkdir("/etc/wq", 0o755)            # (a mount point: empty, removed after)
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    f'mount --bind "{etc}" /etc/wq && exec "$@"', "sh"]
        yield argv, env
    finally:
        config.unlink(missing_ok=True)
        if way == "system file":
            shutil.rmtree(etc, ignore_errors=True)
            if made_etc:
                os.rmdir("/etc/wq")


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare for /etc/wq")
@pytest.mark.parametrize("way", WAYS)
def test_every_documented_way_into_the_lab_runs_a_members_job_as_them(lab, members, way):
    """docs/lab.md's ways for a member: each runs a job as the member, through a
    launcher its `wq sub` starts (none is running before). (The other lab tests
    take the ways in turn: UnixUser.use_lab.)"""
    users, _ = members
    alice = users["alice"]
    alice.use_lab(lab_socket(lab), manual=False, way=way)
    stop_launchers(alice)
    result = alice.wq("sub", "-c", "id -un; echo $WQ_HOST")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [alice.name, "lab1"]
    assert len(launchers(alice)) == 1


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare for /etc/wq")
@pytest.mark.parametrize("way", WAYS)
def test_every_documented_way_into_the_lab_works_for_its_operator(lab, tmp_path, way):
    """The operator (root here) through the lab's shared socket, whose directory
    others may enter: its jobs run by the server itself, and it may remove them."""
    socket = lab_socket(lab)
    env = {k: v for k, v in lab.env.items() if k != "WQ_SOCKET"}
    with way_in(way, socket, "root", tmp_path / "config", os.getuid(), os.getgid()) \
            as (before, extra):
        argv = [*before, sys.executable, "-m", "wq"] if before[:1] == ["unshare"] \
            else [sys.executable, "-m", "wq", *before]
        result = subprocess.run([*argv, "sub", "-c", "id -un"], env={**env, **extra},
                                capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout) == (0, "root\n"), result.stderr
        queued = subprocess.run([*argv, "sub", "-b", "-c", "sleep 60"], env={**env, **extra},
                                capture_output=True, text=True, timeout=60)
        assert queued.returncode == 0, queued.stderr
        removed = subprocess.run([*argv, "rm", queued.stdout.strip()], env={**env, **extra},
                                 capture_output=True, text=True, timeout=60)
        assert removed.returncode == 0, removed.stderr


def systemd_missing() -> str | None:
    """Why docs/lab.md's systemd user unit cannot run here, or None."""
    if not os.path.isdir("/run/systemd/system"):
        return ("systemd is not this machine's init (no /run/systemd/system): docs/lab.md's "
                "user unit cannot run here")
    for tool in ("systemctl", "loginctl"):
        if shutil.which(tool) is None:
            return f"needs {tool} for docs/lab.md's systemd user unit"
    return None


@pytest.mark.skipif(systemd_missing() is not None, reason=str(systemd_missing()))
def test_the_documented_systemd_user_unit_keeps_a_members_launcher_running(lab, members):
    """docs/lab.md's unit, as written there, with linger: systemd starts the
    launcher, which runs the member's job (launcher: manual, so nothing else
    starts one); killed, systemd brings it back, and it runs the next."""
    users, _ = members
    alice = users["alice"]
    alice.use_lab(lab_socket(lab), manual=True, way="user file")
    stop_launchers(alice)
    unit = re.search(r"```ini\n(.*?)```", (REPO / "docs" / "lab.md").read_text(), re.S)
    assert unit is not None, "docs/lab.md shows no unit"
    units = alice.home / ".config" / "systemd" / "user"
    units.mkdir(parents=True, exist_ok=True)
    (units / "wq-launcher.service").write_text(unit[1])
    local = alice.home / ".local" / "bin"
    local.mkdir(parents=True, exist_ok=True)
    (local / "wq").symlink_to(Path(alice.python).parent / "wq")
    for path in (units, units.parent, units.parent.parent, local, local.parent,
                 units / "wq-launcher.service"):
        os.chown(path, alice.uid, alice.gid)
    os.lchown(local / "wq", alice.uid, alice.gid)
    runtime = f"/run/user/{alice.uid}"
    env = alice.env(XDG_RUNTIME_DIR=runtime, DBUS_SESSION_BUS_ADDRESS=f"unix:path={runtime}/bus")
    subprocess.run(["loginctl", "enable-linger", alice.name], check=True, timeout=30)
    try:
        wait_for(lambda: os.path.exists(f"{runtime}/bus"), 30, "alice's systemd user manager")
        enabled = alice.run("systemctl", "--user", "enable", "--now", "wq-launcher", env=env)
        assert enabled.returncode == 0, enabled.stderr
        killed: set[int] = set()
        for _ in range(2):
            wait_for(lambda: len(launchers(alice)) == 1 and launchers(alice)[0].pid not in killed,
                     30, "systemd to start her launcher")
            result = alice.wq("sub", "-c", "id -un")
            assert (result.returncode, result.stdout) == (0, f"{alice.name}\n"), result.stderr
            pid = launchers(alice)[0].pid
            os.kill(pid, signal.SIGKILL)                  # (Restart=on-failure)
            killed.add(pid)
    finally:
        alice.run("systemctl", "--user", "disable", "--now", "wq-launcher", env=env)
        subprocess.run(["loginctl", "disable-linger", alice.name], timeout=30)
        shutil.rmtree(alice.home / ".config" / "systemd", ignore_errors=True)
        (local / "wq").unlink(missing_ok=True)


def test_a_launcher_that_cannot_start_is_said_by_wq_sub_at_once(lab, members):
    """Not a job waiting for ever on a launcher that died: `wq sub` says why,
    from the launcher's log (here a broken asyncssh, which only the launcher
    imports), and nothing is submitted."""
    users, _ = members
    alice = users["alice"]
    stop_launchers(alice)
    broken = alice.home / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "asyncssh.py").write_text("raise ImportError('asyncssh is broken here')\n")
    before = len(ls(lab))
    result = alice.wq("sub", "-b", "-c", "true", cwd=alice.home,
                      env=alice.env(PYTHONPATH=str(broken)))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "launcher could not start" in line and "asyncssh is broken here" in line, line
    assert not launchers(alice) and len(ls(lab)) == before


def test_a_members_big_submit_many_is_signed_and_runs_as_them(lab, members):
    """Separate jobs in several requests, each environment sent once: the
    launcher checks each job's signature over the whole spec, environment
    included, and runs them as the member."""
    users, _ = members
    alice = users["alice"]
    (alice.home / "many.txt").unlink(missing_ok=True)
    code = ("import wq, wq.api\nwq.api.MANY_CHUNK = 3\n"
            "print(' '.join(wq.Client().submit_many(\n"
            "    [{'command': f'echo {i} $(id -un) >> many.txt'} for i in range(7)])))\n")
    result = alice.run(alice.python, "-c", code, cwd=alice.home)
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 7
    wait_for(lambda: all(ls(lab)[i]["state"] == "done" for i in ids), 60, "the jobs to end")
    lines = sorted((alice.home / "many.txt").read_text().splitlines())
    assert lines == [f"{i} {alice.name}" for i in range(7)]


def test_any_command_of_a_member_brings_their_launcher_back(lab, members):
    """Their jobs wait for their launcher, which died: not only a submission but
    any command of theirs (wq ls here) starts it, as the waiting reason says."""
    users, _ = members
    alice = users["alice"]
    assert lab.wq("node", "offline", "lab1").returncode == 0
    job_id = submit_runs(alice, 0)
    kill_launcher(alice)
    assert lab.wq("node", "online", "lab1").returncode == 0
    wait_for(lambda: "launcher" in ls(lab)[job_id]["reason"], 30,
             "the job to wait for alice's launcher")
    listed = alice.wq("ls", cwd=alice.home)
    assert listed.returncode == 0, listed.stderr
    assert len(launchers(alice)) == 1
    wait_for(lambda: ls(lab)[job_id]["state"] == "done", 60, "the job to run")


def test_another_member_sees_a_failure_without_the_owners_paths(lab, members):
    users, _ = members
    alice, bob = users["alice"], users["bob"]
    unwritable = alice.home.parent           # (root's: it fails at once; a missing
    sub = alice.wq("sub", "-b", "-o", f"{unwritable}/alice-secret.out", "-c", "true",
                   cwd=alice.home)              # directory would be waited for)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip()
    wait_for(lambda: ls(lab)[job_id]["state"] == "failed", 60, "the job to fail")
    assert "alice-secret" in ls(lab)[job_id]["reason"]             # (the operator's view)
    theirs = {r["id"]: r for r in json.loads(bob.wq("ls", "-a", "--json").stdout)}
    assert theirs[job_id]["reason"] and "alice-secret" not in theirs[job_id]["reason"]
    why = bob.wq("why", job_id)
    assert why.returncode == 0 and "alice-secret" not in why.stdout, why.stdout


def test_a_members_retry_runs_again_and_a_row_put_back_does_not(lab, members):
    """`wq retry` of a member's failed tasks runs them again through their
    launcher (their client tags the rerun), each time asked; a finished row
    the operator puts back in the database (the same instance) is refused."""
    users, _ = members
    alice = users["alice"]
    runs = alice.home / "tries.txt"
    runs.unlink(missing_ok=True)
    sub = alice.wq("sub", "-b", "--array", "1-2", "-c",
                   f'echo "$WQ_TASK_ID" >> {runs}; test "$WQ_TASK_ID" = 1', cwd=alice.home)
    assert sub.returncode == 0, sub.stderr
    array = sub.stdout.strip()
    assert alice.wq("wait", array, timeout=60).returncode != 0
    for _ in range(2):
        again = alice.wq("retry", array, timeout=60)
        assert again.returncode == 1, again.stderr          # (task 2 fails again)
    assert sorted(runs.read_text().split()) == ["1", "2", "2", "2"]
    lab.stop()
    db = sqlite3.connect(f"{lab.state}/wq.db")
    db.execute("UPDATE jobs SET state='waiting', instance=0, placement=NULL WHERE number=? "
               "AND task=1", (int(array),))
    db.commit()
    db.close()
    lab.start()
    assert alice.wq("wait", f"{array}.1", timeout=60).returncode != 0
    [row] = json.loads(lab.wq("ls", "-a", "-e", "--json", f"{array}.1").stdout)
    assert row["state"] == "failed" and "replay" in row["reason"], row
    assert sorted(runs.read_text().split()) == ["1", "2", "2", "2"]


def test_a_members_job_is_signalled_by_their_launcher_as_them(lab, members):
    """`wq signal` of a member's running job goes through their launcher (the
    operator's server runs nothing as them); another member is refused."""
    users, _ = members
    alice, bob = users["alice"], users["bob"]
    got = alice.home / "signalled.txt"
    got.unlink(missing_ok=True)
    sub = alice.wq("sub", "-b", "-c", f"trap 'id -un >> {got}' USR1; "
                   "while :; do sleep 0.2; done", cwd=alice.home)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip()
    wait_for(lambda: json.loads(alice.wq("ls", "--json", job).stdout)[0]["state"] == "running",
             30, "alice's job to run")
    refused = bob.wq("signal", "-s", "USR1", job)
    assert refused.returncode == 1 and "alice" in refused.stderr, refused
    sent = alice.wq("signal", "-s", "USR1", job)
    assert sent.returncode == 0 and sent.stdout == f"job {job}: signalled\n", sent
    wait_for(lambda: got.exists() and got.read_text() == f"{alice.name}\n", 30,
             "the job to be signalled")
    assert alice.wq("rm", job).returncode == 0


def test_wq_in_a_members_job_reaches_the_server_as_that_member(lab, members):
    """A member's job that runs wq (a workflow's driver) reaches the lab's server
    through the socket their launcher forwarded to the node, as the member: what
    it submits is theirs."""
    users, _ = members
    alice = users["alice"]
    said = alice.home / "inner.txt"
    said.unlink(missing_ok=True)
    inner = f"{alice.python} -m wq sub -b -c 'id -un > {said}'"
    sub = alice.wq("sub", "-c", f"test -S \"$WQ_SOCKET\" && {inner}", cwd=alice.home)
    assert sub.returncode == 0, sub.stderr
    number = sub.stdout.strip()
    wait_for(lambda: said.exists() and said.read_text() == f"{alice.name}\n", 60,
             "the job's own job to run as alice")
    [row] = json.loads(alice.wq("ls", "-a", "--json", number).stdout)
    assert row["user"] == alice.name, row
