from pathlib import Path

import pytest

from wq.errors import ParseError
from wq.model import Mode
from wq.parsing import jobfile

DATA = Path(__file__).parent.parent / "data"


def test_original_wq_job_file_parses():
    text = (DATA / "original-job.yaml").read_text()
    job = jobfile.parse(text, "original-job.yaml")
    r = job.requirements
    assert "mpirun -hostfile hfile ./program" in job.command
    assert (r.mode, r.n, r.groups, r.not_groups, r.min_cores) == (
        Mode.BYNODE, 5, ("new",), ("slow", "crappy"), 8)
    assert (r.hostfile, r.job_name) == ("hfile", "dostuff35")


def test_overrides_win():
    job = jobfile.parse("command: x\nN: 3\ngroup: a\n", "j.yaml", overrides="N: 5; group: b")
    assert (job.requirements.n, job.requirements.groups) == (5, ("b",))


def test_output_patterns():
    job = jobfile.parse("command: x\nstdout: out-%j.txt\nstderr: err-%j.txt\n", "j.yaml")
    assert (job.stdout, job.stderr) == ("out-%j.txt", "err-%j.txt")


@pytest.mark.parametrize("text,message", [
    ("", "j.yaml: the job file is empty"),
    ("N: 3\n", "j.yaml: no 'command' given"),
    ("command: x\nNN: 3\n", "j.yaml:2: NN: unknown key; did you mean 'N'?"),
    ("command: x\nN: 3\nN: 4\n", "j.yaml:3: N: duplicate key (first on line 2)"),
    ("command: x\nmin_cores: -1\n", "j.yaml:2: min_cores: expected a non-negative integer"),
    ("command: [a\n", "j.yaml:2: invalid YAML"),
    ("- a\n- b\n", "j.yaml:1: expected a mapping"),
])
def test_bad_job_files(text, message):
    with pytest.raises(ParseError) as err:
        jobfile.parse(text, "j.yaml")
    assert message in str(err.value)
