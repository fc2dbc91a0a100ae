"""An attached array's progress: a bar only on a terminal."""

from __future__ import annotations

import io

import pytest

from wq.cli.follow import Progress
from wq.protocol import events


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO, states: list[str]) -> int:
    monkeypatch.setattr("sys.stderr", stderr)
    bar = Progress("12", len(states))
    counts: dict[str, int] = {}
    for task, state in enumerate(states, start=1):
        counts[state] = counts.get(state, 0) + 1
        bar.update(events.Task(f"12.{task}", state, reason="", counts=dict(counts)))
    bar.update(events.ArrayEnd(12, counts=dict(counts)))
    return bar.finish()


def test_without_a_terminal_there_is_no_bar_only_the_summary(monkeypatch):
    out = io.StringIO()
    assert run(monkeypatch, out, ["done"] * 3) == 0
    assert out.getvalue() == "wq: array 12: 3 tasks done\n"
    out = io.StringIO()
    assert run(monkeypatch, out, ["done", "failed"]) == 1
    assert "[#" not in out.getvalue() and "1 failed" in out.getvalue()


def test_on_a_terminal_the_bar_is_drawn_in_place(monkeypatch):
    out = Terminal()
    assert run(monkeypatch, out, ["done"] * 3) == 0
    assert out.getvalue().endswith("\rwq: array 12 [" + "#" * 30 + "] 3/3 ended\n")
