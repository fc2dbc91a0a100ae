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
from wq.protocol.calls import HostRef


@pytest.fixture(scope="module")
def alice(members_python: str) -> Iterator[UnixUser]:
    with unix_users(members_python, "alice") as made:
        yield made["alice"]


def trusting(user: UnixUser, socket: str) -> None:
    """The member's own configuration names the lab's socket and its operator."""
    user.use_lab(socket)


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


def _ref(number: int, spec: Frame, user: str, *, task: int | None = None, instance: int = 1,
         entry: str | None = None, tag: str | None = None) -> Frame:
    return {"id": number * 1000 + (task or 0), "number": number, "task": task, "user": user,
            "instance": instance, "spec": spec, "entry": entry, "entry_tag": tag,
            "placement": [{"host": "localhost", "cores": 1}]}


def _launch(call: int, job: Frame) -> Frame:
    here = dataclasses.asdict(HostRef("localhost", None, None, True, 10.0, 3, 15.0, 8, False))
    return {"call": call, "op": "launch", "server_id": "hostile0", "host": here,
            "hosts": [here], "job": job, "grace": 1.0}


def test_a_launcher_runs_what_its_member_signed_once_and_no_other_task(alice):
    """The signature covers task numbers and entries, and each (seal, task,
    instance) runs once: a replayed row, a task renumbered out of its array, an
    entry dropped, a plain job called a task, a rerun the member did not ask
    for and a spec signed over a year ago are all refused; one launch and one
    hook ran (the canary has two lines)."""
    from wq import signing

    canary = alice.home / "ran"
    canary.unlink(missing_ok=True)
    reports: dict[int, Frame] = {}
    submitted: list[Frame] = []

    def answer(frame: Frame) -> list[Frame]:
        if frame.get("type") == "submit":
            submitted.append(frame)
            return [{"ok": True, "id": str(len(submitted))}]
        if frame.get("type") == "launcher":
            plain, ranged, listed = (f["spec"] for f in submitted)
            tags = submitted[2]["entry_tags"]
            key = bytes.fromhex((alice.home / ".config/wq/key").read_text())
            old = {k: v for k, v in plain.items() if k != "signature"}
            old["seal"] = signing.seal(now=1_000_000_000)
            old["signature"] = signing.sign(key, old, alice.name)
            rerun = {**plain, "again": signing.seal(), "again_tag": "0" * 64}
            hook = {"call": 20, "op": "hook", "server_id": "hostile0",
                    "host": dataclasses.asdict(HostRef.here()),
                    "job": _ref(1, plain, alice.name), "facts": {"WQ_STATE": "done"}}
            return [{"ok": True},
                    _launch(1, _ref(1, plain, alice.name)),                  # runs
                    _launch(2, _ref(1, plain, alice.name)),                  # a replay
                    _launch(3, _ref(2, ranged, alice.name, task=999)),      # not in 1-3
                    _launch(4, _ref(3, listed, alice.name, task=1)),        # entry dropped
                    _launch(5, _ref(1, plain, alice.name, task=2)),         # not an array
                    _launch(6, _ref(1, rerun, alice.name)),                  # a forged rerun
                    _launch(7, _ref(1, old, alice.name)),                    # signed long ago
                    _launch(8, _ref(3, listed, alice.name, task=1, entry="b", tag=tags[0])),
                    hook, {**hook, "call": 21}]
        if frame.get("kind") in ("done", "failed"):
            reports[frame["call"]] = frame
        return []
    with hostile(answer, user=alice.name) as server:
        trusting(alice, server.path)
        command = f"echo ran >> {canary}"
        for args in ([], ["--array", "1-3"]):
            sub = alice.wq("sub", "-b", *args, "--on-end", command, "-c", command,
                           cwd=alice.home)
            assert sub.returncode == 0, sub.stderr
        (alice.home / "list").write_text("a\nb\n")
        sub = alice.wq("sub", "-b", "--each-line", "list", "-c", "true", cwd=alice.home)
        assert sub.returncode == 0, sub.stderr
        launcher = alice.popen(alice.python, "-m", "wq", "launcher", "--once")
        try:
            wait_for(lambda: len(reports) == 10, 60, "the launcher's ten answers")
            wait_for(lambda: canary.exists() and len(canary.read_text().split()) >= 2, 30,
                     "the launch's and the hook's lines")
        finally:
            os.killpg(launcher.pid, signal.SIGKILL)        # (its helpers too)
            launcher.wait(10)
    said = {call: (r["kind"], r.get("error", "")) for call, r in sorted(reports.items())}
    assert [said[c][0] for c in (1, 20)] == ["done", "done"], said
    for call, words in ((2, "replay"), (3, "not a task"), (4, "entry is missing"),
                        (5, "not a task"), (6, "did not ask for this rerun"),
                        (7, "more than 366 days"), (8, "entry is not as"), (21, "replay")):
        kind, error = said[call]
        assert kind == "failed" and "refused" in error and words in error, (call, said)
    assert canary.read_text().split() == ["ran", "ran"]
