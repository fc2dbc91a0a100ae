"""Array indices: Slurm's --array forms, and positions among them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.errors import ParseError
from wq.parsing import arrays


def test_slurm_forms():
    assert arrays.parse_slurm("7") == (((7, 7, 1),), None)
    assert arrays.parse_slurm("1-10:3%2") == (((1, 10, 3),), 2)     # (10 is its last)
    assert arrays.parse_slurm("10-20:5,1,4") == (((1, 1, 1), (4, 4, 1), (10, 20, 5)), None)
    for bad, message in (("5-2", "empty range"), ("1-3,2", "overlap"), ("a", "expected"),
                         ("1-3%0", "at least 1"), ("1-3%", "at least 1"), ("", "expected")):
        with pytest.raises(ParseError, match=message):
            arrays.parse_slurm(bad)
    assert arrays.text(((1, 1, 1), (4, 4, 1)), 3) == "1,4%3"
    assert arrays.text(((1, 9, 2),)) == "1-9:2"


pieces = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20), st.integers(1, 5)),
                  min_size=1, max_size=6)


def disjoint(raw: list[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """Ranges from (start gap, length, step) triples, laid one after another."""
    out, at = [], 0
    for gap, length, step in raw:
        first = at + gap
        out.append((first, first + length * step, step if length else 1))
        at = first + length * step + 1
    return tuple(out)


@given(pieces)
def test_positions_and_indices_are_inverse_and_in_order(raw):
    ranges = disjoint(raw)
    every = arrays.each(ranges)
    assert every == sorted(set(every)) and len(every) == arrays.count(ranges)
    assert [arrays.position(ranges, i) for i in every] == list(range(len(every)))
    assert [arrays.at(ranges, p) for p in range(len(every))] == every
    assert arrays.at(ranges, len(every)) is None and arrays.at(ranges, -1) is None
    assert all(not arrays.contains(ranges, i) for i in set(range(every[-1] + 2)) - set(every))


@given(pieces, st.integers(1, 10**6))
def test_each_task_has_an_own_id_that_leads_back_to_it(raw, number):
    ranges = disjoint(raw)
    every = arrays.each(ranges)
    ids = [arrays.own_id(number, ranges, i) for i in every]
    assert sorted(ids) == list(range(number, number + len(every)))  # the numbers it took
    assert ids[-1] == number                                     # the last keeps the array's
    assert [arrays.task_of(number, ranges, i) for i in ids[:-1]] == every[:-1]
    assert arrays.task_of(number, ranges, number) is None
    assert arrays.task_of(number, ranges, number + len(every)) is None


@given(pieces)
def test_the_text_parses_back_and_json_goes_both_ways(raw):
    ranges = disjoint(raw)
    assert arrays.parse_slurm(arrays.text(ranges, 4)) == (ranges, 4)
    assert arrays.from_json(arrays.to_json(ranges)) == ranges


def test_json_that_is_not_ranges_is_refused():
    assert arrays.from_json([1, 9, 2]) == ((1, 9, 2),)
    for bad in ([], [1, 2], [[3, 3, 1], [1, 1, 1]], [[1, 3, 1], [3, 5, 1]], [[1, 0, 1]],
                [[1, 2, 0]], [[-1, 2, 1]], [True, 2, 1], "1-3", [[1, 2, 1]] * 1001):
        assert arrays.from_json(bad) is None, bad
