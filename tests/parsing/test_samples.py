"""A host's sampled state, from what the sampling script prints."""

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from wq.parsing import samples

DATA = Path(__file__).parents[1] / "data" / "samples"


def test_this_machine():
    s = samples.parse((DATA / "this-vm.txt").read_text(), at=5.0)
    assert s.load == 1.72 and s.at == 5.0
    assert round(s.mem_total, 1) == 23.5 and round(s.mem_free, 1) == 23.0
    assert s.gpus == ()


def test_nvidia_smi_with_its_header_and_units():
    s = samples.parse((DATA / "nvidia-smi-csv.txt").read_text(), at=0.0)
    assert [g.index for g in s.gpus] == list(range(8))
    assert round(s.gpus[1].free, 3) == round((1998 - 512) / 1024, 3)
    assert round(s.gpus[3].used, 3) == round(1900 / 1024, 3)


def test_nvidia_smi_as_the_script_asks_with_a_gpu_in_a_bad_state():
    s = samples.parse((DATA / "nvidia-smi-a100.txt").read_text(), at=0.0)
    assert s.load == 12.41
    assert [(g.index, round(g.free)) for g in s.gpus] == [(0, 80), (1, 2), (2, 40)]


def test_what_is_missing_stays_unmeasured():
    s = samples.parse("load \n", at=0.0)
    assert (s.load, s.mem_total, s.mem_free, s.gpus) == (None, None, None, ())
    assert samples.parse("", at=0.0).load is None


@given(st.text())
def test_any_output_gives_a_sample(text):
    s = samples.parse(text, at=1.0)
    assert s.load is None or s.load >= 0
    assert all(g.total >= 0 and g.used >= 0 for g in s.gpus)
