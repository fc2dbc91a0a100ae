"""A hostile operator: a server run by the lab's operator (root here) that
forges what it says, against a member's real client, as a real Unix user.
Nothing the server writes may run as the member: it chooses where, never
what (docs/lab.md, Signed jobs)."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator

import psutil
import pytest

from tests.integration.hostile_server import Frame, hostile
from tests.integration.sshd import wait_for
from tests.integration.users import UnixUser, unix_users
from wq.protocol.launching import HostRef


@pytest.fixture(scope="module")
def alice() -> Iterator[UnixUser]:
    with unix_users("alice") as made:
        yield made["alice"]


def trusting(user: UnixUser, socket: str) -> None:
    """The member's own configuration names the lab's socket and its operator."""
    config = user.home / ".config" / "wq" / "client.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"socket: {socket}\noperator: root\nlauncher: manual\n")
    for path in (config, config.parent, config.parent.parent):
        os.chown(path, user.uid, user.gid)


def forged_lease(canary: str) -> Frame:
    """A lease whose setup and command are the operator's, on a host of its naming."""
    here = dataclasses.asdict(HostRef("evil", None, None, True, 10.0, 3, 15.0, 8, False))
    return {"event": "lease", "host": "evil", "local": True, "setup": f"id > {canary}",
            "command": f"id >> {canary}", "instance": 1,
            "placement": [{"host": "evil", "cores": 1}], "hosts": [here],
            "server_id": "hostile0", "grace": 1.0}


@pytest.mark.parametrize("says_launcher", [False, True])
def test_a_server_cannot_run_its_own_session_as_a_member(alice, says_launcher):
    """Whether the server says the member has a launcher or not (it said not, and
    its lease ran as them), the member's client is a member by its own
    configuration: it builds the session from its own request, and only the
    placement comes from the server."""
    canary = alice.home / "canary"
    canary.unlink(missing_ok=True)

    def answer(frame: Frame) -> list[Frame]:
        if frame.get("type") == "submit":
            return [{"ok": True, "id": "7"}, forged_lease(str(canary))]
        return [{"ok": True}]
    with hostile(answer, user=alice.name, launcher=says_launcher) as server:
        trusting(alice, server.path)
        result = alice.wq("sub", "-i", "-c", "echo harmless", cwd=alice.home, timeout=60)
    assert not canary.exists(), canary.read_text()
    assert result.stdout.strip() == "harmless", result.stderr
    submitted = next(f for f in server.received if f.get("type") == "submit")
    assert submitted["spec"]["command"] == "echo harmless"


def test_a_launcher_refuses_host_names_that_would_name_a_members_files(alice):
    """A job of the member's, signed with `-o logs/%h`: a server that names its
    host `../secret.txt` would have the member's launcher read the member's
    files back (it did). Host names follow the cluster file's rule."""
    (alice.home / "secret.txt").write_text("the member's secret\n")
    reports: list[Frame] = []

    def answer(frame: Frame) -> list[Frame]:
        if frame.get("type") == "submit":
            return [{"ok": True, "id": "5"}]
        if frame.get("type") == "launcher":
            signed = next(f["spec"] for f in server.received if f.get("type") == "submit")
            evil = dataclasses.asdict(HostRef("../secret.txt", None, None, True, 10.0, 3, 15.0,
                                              8, False))
            call = {"call": 1, "op": "cat", "server_id": "hostile0", "host": evil,
                    "job": {"id": 5, "number": 5, "task": None, "user": alice.name,
                            "instance": 1, "spec": signed,
                            "placement": [{"host": "../secret.txt", "cores": 1}]},
                    "max_bytes": 4096}
            return [{"ok": True}, call]
        if "kind" in frame:
            reports.append(frame)
        return []
    with hostile(answer, user=alice.name) as server:
        trusting(alice, server.path)
        sub = alice.wq("sub", "-b", "-o", "logs/%h", "-c", "true", cwd=alice.home)
        assert sub.returncode == 0, sub.stderr
        launcher = alice.popen(alice.python, "-m", "wq", "launcher", "--once")
        try:
            wait_for(lambda: reports, 30, "the launcher's report")
        finally:
            os.killpg(launcher.pid, signal.SIGKILL)        # (its helpers too)
            launcher.wait(10)
    [report] = reports
    assert report["kind"] == "failed" and "refused" in report["error"], report
    assert "host name" in report["error"] and "secret" not in str(report.get("result"))


def test_a_launcher_keeps_one_helper_here_whatever_the_server_calls_this_machine(alice):
    """A server that names twenty invented local hosts gets one local helper
    from the member's launcher, not twenty processes."""
    reports: list[Frame] = []

    def answer(frame: Frame) -> list[Frame]:
        if frame.get("type") == "launcher":
            calls = []
            for number in range(20):
                here = dataclasses.asdict(HostRef(f"made-up-{number}", None, None, True, 10.0,
                                                  3, 15.0, 8, True))
                calls.append({"call": number, "op": "status", "server_id": "hostile0",
                              "host": here, "names": ["5.1"]})
            return [{"ok": True}, *calls]
        if "kind" in frame:
            reports.append(frame)
        return []
    with hostile(answer, user=alice.name) as server:
        trusting(alice, server.path)
        launcher = alice.popen(alice.python, "-m", "wq", "launcher", "--once")
        try:
            wait_for(lambda: len(reports) == 20, 60, "the launcher's twenty reports")
            helpers = [p for p in psutil.Process(launcher.pid).children(recursive=True)
                       if "-c" in p.cmdline()]
            assert len(helpers) == 1, [p.cmdline() for p in helpers]
        finally:
            os.killpg(launcher.pid, signal.SIGKILL)        # (its helpers too)
            launcher.wait(10)
    assert {r["kind"] for r in reports} == {"done"}, reports
