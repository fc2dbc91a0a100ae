import itertools

from hypothesis import given
from hypothesis import strategies as st

import pytest

from wq.errors import UsageError
from wq.parsing.selectors import Selector, parse


def test_the_forms():
    assert parse("12") == Selector(12, 12)
    assert parse("12.3") == Selector(12, 12, (3, 3))
    assert parse("12.1-50") == Selector(12, 12, (1, 50))
    assert parse("3-9") == Selector(3, 9)
    assert parse("last") == Selector(special="last")
    assert parse(" all ") == Selector(special="all")


def test_what_they_match():
    assert parse("12").matches(12, None) and parse("12").matches(12, 7)
    assert parse("12.1-50").matches(12, 50) and not parse("12.1-50").matches(12, 51)
    assert not parse("12.3").matches(12, None)
    assert parse("3-9").matches(9, 4) and not parse("3-9").matches(10, None)
    assert parse("all").matches(99, 1)


@pytest.mark.parametrize("text", ["", "x", "12.", ".3", "9-3", "12.5-1", "3-9.1", "1.2.3",
                                  "-1", "12 3"])
def test_bad_selectors_say_what_is_wrong(text):
    with pytest.raises(UsageError, match="not a job selector"):
        parse(text)


@given(st.integers(0, 10**9), st.integers(0, 10**6), st.one_of(
    st.none(), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))))
def test_printing_and_parsing_agree(first, span, tasks):
    if tasks is not None:
        tasks = (min(tasks), max(tasks))
        span = 0
    sel = Selector(first, first + span, tasks)
    assert parse(str(sel)) == sel


def test_array_ranges():
    from wq.parsing.arrays import TaskRange, parse_range

    assert parse_range("1-1000") == TaskRange(1, 1000)
    assert parse_range("0-99:2%5") == TaskRange(0, 99, 2, 5)
    assert len(parse_range("0-99:2")) == 50
    for bad in ("100", "5-1", "1-9:0", "1-9%0", "a-b", "1-9%"):
        with pytest.raises(UsageError, match="--array"):
            parse_range(bad)


_SELECTORS = st.one_of(
    st.tuples(st.integers(0, 40), st.integers(0, 15)).map(
        lambda p: Selector(p[0], p[0] + p[1])),
    st.tuples(st.integers(0, 40), st.integers(0, 9), st.integers(0, 5)).map(
        lambda p: Selector(p[0], p[0], (p[1], p[1] + p[2]))))


@given(st.lists(_SELECTORS, max_size=12))
def test_disjoint_segments_name_exactly_what_the_selectors_name_each_once(selected):
    from wq.parsing.selectors import disjoint

    segments = disjoint(selected)
    assert all(a.last < b.first for a, b in itertools.pairwise(segments))
    for number in range(0, 60):
        for task in (None, *range(0, 16)):
            named = any(s.matches(number, task) for s in selected)
            covered = [seg for seg in segments if seg.first <= number <= seg.last]
            assert len(covered) <= 1
            inside = bool(covered) and (covered[0].tasks is None or (
                task is not None and any(lo <= task <= hi for lo, hi in covered[0].tasks)))
            assert inside == named, (number, task, segments)


def test_a_thousand_copies_of_a_range_are_one_segment():
    from wq.parsing.selectors import Segment, disjoint, parse_all

    assert disjoint(parse_all(["1-999999999999"] * 1000)) == [Segment(1, 999999999999, None)]
