"""Job rows: typed on both sides; on the wire, optional fields only when set
(what `wq ls --json` prints, as before they were typed)."""

import pytest

from wq.errors import ProtocolError
from wq.protocol.replies import HostRow, JobRow, UserRow

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
