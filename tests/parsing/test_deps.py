"""Dependency strings (wq.parsing.deps) and their status (wq.scheduler.deps)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.errors import ParseError
from wq.model import After, DepKind
from wq.parsing import deps
from wq.parsing.jobfile import parse as parse_jobfile
from wq.scheduler.deps import Status, Tally, status

OK, ANY, NOTOK, CORR = (DepKind.AFTEROK, DepKind.AFTERANY, DepKind.AFTERNOTOK,
                        DepKind.AFTERCORR)


@pytest.mark.parametrize("text, expected", [
    ("afterok:12", (After(OK, 12),)),
    ("afterok:12:13", (After(OK, 12), After(OK, 13))),
    ("afterany:12.3", (After(ANY, 12, 3),)),
    ("afterany:12_3", (After(ANY, 12, 3),)),
    ("afternotok:7,aftercorr:8", (After(NOTOK, 7), After(CORR, 8))),
    ("12", (After(OK, 12),)),
    ("12, 13 ,afterok:12", (After(OK, 12), After(OK, 13))),
])
def test_dependency_strings(text, expected):
    assert deps.parse(text) == expected
    assert deps.parse(",".join(deps.to_strings(expected))) == expected


@pytest.mark.parametrize("text, message", [
    ("", "an empty dependency"),
    ("afterok:", "names no job"),
    ("afterok:x", "'x' is not a job id"),
    ("afterok:0", "'0' is not a job id"),
    ("afterok:12+5", "a delay"),
    ("after:12", "not supported"),
    ("singleton", "not supported"),
    ("afterok:1?afterok:2", "'?'"),
    ("whenever:12", "unknown dependency type 'whenever'"),
    ("aftercorr:12.3", "aftercorr names an array"),
    ("afterok:12,,13", "an empty dependency"),
])
def test_bad_dependency_strings_say_what_is_wrong(text, message):
    with pytest.raises(ParseError, match="^-d: .*" + message.replace("?", r"\?")
                       .replace("+", r"\+")):
        deps.parse(text, source="-d")


def test_pueue_style_ids_and_job_file_after():
    assert deps.parse_ids(["12,13", "14 15"]) == tuple(After(OK, n) for n in (12, 13, 14, 15))
    text = "command: echo hi\nafter: [12, afterany:13]\n"
    assert parse_jobfile(text, "job.yaml").after == (After(OK, 12), After(ANY, 13))
    with pytest.raises(ParseError, match=r"^job.yaml:2: after: unknown dependency type"):
        parse_jobfile("command: x\nafter: twelve\n", "job.yaml")
    with pytest.raises(ParseError, match=r"^job.yaml:2: after: expected job ids"):
        parse_jobfile("command: x\nafter: {a: 1}\n", "job.yaml")


@given(st.text(max_size=40))
def test_any_string_parses_or_is_one_clear_error(text):
    try:
        out = deps.parse(text)
    except ParseError as exc:
        assert str(exc).startswith("--dependency: ") and "\n" not in str(exc)
    else:
        assert out and all(a.number > 0 for a in out)


@pytest.mark.parametrize("kind, tally, expected", [
    (OK, Tally(1, 0, 0), Status.PENDING),
    (OK, Tally(0, 3, 0), Status.MET),
    (OK, Tally(2, 1, 1), Status.NEVER),          # one task failed: never all done
    (OK, Tally(0, 0, 0), Status.NEVER),          # no such job
    (ANY, Tally(1, 0, 1), Status.PENDING),
    (ANY, Tally(0, 1, 1), Status.MET),
    (NOTOK, Tally(1, 0, 1), Status.PENDING),     # waits for the whole array to end
    (NOTOK, Tally(0, 2, 1), Status.MET),
    (NOTOK, Tally(0, 2, 0), Status.NEVER),
    (CORR, Tally(0, 1, 0), Status.MET),
    (CORR, Tally(0, 0, 1), Status.NEVER),
])
def test_status_of_a_dependency(kind, tally, expected):
    assert status(After(kind, 1), tally) is expected


@given(st.sampled_from(list(DepKind)), st.integers(0, 3), st.integers(0, 3),
       st.integers(0, 3))
def test_a_dependency_is_decided_once_its_target_ended_and_never_met_stays_so(kind, live,
                                                                             done, failed):
    now = status(After(kind, 1), Tally(live, done, failed))
    if live == 0:
        assert now is not Status.PENDING
    if now is Status.NEVER and live:
        for more_done in range(live + 1):       # however the rest ends
            end = Tally(0, done + more_done, failed + live - more_done)
            assert status(After(kind, 1), end) is Status.NEVER
