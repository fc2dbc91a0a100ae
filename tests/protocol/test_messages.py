import json
import socket

import pytest

from wq.errors import ProtocolError
from wq.protocol import framing, messages
from wq.protocol.messages import ListJobs, Remove, Submit


def test_round_trip_every_message():
    for req in [messages.Hello(1, "t"), Submit({"command": "x"}, attach=True),
                Submit({"command": "x"}, array=[1, 9, 2], throttle=3),
                Submit({"command": "x"}, entries=["a", "b"]),
                ListJobs(user="ann", states=["running"], all=True, select=["3-9"], expand=True),
                messages.Stat(), Remove(select=["1", "2.3"]), messages.Refresh(),
                messages.NodeState(["a"], True), messages.Users(), messages.SetLimits(jobs=2),
                messages.Log("3")]:
        frame = framing.decode(framing.encode(messages.to_frame(req))[4:])
        assert messages.from_frame(frame) == req


@pytest.mark.parametrize("frame,message", [
    ({"type": "nope"}, "unknown request type 'nope'"),
    ({}, "unknown request type None"),
    ({"type": "rm", "select": [1]}, "field 'select' has the wrong type"),
    ({"type": "submit", "spec": {}, "array": [True]}, "field 'array' has the wrong type"),
    ({"type": "submit"}, "missing field 'spec'"),
    ({"type": "log", "id": 1.5}, "field 'id' has the wrong type"),
    ({"type": "submit", "spec": {}, "entries": "x"}, "field 'entries' has the wrong type"),
])
def test_bad_frames_are_refused(frame, message):
    with pytest.raises(ProtocolError) as err:
        messages.from_frame(frame)
    assert message in str(err.value)


def test_undecodable_and_oversize_frames():
    with pytest.raises(ProtocolError):
        framing.decode(b"\xff\xfe")
    with pytest.raises(ProtocolError):
        framing.decode(b"[1, 2]")
    with pytest.raises(ProtocolError):
        framing.length((framing.MAX_FRAME + 1).to_bytes(4, "big"))


def test_binary_output_survives():
    data = b"\x00\xffabc\xc3".decode("utf-8", "surrogateescape")
    frame = framing.decode(framing.encode({"data": data})[4:])
    assert frame["data"].encode("utf-8", "surrogateescape") == b"\x00\xffabc\xc3"


def test_recv_over_a_socket():
    a, b = socket.socketpair()
    a.sendall(framing.encode({"x": 1}) + framing.encode({"y": 2}))
    a.close()
    assert framing.recv(b) == {"x": 1}
    assert framing.recv(b) == {"y": 2}
    assert framing.recv(b) is None


@pytest.mark.parametrize("body, message", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": NaN}', "NaN is not a number JSON allows"),
    (b'{"a": Infinity}', "Infinity"),
])
def test_frames_that_would_crash_a_decoder_are_refused(body, message):
    with pytest.raises(ProtocolError, match=message):
        framing.decode(body)


@pytest.mark.parametrize("frame", [
    {"type": "limit", "jobs": 2**63},
    {"type": "limit", "cores": -(2**70)},
    {"type": "clean", "older_than": 1e308},
    {"type": "log", "id": "1", "max_bytes": 10**30},
])
def test_numbers_beyond_any_use_are_refused_before_they_reach_sqlite(frame):
    with pytest.raises(ProtocolError, match="wrong type"):
        messages.from_frame(frame)


def test_a_frame_that_would_decode_into_far_more_than_its_size_is_refused_unread():
    from wq.errors import ProtocolError
    from wq.protocol import framing

    empties = b'{"x":[' + b"[]," * 2_000_000 + b"[]]}"            # 6 MiB, ~150 MiB read
    with pytest.raises(ProtocolError, match="MiB once read"):
        framing.decode(empties)
    entries = json.dumps({"type": "submit", "entries": [f"/data/in-{i:07d}" for i in
                                                        range(1_000_000)]}).encode()
    assert len(entries) < framing.MAX_FRAME
    assert framing.decoded_size(entries) < framing.MAX_DECODED          # (a big array's)
