"""Lab mode with real Unix users: one server (run by root, the operator here)
shared through a second socket; who may connect, what each member may see and
do, and the per-user bounds. Members' jobs wait for their own launcher."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import NOWHERE
from tests.integration.sshd import WqServer
from tests.integration.users import UnixUser, unix_users



@pytest.fixture(scope="module")
def users(members_python: str) -> Iterator[dict[str, UnixUser]]:
    with unix_users(members_python, "alice", "carol", "mallory") as made:
        yield made


@pytest.fixture
def lab(tmp_path: Path, users: dict[str, UnixUser]) -> Iterator[tuple[WqServer, str]]:
    """A lab server: alice named, carol by her group, mallory neither; at most
    three waiting jobs a member."""
    base = Path(tempfile.mkdtemp(prefix="wq-lab-", dir="/tmp"))
    base.chmod(0o755)
    socket = str(base / "sock" / "lab.sock")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(NOWHERE + f"lab:\n  socket: {socket}\n  users: [{users['alice'].name}]\n"
                       f"  group: {users['carol'].name}\n"
                       "  per_user: {queued: 3, connections: 4, pending_mb: 2}\n")
    server = WqServer(tmp_path / "srv", cluster)
    try:
        server.start()
        for user in users.values():
            user.use_lab(socket)
        yield server, socket
    finally:
        server.stop()
        for user in users.values():
            user.leave_lab()
        shutil.rmtree(base, ignore_errors=True)


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, (result.stdout, result.stderr)
    return lines[0]


def test_members_reach_the_lab_socket_and_others_are_turned_away(lab, users):
    server, socket = lab
    alice, carol, mallory = users["alice"], users["carol"], users["mallory"]
    directory = os.path.dirname(socket)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o711        # users named one by one
    assert stat.S_IMODE(os.lstat(socket).st_mode) == 0o666
    assert stat.S_IMODE(os.stat(os.path.dirname(server.socket)).st_mode) == 0o700
    for member in (alice, carol):                                   # by name, by group
        result = member.wq("stat")
        assert result.returncode == 0, result.stderr
        assert "nowhere" in result.stdout
    line = one_line(mallory.wq("stat"))
    assert f"{mallory.name} is not a member of this lab's wq server; ask root" in line
    # without saying whose server it is, the client trusts only its own
    alice.use_lab(socket, way="user file")
    plain = alice.env(WQ_SOCKET=socket)
    line = one_line(alice.wq("stat", env={**plain, "XDG_CONFIG_HOME": "/nonexistent"}))
    assert "refusing to talk" in line and "WQ_OPERATOR=root" in line
    assert alice.wq("stat", env={**plain, "WQ_OPERATOR": "root"}).returncode == 0


def test_sharing_rules_between_members_and_the_operator(lab, users):
    server, _ = lab
    alice, carol = users["alice"], users["carol"]
    sub = alice.wq("sub", "-b", "-c", "echo secret-of-alice")
    assert sub.returncode == 0, sub.stderr
    mine = sub.stdout.strip()
    theirs = server.wq("sub", "-b", "-c", "echo the-operators-own").stdout.strip()

    listed = {r["id"]: r for r in json.loads(carol.wq("ls", "--json").stdout)}
    assert listed[mine]["user"] == alice.name and "command" not in listed[mine]
    assert listed[theirs]["user"] == "root"
    own = {r["id"]: r for r in json.loads(alice.wq("ls", "--json").stdout)}
    assert own[mine]["command"] == "echo secret-of-alice"
    assert own[mine]["reason"].startswith(f"waiting for {alice.name}'s launcher")
    admin = {r["id"]: r for r in json.loads(server.wq("ls", "--json").stdout)}
    assert admin[mine]["command"] == "echo secret-of-alice"         # admins see it

    line = one_line(carol.wq("info", mine))
    assert f"job {mine} is {alice.name}'s: wq info is theirs alone" in line
    assert json.loads(server.wq("info", "--json", mine).stdout)["command"] \
        == "echo secret-of-alice"
    assert "is theirs alone" in one_line(server.wq("log", mine))

    result = carol.wq("rm", mine)
    assert result.returncode == 1 and "not yours" in result.stdout
    assert "wq node is for the lab's admins (root)" in one_line(alice.wq("node", "offline",
                                                                          "nowhere"))
    assert "wq refresh is for the lab's admins" in one_line(alice.wq("refresh"))
    stop = alice.wq("stop")
    assert stop.returncode == 1 and "wq stop is for root, who runs this server, alone" \
        in one_line(stop)

    assert server.wq("limit", "-u", alice.name, "run: 3").returncode == 0
    assert "you may only lower your own limits (run: 3)" in one_line(alice.wq("limit",
                                                                               "run: 5"))
    assert alice.wq("limit", "run: 2").stdout.strip() == f"limits for {alice.name}: run: 2"
    assert "setting another user's limits is for the lab's admins" in one_line(
        alice.wq("limit", "-u", carol.name, "run: 1"))
    rows = {r["user"]: r for r in json.loads(carol.wq("users", "--json").stdout)}
    assert rows[alice.name]["waiting"] == 1 and rows[alice.name]["limits"]["jobs"] == 2

    result = server.wq("rm", mine)                                  # an admin may
    assert result.returncode == 0, result.stdout


def test_a_member_may_queue_only_so_many_jobs(lab, users):
    alice = users["alice"]
    assert alice.wq("sub", "-b", "--array", "1-2", "-c", "true").returncode == 0
    assert alice.wq("sub", "-b", "-c", "true").returncode == 0
    line = one_line(alice.wq("sub", "-b", "-c", "true"))
    assert "the lab allows 3 waiting jobs a user; you have 3 waiting and this adds 1" in line
    assert alice.wq("rm", "all").returncode == 0
    assert alice.wq("sub", "-b", "-c", "true").returncode == 0


def test_a_members_clean_forgets_their_own_jobs_and_an_admins_everyones(lab, users):
    server, _ = lab
    alice, carol = users["alice"], users["carol"]
    ids = {}
    for who, run in (("alice", alice.wq), ("carol", carol.wq), ("root", server.wq)):
        sub = run("sub", "-b", "-c", "true")
        assert sub.returncode == 0, sub.stderr
        ids[who] = sub.stdout.strip()
        assert run("rm", ids[who]).returncode == 0          # (cancelled: finished)

    def kept() -> set[str]:
        return {r["id"] for r in json.loads(server.wq("ls", "-a", "--json").stdout)}
    assert set(ids.values()) <= kept()
    cleaned = alice.wq("clean")
    assert cleaned.returncode == 0 and "forgot 1 " in cleaned.stdout, cleaned.stdout
    assert kept() & set(ids.values()) == {ids["carol"], ids["root"]}
    assert server.wq("clean").returncode == 0                       # an admin's: everyone's
    assert not kept() & set(ids.values())


def test_the_queued_bound_holds_under_parallel_submissions(tmp_path, users):
    """Four big arrays at once against a bound that one of them fills: they
    went in a chunk at a time, each checked against what was in, and all four
    were accepted."""
    alice = users["alice"]
    base = Path(tempfile.mkdtemp(prefix="wq-lab-", dir="/tmp"))
    base.chmod(0o755)
    socket = str(base / "sock" / "lab.sock")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(NOWHERE + f"lab:\n  socket: {socket}\n  users: [{alice.name}]\n"
                       "  per_user: {queued: 100000}\n")
    server = WqServer(tmp_path / "srv", cluster)
    try:
        server.start()
        alice.use_lab(socket)
        procs = [alice.popen(alice.python, "-m", "wq", "sub", "-b", "--array", "1-100000",
                             "-c", "true") for _ in range(4)]
        results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in procs]
        accepted = [code for code, _ in results if code == 0]
        assert len(accepted) == 1, results
        refusals = [err for code, err in results if code != 0]
        assert any("the lab allows 100000 waiting jobs a user" in err for err in refusals), \
            "\n".join(refusals)
        for err in refusals:                  # (whichever bound it met: a wq error)
            assert err.startswith("wq: "), err
    finally:
        server.stop()
        alice.leave_lab()
        shutil.rmtree(base, ignore_errors=True)


def test_a_members_job_name_cannot_drive_another_members_terminal(lab, users):
    """ESC sequences in a job's name (a window title, a cleared screen) reach
    other members escaped: wq ls, wq ls -f, and the Slurm shims."""
    server, _ = lab
    alice, carol = users["alice"], users["carol"]
    sub = alice.run(alice.python, "-c", "import wq\nprint(wq.Client().submit('true', "
                    "name='\\x1b]0;pwned\\x07\\x1b[2J'))")
    assert sub.returncode == 0, sub.stderr
    for args in (("-m", "wq", "ls"), ("-m", "wq", "ls", "-f"),
                 ("-m", "wq.slurm", "squeue", "-o", "%i %j"),
                 ("-m", "wq.slurm", "scontrol", "show", "job", sub.stdout.strip())):
        shown = carol.run(carol.python, *args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout, args
        assert "\\x1b]0;pwned\\x07" in shown.stdout, (args, shown.stdout)
    assert alice.wq("rm", "all").returncode == 0


STAGED = r"""
import wq, wq.api
from wq.errors import ServerError
wq.api.MANY_CHUNK = 2
said = []

def jobs():
    yield from ({"command": "true"} for _ in range(3))
    # the first request (2 jobs) is in: a second submission may not add 2 more
    try:
        wq.Client().submit_many([{"command": "true"}] * 2)
    except ServerError as exc:
        said.append(str(exc))

print(len(wq.Client().submit_many(jobs())))
print(said[0])
"""


def test_a_members_submit_many_counts_against_the_bound_while_it_is_sent(lab, users):
    """The jobs of a submit_many taken but not yet accepted count as waiting:
    one member cannot stage more than the bound over several connections."""
    alice = users["alice"]
    result = alice.run(alice.python, "-c", STAGED)
    assert result.returncode == 0, result.stderr
    count, said = result.stdout.splitlines()
    assert count == "3"
    assert "the lab allows 3 waiting jobs a user; you have 2 waiting and this adds 2" in said
    more = alice.run(alice.python, "-c", "import wq\n"
                     "wq.Client().submit_many([{'command': 'true'}])")
    assert more.returncode == 1                      # (the API raises ServerError)
    assert "the lab allows 3 waiting jobs a user; you have 3 waiting" in more.stderr
    assert alice.wq("rm", "all").returncode == 0


HOSTILE = r"""
import json, random, socket, struct, sys
from wq.protocol import framing, messages as m

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
refused = 0


def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    s.sendall(framing.encode(m.to_frame(m.Hello(m.PROTOCOL_VERSION))))
    return s, framing.recv(s)


held = []                                   # more connections than a member may hold
for _ in range(8):
    s, hello = connect()
    if hello.get("ok"):
        held.append(s)
    else:
        refused += 1
        s.close()
for s in held[1:]:
    s.close()
s = held[0]

values = [None, True, -1, 0, 2**62, 1e308, "", "x" * 70000, [], {}, [1, "a"], {"a": [{}]},
          "\u0000", "../../etc/passwd", "-1", "1-", "all", "last"]
for _ in range(400):
    kind = rng.choice(list(m.REQUESTS))
    frame = {"type": kind}
    for name in ("spec", "select", "id", "states", "jobs", "cores", "page", "array",
                 "entries", "throttle", "hosts", "offline", "user", "older_than",
                 "max_bytes", "instance", "attach"):
        if rng.random() < 0.3:
            frame[name] = rng.choice(values)
    if kind == "submit" and rng.random() < 0.5:
        frame["spec"] = {"command": "touch /tmp/wq-pwned", "cwd": "/tmp",
                         "requirements": rng.choice([{}, {"n": 10**6}, {"mode": "x"}])}
    if kind in ("hello", "launcher", "session_end"):
        continue                            # (these take over the connection)
    try:
        s.sendall(framing.encode(frame))
        reply = framing.recv(s)
    except (OSError, ValueError):
        s.close()
        s, _ = connect()
        continue
    if reply is None:
        s.close()
        s, _ = connect()

s.sendall(struct.pack(">I", 10 << 20) + b"{" * 65536)   # a frame over its budget, unfinished
try:
    big = framing.recv(s)
except OSError:
    big = None
print(json.dumps({"refused": refused, "big": big}))
"""


def test_a_hostile_member_cannot_crash_crowd_or_impersonate(lab, users):
    """A member sending every kind of bad request, too many connections and an
    oversize frame: refused one by one; the server and the other members go on,
    and nothing ran."""
    server, socket = lab
    mallory, carol = users["alice"], users["carol"]       # (alice, a member, misbehaving)
    script = mallory.home / "hostile.py"
    script.write_text(HOSTILE)
    result = mallory.run(mallory.python, str(script), socket, "7", timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["refused"] >= 4                       # beyond 4 connections a member
    assert report["big"] is None or "too much unfinished data from you" in report["big"]["error"]
    assert server.proc is not None and server.proc.poll() is None
    for who in (carol, None):
        stat = (who.wq("stat") if who is not None else server.wq("stat"))
        assert stat.returncode == 0, stat.stderr
    assert carol.wq("sub", "-b", "-c", "true").returncode == 0
    assert not os.path.exists("/tmp/wq-pwned")
    mallory.wq("rm", "all")


WALK = r"""
import json, socket, sys
from wq.protocol import framing, messages as m

path, waiting, ended = sys.argv[1], sys.argv[2], sys.argv[3]
frames = {
    "ls": {"select": [waiting], "all": True}, "stat": {}, "users": {},
    "status": {"select": [waiting]}, "why": {"select": waiting},
    "rm": {"select": [waiting]}, "clean": {}, "rerun": {"id": ended},
    "signature": {"id": waiting}, "log": {"id": ended}, "attach": {"id": waiting},
    "info": {"id": waiting}, "session_end": {"id": waiting},
    "signal": {"select": [waiting], "signal": "USR1"},
    "hold": {"select": [waiting]}, "release": {"select": [waiting]},
    "requeue": {"select": [ended]}, "update": {"select": [waiting], "time_limit": 60},
    "step": {"job": waiting, "host": "lab1", "argv": ["true"], "env": {}, "cwd": "/",
             "node": 0, "tasks": [0]},
    "refresh": {}, "node": {"hosts": ["nowhere"], "offline": True},
    "limit": {"user": sys.argv[4], "jobs": 1}, "stop": {},
}
said = {}
for kind, fields in frames.items():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    s.sendall(framing.encode(m.to_frame(m.Hello(m.PROTOCOL_VERSION))))
    framing.recv(s)
    s.sendall(framing.encode({"type": kind, **fields}))
    said[kind] = framing.recv(s)
    s.close()
print(json.dumps(said))
"""

#: requests that act for the requester alone (their own jobs, connection or
#: launcher): there is no other member's job for them to name
OWN_ONLY = {"hello", "submit", "submit_many", "session", "launcher"}


def test_every_request_naming_another_members_job_is_refused_or_shows_it_public(lab, users):
    """Carol sends every request type naming alice's jobs (one waiting, one
    ended): each that would change, forget, rerun or read into them is
    refused; the reads show the public row; alice's jobs are as they were."""
    from wq.protocol import messages as m
    from wq.server.rights import RULES, Rule

    server, socket = lab
    alice, carol = users["alice"], users["carol"]
    waiting = alice.wq("sub", "-b", "-c", "echo private").stdout.strip()
    ended = alice.wq("sub", "-b", "-c", "true").stdout.strip()
    assert alice.wq("rm", ended).returncode == 0
    before = {r["id"]: r["state"] for r in json.loads(server.wq("ls", "-a", "--json").stdout)}
    script = carol.home / "walk.py"
    script.write_text(WALK)
    result = carol.run(carol.python, str(script), socket, waiting, ended, alice.name)
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    assert set(said) | OWN_ONLY == set(m.REQUESTS)          # (a new request: walk it too)
    for kind, reply in said.items():
        if RULES[kind] is Rule.ANYONE and kind != "limit":
            assert reply["ok"], (kind, reply)
            assert "private" not in json.dumps(reply), (kind, reply)
        elif kind in ("rm", "hold", "release", "requeue", "update"):   # (row by row)
            assert [r["result"] for r in reply["results"]] == [
                f"not yours (it belongs to {alice.name})"], reply
        elif kind == "clean":                               # (her own: none)
            assert reply["ok"] and reply["forgotten"] == 0, reply
        else:
            assert not reply["ok"], (kind, reply)
            assert alice.name in reply["error"] or "admins" in reply["error"] \
                or "root" in reply["error"] or "of yours" in reply["error"], (kind, reply)
    after = {r["id"]: r["state"] for r in json.loads(server.wq("ls", "-a", "--json").stdout)}
    assert after == before
    rows = {r["user"]: r for r in json.loads(server.wq("users", "--json").stdout)}
    assert rows[alice.name]["limits"]["jobs"] is None
