import os

import pytest

from wq.errors import ParseError
from wq.parsing import cluster, textfile


def test_reads_a_regular_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("hosts: [{name: a, cores: 2}]\n")
    assert textfile.read(str(path), "cluster file").startswith("hosts")


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: None, "No such file"),
    (lambda p: p.write_bytes(b"\xff\xfe"), "not UTF-8"),
    (lambda p: p.write_bytes(b"#" * 5000), "too large"),
])
def test_anything_else_is_one_clear_line(tmp_path, make, expected):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(ParseError) as caught:
        textfile.read(str(path), "cluster file", max_bytes=4096)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_device_is_refused_without_reading_it():
    with pytest.raises(ParseError, match="/dev/zero: the cluster file is not a regular file"):
        cluster.load("/dev/zero")
