"""The runner's own pure helpers."""

from __future__ import annotations

from tests.builders import job, with_
from wq.server.runner import _arrays


def numbered(id: int, number: int, task: int | None = None):  # type: ignore[no-untyped-def]
    return with_(job(id), number=number, task=task)


def test_a_big_removal_holds_the_arrays_it_names_and_no_separate_job():
    """(A million separate jobs held made every scheduling pass of the removal a
    million steps long, for nothing: the scheduler holds arrays only.)"""
    separate = [numbered(i, i) for i in range(1, 4)]
    tasks = [numbered(10 + t, 10, t) for t in range(1, 1000)]
    later = [numbered(2000 + t, 20, t) for t in range(1, 3)]
    assert _arrays([*separate, *tasks, numbered(1500, 15), *later]) == {10, 20}
    assert _arrays(separate) == frozenset()

