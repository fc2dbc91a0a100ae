"""Scripts as job files: told apart from YAML job files, their #WQ header read,
and run as written, with their own interpreter and exit status."""

import subprocess

import pytest

from wq.errors import ParseError
from wq.model import Mode
from wq.parsing import script


@pytest.mark.parametrize("text, expected", [
    ("#!/bin/bash\necho hi\n", True),
    ("echo hi\nsleep 1\n", True),                     # YAML reads it as one string
    ("for i in 1 2; do echo [$i; done\n", True),      # not YAML at all
    ("command: ./run.sh\nN: 4\n", False),             # a job file
    ("- a\n- b\n", True),
    ("command: x\nN: 2\nnotgroup: [a\n", False),      # a broken job file is not run
])
def test_a_script_is_told_from_a_job_file(text, expected):
    assert script.is_script(text, "f") is expected


def test_a_broken_file_named_yaml_is_a_job_file():
    assert not script.is_script("for i in [1; do\n", "job.yaml")
    assert script.is_script("for i in [1; do\n", "job.sh")


def test_the_header_gives_requirements_and_outputs_until_the_first_command():
    job = script.parse("#!/bin/bash\n# a comment\n#WQ N: 4; mode: bycore1\n"
                       "#WQ stdout: run-%j.out\n#WQUIET: not ours\n\necho go\n"
                       "#WQ N: 99\n", "run.sh", overrides="priority: high")
    assert (job.requirements.mode, job.requirements.n) == (Mode.BYCORE1, 4)
    assert job.requirements.priority == 30 and job.stdout == "run-%j.out"
    assert job.requirements.job_name == "run.sh"


def test_a_bad_directive_names_the_script_and_line():
    with pytest.raises(ParseError) as err:
        script.parse("#!/bin/sh\n#WQ mode: sideways\necho\n", "run.sh")
    assert "run.sh:2" in str(err.value) and "mode" in str(err.value)


@pytest.mark.parametrize("text, out, code", [
    ("#!/bin/sh\necho \"shell $1\"\nexit 3\n", "shell \n", 3),
    ("#!/usr/bin/env python3\nimport sys\nprint('python', sys.argv[1:])\n",
     "python []\n", 0),
    ("echo no-shebang; exit 5", "no-shebang\n", 5),
    ("#!/bin/sh\ncat <<'WQ_SCRIPT_x'\nnested\nWQ_SCRIPT_x\n", "nested\n", 0),
])
def test_the_job_runs_the_script_as_written(tmp_path, text, out, code):
    result = subprocess.run(["sh", "-c", script.run_command(text)], capture_output=True,
                            text=True, cwd=tmp_path, env={"TMPDIR": str(tmp_path),
                                                          "PATH": "/usr/bin:/bin"})
    assert (result.stdout, result.returncode) == (out, code), result.stderr
    assert list(tmp_path.iterdir()) == []                   # its copy is gone


def test_sbatch_lines_are_read_and_wq_lines_win():
    text = ("#!/bin/bash\n#SBATCH -J sim -c 4 --mem=2G -t 30\n#SBATCH -o sim-%x-%j.out\n"
            "#SBATCH -d afterok:7\n#WQ mem: 1G\n./run\n")
    parsed = script.parse(text, "job.sh")
    req = parsed.requirements
    assert (req.job_name, req.mode.value, req.n, req.mem, req.time_limit) == \
        ("sim", "bycore1", 4, 1.0, 1800.0)
    assert parsed.stdout == "sim-sim-%j.out" and [str(a) for a in parsed.after] == \
        ["afterok:7"]
    with pytest.raises(ParseError, match=r"^job.sh: #SBATCH: --deadline"):
        script.parse("#!/bin/sh\n#SBATCH --deadline=now+1hour\ntrue\n", "job.sh")


def test_a_scripts_singleton_is_for_sbatch():
    with pytest.raises(ParseError, match="singleton is sbatch's"):
        script.parse("#!/bin/sh\n#SBATCH -d singleton\ntrue\n", "job.sh")
