import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.cli import render
from wq.cli.limit import parse_limits
from wq.cli.change import parse_selectors
from wq.errors import UsageError
from wq.protocol.replies import HostRow, JobRow


@pytest.mark.parametrize("seconds,text", [
    (0, "00s"), (5, "05s"), (65, "01m05s"), (3700, "01h01m40s"), (90000, "1d01h00m"),
    (None, "-"), (-3, "00s")])
def test_durations_match_the_original(seconds, text):
    assert render.duration(seconds) == text


def row(**kw):
    """A job row as the server sends it (checked as the client reads it)."""
    base = {"id": "1", "number": 1, "task": None, "user": "anze", "state": "running",
            "pri": "med", "nc": 2, "nh": 1, "host0": "astro0010", "submitted": 0.0,
            "started": 0.0, "ended": None, "exit": None, "name": "my-job", "reason": "",
            "instance": 1}
    kw["id"] = str(kw.get("id", 1))
    return JobRow.from_frame({**base, **kw})


def test_ls_is_fixed_columns():
    out = render.ls([row(), row(id=2, state="waiting", nc=None, nh=None, host0=None,
                                started=None, submitted=8.0, name="sleep")], now=10.0)
    lines = out.splitlines()
    assert [len(line.split()) for line in lines[:3]] == [10, 10, 10]
    assert lines[1].split() == ["1", "anze", "R", "med", "2", "1", "astro0010", "10s", "10s",
                                "my-job"]
    assert lines[2].split() == ["2", "anze", "W", "med", "-", "-", "-", "02s", "-", "sleep"]
    assert lines[3] == " Jobs: 2 Running: 1 Waiting: 1"


def test_a_long_listing_comes_a_batch_at_a_time_each_at_least_as_wide(monkeypatch):
    monkeypatch.setattr(render, "BATCH", 3)
    rows = (row(id=10 ** i) for i in range(6))           # ids 1, 10, ... 100000
    chunks = list(render.ls_chunks(rows, now=10.0))
    assert [len(c.splitlines()) for c in chunks] == [3, 3, 1, 1]    # (header, summary)
    lines = "\n".join(chunks).splitlines()
    users = [line.index(" anze ") for line in lines[1:-1]]
    assert users == [3, 3, 6, 6, 6, 7]                   # aligned in a batch, never narrower
    assert [line.split()[0] for line in lines[1:-1]] == [str(10 ** i) for i in range(6)]
    assert lines[-1] == " Jobs: 6 Running: 6 Waiting: 0"
    assert render.ls((row(id=10 ** i) for i in range(6)), now=10.0) == "\n".join(chunks)


def test_ls_marks_unfit_jobs_and_shows_exit_codes():
    out = render.ls([row(state="waiting", unfit=True, started=None),
                     row(id=2, state="failed", exit=3, ended=5.0)], now=10.0, finished=True)
    lines = out.splitlines()
    assert lines[0].split()[-2:] == ["Exit", "Cmd"]
    assert lines[1].split()[2] == "U" and lines[2].split()[2] == "F"
    assert lines[2].split()[-2] == "3"


def test_stat_shape():
    reply = {"hosts": [
        {"name": "fakehost", "cores": 2, "used": 0, "mem": 4, "labels": ["g3"],
         "state": "offline", "reason": ""},
        {"name": "astro0010", "cores": 8, "used": 4, "mem": 48, "labels": ["gen5", "gen45"],
         "state": "up", "reason": ""},
        {"name": "gone", "cores": 2, "used": 0, "mem": 0, "labels": [], "state": "down",
         "reason": "connection refused"}]}
    lines = render.stat([HostRow.from_frame({**h, "gpus": 0})
                         for h in reply["hosts"]]).splitlines()
    assert lines[1].split() == ["[XX]", "fakehost", "4", "g3"]
    assert lines[2].split() == ["[****....]", "astro0010", "48", "gen5,gen45"]
    assert lines[3].split()[:4] == ["[--]", "gone", "-", "-"]
    assert "(down: connection refused)" in lines[3]
    assert lines[-1] == (" Used/avail/active cores: 4/4/8 (50.0% load, 2 are offline, "
                         "2 are down)")


def test_limit_strings():
    assert parse_limits("run: 2; cores: 8") == {"jobs": 2, "cores": 8}
    assert parse_limits("Njobs: 25; Ncores: -1") == {"jobs": 25, "cores": -1}
    for bad in ("run 2", "speed: 3", "run: many", "cores: -5", ""):
        with pytest.raises(UsageError):
            parse_limits(bad)


def test_rm_selectors():
    assert parse_selectors(("1", "2,3.4-9")) == (["1", "2", "3.4-9"], False)
    assert parse_selectors(("all",)) == ([], True)
    for bad in (("x",), ("1-2.3",), ()):
        with pytest.raises(UsageError):
            parse_selectors(bad)


def test_an_array_is_one_row_with_its_counts():
    out = render.ls([row(id="12", tasks=1000, counts={"waiting": 900, "running": 16,
                                                      "done": 84}, state="running")],
                    now=10.0)
    first = out.splitlines()[1].split()
    assert first[0] == "12[1000]" and first[2] == "R"
    assert first[-1] == "my-job(W:900,R:16,D:84)"
    plain = render.ls([row(id="13", state="running")], now=10.0).splitlines()[1].split()
    assert len(first) == len(plain)                 # the same number of fields, for awk
    assert out.splitlines()[-1] == " Jobs: 1 Running: 16 Waiting: 900"


def test_interactive_jobs_show_as_I_while_they_run():
    out = render.ls([row(interactive=True), row(id=2, state="done", interactive=True,
                                                ended=5.0, exit=0)], now=10.0, finished=True)
    assert [line.split()[2] for line in out.splitlines()[1:3]] == ["I", "D"]


@given(st.lists(st.dictionaries(st.text(max_size=5), st.one_of(
    st.none(), st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)), max_size=4), max_size=5))
def test_json_list_in_pieces_is_the_list_an_item_a_line(items):
    import json

    from wq.cli.render import json_list
    text = "".join(json_list(iter(items)))
    assert json.loads(text) == items
    assert len(text.splitlines()) == (len(items) + 2 if items else 1)


HOSTILE_NAME = "\x1b]0;pwned\x07\x1b[2J\u202eevil"


def test_another_users_text_never_drives_the_terminal():
    """A job name with ESC sequences (a window title, a cleared screen) and a
    bidi override, shown to another member: escaped, in every renderer."""
    hostile = row(name=HOSTILE_NAME, reason=HOSTILE_NAME)
    outputs = [render.ls([hostile], now=1.0), render.ls_full([hostile], now=1.0),
               render.ls_columns([hostile], 1.0, ["id", "name", "reason"])]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, out
        assert "\\x1b]0;pwned\\x07" in out
    assert render.printable("two\nlines\tand a tab") == "two\nlines\\x09and a tab"
