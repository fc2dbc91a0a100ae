"""Job rows: typed on both sides; on the wire, optional fields only when set
(what `wq ls --json` prints, as before they were typed)."""

import pytest

from wq.errors import ProtocolError
from wq.protocol.replies import (Cleaned, Done, EventRow, HostRow, InfoPage, InstanceRow,
                                 JobInfo, JobRow, LimitReply, Listing, LogReply, NodeReply,
                                 Refreshed, Removed, RemoveRow, StatReply, UserRow, UsersPage)
from wq.protocol.rows import Accepted

BASE = {"id": "12", "number": 12, "task": None, "user": "ann", "state": "waiting",
        "pri": "med", "nc": None, "nh": None, "host0": None, "submitted": 1.0,
        "started": None, "ended": None, "exit": None, "name": "sweep", "reason": "",
        "instance": 0}


@pytest.mark.parametrize("extra", [{}, {"interactive": True}, {"unfit": True},
                                   {"array": True, "counts": {"waiting": 3}, "tasks": 3},
                                   {"command": "true", "cwd": "/tmp", "hosts": [],
                                    "requirements": {"n": 1}}])
def test_a_row_goes_and_comes_back_with_the_same_keys(extra):
    frame = {**BASE, **extra}
    assert JobRow.from_frame(frame).to_frame() == frame


@pytest.mark.parametrize("bad", [{"id": 12}, {"number": "12"}, {"counts": [1]},
                                 {"hosts": "node1"}])
def test_a_malformed_row_is_refused(bad):
    with pytest.raises(ProtocolError):
        JobRow.from_frame({**BASE, **bad})


def test_a_row_missing_a_field_is_refused():
    frame = dict(BASE)
    del frame["state"]
    with pytest.raises(ProtocolError, match="state"):
        JobRow.from_frame(frame)


def test_host_and_user_rows_go_and_come_back():
    host = HostRow("node1", 8, 3, 16.0, 0, ["gpu"], "up", "")
    user = UserRow("ann", 2, 4, 10, {"jobs": 5, "cores": None})
    assert HostRow.from_frame(host.to_frame()) == host
    assert UserRow.from_frame(user.to_frame()) == user
    with pytest.raises(ProtocolError):
        HostRow.from_frame({**host.to_frame(), "used": "3"})


INFO = JobInfo(**{**JobRow.from_frame(BASE).to_frame(), "interactive": False,
                  "command": "true", "cwd": "/tmp", "hosts": ["n1"], "requirements": {"n": 1},
                  "crashes": 0, "failures": 1, "stdout": None, "stderr": "err"})

REPLIES = [
    Accepted("12"), Accepted("13", tasks=1000), Done(), Cleaned(3, ["n2"]),
    Listing(5.0, [JobRow.from_frame(BASE)], more=True),
    StatReply([HostRow("node1", 8, 3, 16.0, 0, ["gpu"], "up", "")], 3, 10),
    UsersPage([UserRow("ann", 2, 4, 10, {"jobs": 5, "cores": None})]),
    InfoPage(5.0, INFO, [InstanceRow(1, ["n1"], 1.0, 2.0, "failed", 3, "retrying", True)],
             [EventRow(1.0, "submitted", "")], more=True),
    InfoPage(5.0, None, [], [EventRow(2.0, "ended", "failed")]),
    Removed([RemoveRow("12.1-50", "cancelled", True)]), Refreshed(4, ["n5"], []),
    NodeReply(["n1"], True), LimitReply("ann", {"jobs": 2, "cores": None}),
    LogReply("12", "n1", 1, "out", "err"),
]


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: type(r).__name__)
def test_every_reply_goes_and_comes_back(reply):
    frame = reply.to_frame()
    assert type(reply).from_frame({"ok": True, **frame}) == reply


def test_info_keeps_every_field_of_a_job_in_full():
    """`wq info --json` prints these keys whatever their values (interactive
    false included), as before replies were typed."""
    frame = INFO.to_frame()
    assert {"interactive", "command", "cwd", "hosts", "requirements", "crashes",
            "failures", "stdout", "stderr"} <= frame.keys()
    assert "unfit" not in frame and "array" not in frame


@pytest.mark.parametrize("reply, frame", [
    (InfoPage, {"now": 1.0, "instances": [{"number": "1"}]}),
    (InfoPage, {"now": 1.0, "job": [1]}),
    (InfoPage, {"now": 1.0, "events": {"time": 1.0}}),
    (StatReply, {"hosts": [3], "running": 0, "waiting": 0}),
    (Removed, {"results": [{"id": "1", "result": "x"}]}),
    (Accepted, {"id": 12}),
])
def test_a_malformed_reply_is_refused(reply, frame):
    with pytest.raises(ProtocolError):
        reply.from_frame(frame)
