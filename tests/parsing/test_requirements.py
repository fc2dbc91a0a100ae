import pytest
from hypothesis import given
from hypothesis import strategies as st

from wq.errors import ParseError
from wq.model import Mode, Requirements
from wq.parsing import requirements


def parse(text: str) -> Requirements:
    return requirements.build(((k, v, None) for k, v in requirements.split_string(text)),
                              source="-r")


@pytest.mark.parametrize("text,expected", [
    ("mode: bynode; N: 5", Requirements(mode=Mode.BYNODE, n=5)),
    ("mode:by_core1;N:4", Requirements(mode=Mode.BYCORE1, n=4)),
    ("group: [gen1, gen2]", Requirements(groups=("gen1", "gen2"))),
    ("group: gen1,gen2; not_group: slow", Requirements(groups=("gen1", "gen2"),
                                                      not_groups=("slow",))),
    ("mode: byhost; host: astro3", Requirements(mode=Mode.BYHOST, hosts=("astro3",))),
    ("job_name: run:7:a", Requirements(job_name="run:7:a")),
    ("hostfile: %hostfile%", Requirements(hostfile="auto")),
    ("host_file: /tmp/h:1", Requirements(hostfile="/tmp/h:1")),
    ("priority: high", Requirements(priority=30)),
    ("priority: block", Requirements(priority=40)),
    ("priority: 25", Requirements(priority=25)),
    ("min_cores: 8; min_mem: 16", Requirements(min_cores=8, min_mem=16.0)),
    ("mem: 512M", Requirements(mem=0.5)),
    ("X: 1; threads: 4", Requirements(x11=True, threads=4)),
    ("mode: bygroup; group: gpu", Requirements(mode=Mode.BYGROUP, groups=("gpu",))),
    ("shell: login", Requirements(shell="login")),
    ("shell: /bin/bash ", Requirements(shell="/bin/bash")),
    ("licenses: matlab=2, genus", Requirements(licenses=(("genus", 1), ("matlab", 2)))),
    ("licence: matlab:2,genus@flex:3", Requirements(licenses=(("genus@flex", 3), ("matlab", 2)))),
    ("licenses: [matlab, {genus: 2}]", Requirements(licenses=(("genus", 2), ("matlab", 1)))),
    ("", Requirements()),
])
def test_requirement_strings(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text,message", [
    ("N: 0", "N: expected a positive integer, got 0"),
    ("N: four", "N: expected a positive integer, got 'four'"),
    ("mod: bynode", "did you mean 'mode'"),
    ("mode: byfoo", "unknown mode 'byfoo'"),
    ("mode: byhost", "needs exactly one 'host'"),
    ("mode: bygroup", "needs 'group'"),
    ("priority: urgent", "unknown priority"),
    ("X: maybe", "expected true or false"),
    ("N 4", "expected 'key: value'"),
    ("group: a; notgroup: a", "both wanted and excluded"),
    ("group: 'a b'", "not a valid name"),
    ("shell: bash", "unknown shell 'bash' (sh, login, or an absolute path"),
    ("shell: /bin/bash -l", "unknown shell"),
    ("licenses: matlab=0", "licenses: expected a count of matlab (1 or more), got 0"),
    ("licenses: matlab, matlab=2", "licenses: 'matlab' is named twice"),
    ("licenses: matlab=two", "expected a count of matlab (1 or more), got 'two'"),
    ("licenses: 'a b'", "not a valid name"),
])
def test_bad_requirement_strings(text, message):
    with pytest.raises(ParseError) as err:
        parse(text)
    assert message in str(err.value)
    assert str(err.value).startswith("-r:")


@given(st.builds(Requirements, mode=st.sampled_from([Mode.BYCORE, Mode.BYCORE1, Mode.BYNODE]),
                 n=st.integers(1, 99), priority=st.integers(-5, 50),
                 groups=st.lists(st.sampled_from(["a", "b"]), unique=True).map(tuple),
                 mem=st.sampled_from([0.0, 1.5, 64.0]), x11=st.booleans(),
                 shell=st.sampled_from(["sh", "login", "/bin/bash"]),
                 licenses=st.dictionaries(st.sampled_from(["matlab", "genus"]), st.integers(1, 5))
                 .map(lambda d: tuple(sorted(d.items()))),
                 job_name=st.one_of(st.none(), st.text("abc:; ", min_size=1).filter(str.strip))))
def test_dict_round_trip(req):
    assert requirements.from_dict(requirements.to_dict(req)) == req


def test_a_signal_ahead_of_the_time_limit_as_slurm_writes_it():
    from wq.executor.wrapper import Launch
    from wq.parsing.requirements import signal_name, warning
    from wq.slurm.sbatch import _warning

    assert [warning(t) for t in ("USR1", "B:SIGUSR2@90", "b:10@0", "TERM@65535", "s:HUP")] == \
        ["USR1@60", "B:USR2@90", "B:USR1@0", "TERM@65535", "S:HUP@60"]
    # sbatch's: to the steps (srun's tasks) unless B: says the batch shell
    assert [_warning(t) for t in ("USR1@5", "B:USR1@5")] == ["S:USR1@5", "B:USR1@5"]
    with pytest.raises(ParseError):
        _warning("S:USR1")
    for bad in ("B:", "X:USR1", "USR1@-1", "USR1@65536", "KILL", "NOPE@5", "99"):
        with pytest.raises(ValueError):
            warning(bad)
    assert signal_name("sigwinch") == "WINCH"
    limit = Launch("s", "1.1", "true", "/", {}, time_limit=90.5, warning="B:USR1@30")
    assert limit.limit == "91:USR1:30:B"
    assert Launch("s", "1.1", "true", "/", {}, time_limit=60, warning="HUP@5").limit == \
        "60:HUP:5:"
    assert Launch("s", "1.1", "true", "/", {}, time_limit=9, warning="S:HUP@5").limit == \
        "9:HUP:5:S"
    assert Launch("s", "1.1", "true", "/", {}, time_limit=60).limit == "60"
