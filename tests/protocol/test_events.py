"""Events on the wire: typed both ways, checked field by field; wq sub's exit
status comes from the Exit event's state and code, never from its text."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from wq.cli.follow import TIMEOUT_EXIT, _show
from wq.errors import ProtocolError
from wq.protocol import events

SAMPLES: list[events.Event] = [
    events.Waiting("no host has 8 free cores"), events.Started("node1", 4242, 1),
    events.Output("stdout", "hi\udcff\n"), events.Requeued("lost on node1; requeued (1 of 3)"),
    events.Exit("failed", 3, "exit code 3"), events.Exit("lost"),
    events.Task("12.7", "done", 0, "", {"done": 7}), events.ArrayEnd(12, {"done": 10}),
    events.Lease("node1", False, "set up", "run", {"port": 22}),
    events.Lease("here", True, "set up", "run"), events.End("removed with wq rm"),
    events.Notice("output comes faster than it can be shown"),
]


def test_every_kind_of_event_has_a_sample():
    assert {type(e) for e in SAMPLES} == set(typing.get_args(events.Event))


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event)
def test_an_event_comes_back_as_it_went(event):
    assert events.from_frame(events.to_frame(event)) == event
    # the shallow frame is what asdict gave: no event holds a dataclass
    assert events.to_frame(event) == {"event": event.event, **dataclasses.asdict(event)}


@pytest.mark.parametrize("frame", [
    {"event": "exit", "state": "failed", "code": "3"},
    {"event": "started", "host": "a", "pid": 1},
    {"event": "task", "id": "1.1", "state": "done", "counts": []},
    {"event": "teleported"},
    {"no": "event"},
])
def test_a_malformed_event_is_refused(frame):
    with pytest.raises(ProtocolError):
        events.from_frame(frame)


@pytest.mark.parametrize("event, cancelled, status", [
    (events.Exit("done", 0), False, 0),
    (events.Exit("failed", 3, "whatever the text says"), False, 3),
    (events.Exit("failed", None, "exit code 7 (but it never ran: no cwd)"), False, 1),
    (events.Exit("timeout", 143, "its time limit (1s) ran out"), False, TIMEOUT_EXIT),
    (events.Exit("cancelled", None, "removed with wq rm"), True, 130),
    (events.Exit("cancelled", None, "removed with wq rm"), False, 1),
    (events.Exit("lost", None, "node1 is down"), False, 1),
])
def test_wq_sub_exits_with_what_the_exit_event_says(event, cancelled, status, capsys):
    assert _show(event, "12", chatty=False, cancelled=cancelled) == status
