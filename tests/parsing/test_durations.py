import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.parsing import jobfile, requirements, units


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("2d", 172800),
    ("1.5h", 5400), ("01:30:00", 5400), ("1:30", 90), ("2-01:00:00", 176400),
    (" 10 m ", 600), ("1H", 3600),
])
def test_durations(text, seconds):
    assert units.duration(text) == seconds


@pytest.mark.parametrize("value, message", [
    ("90", "give a unit"), (90, "give a unit"), ("0s", "above zero"), ("soon", "duration"),
    ("1h foo", "duration"), ("", "duration"), (True, "duration"),
])
def test_bad_durations(value, message):
    with pytest.raises(ValueError, match=message):
        units.duration(value)


@given(st.floats(min_value=0.001, max_value=1e8, allow_nan=False) | st.integers(1, 10**8))
def test_format_duration_round_trips(seconds):
    assert units.duration(units.format_duration(seconds)) == pytest.approx(seconds)


def test_policy_keys_round_trip_through_the_protocol_form():
    req = requirements.build([("retries", "2", None), ("time", "1h30m", None),
                              ("crash_limit", 0, None)], source="-r")
    assert (req.retries, req.time_limit, req.crash_limit) == (2, 5400.0, 0)
    data = requirements.to_dict(req)
    assert data["time"] == "1h30m"
    assert requirements.from_dict(data) == req


def test_a_job_file_time_written_as_a_clock_is_not_read_as_sexagesimal():
    parsed = jobfile.parse("command: x\ntime: 1:30:00\nretries: 1\n", "job.yaml")
    assert parsed.requirements.time_limit == 5400
    parsed = jobfile.parse("command: x\ntime: '10:00'\n", "job.yaml")
    assert parsed.requirements.time_limit == 600


def test_a_bare_number_of_time_names_the_line():
    with pytest.raises(Exception, match=r"job.yaml:2: time: .*give a unit"):
        jobfile.parse("command: x\ntime: 90\n", "job.yaml")
