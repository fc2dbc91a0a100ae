"""Slurm's host lists, both ways."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.parsing.hostlist import compress, expand


@pytest.mark.parametrize("names, text", [
    (["node1"], "node1"),
    (["node2", "node1", "node3"], "node[1-3]"),
    (["node1", "node2", "node3", "node5", "gpu01", "login"], "gpu01,login,node[1-3,5]"),
    (["n01", "n02", "n04"], "n[01-02,04]"),
    (["node1", "node1"], "node1"),
    (["a9", "a10", "a11"], "a[9-11]"),
])
def test_compress_as_slurm_writes_them(names, text):
    assert compress(names) == text
    assert sorted(expand(text)) == sorted(set(names))


def test_expand_reads_lists_and_says_what_is_wrong():
    assert expand("n[1-3,5],m") == ["n1", "n2", "n3", "n5", "m"]
    assert expand("cn[08-10]") == ["cn08", "cn09", "cn10"]
    with pytest.raises(ValueError, match=r"n\[1-x\]: expected ranges of numbers"):
        expand("n[1-x]")


def name(prefix: str, number: int | None, pad: int) -> str:
    return prefix if number is None else f"{prefix}{number:0{pad}d}"


NAMES = st.builds(name, st.sampled_from(["node", "gpu", "a-", "x"]),
                  st.one_of(st.none(), st.integers(0, 120)), st.sampled_from([0, 0, 2, 3]))


@given(st.lists(NAMES, min_size=1, max_size=30))
def test_any_list_of_names_comes_back_from_its_compressed_form(names):
    assert sorted(expand(compress(names))) == sorted(set(names))
