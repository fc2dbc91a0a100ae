"""A member's signatures: made with their key, checked by their launcher; any
change to the spec, the user or an entry breaks them."""

import os
import stat

import pytest

from wq import codec, signing
from wq.errors import WqError
from wq.model import JobSpec


@pytest.fixture
def key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return signing.load_key()


def test_the_key_is_made_once_private_and_kept(key, tmp_path):
    path = tmp_path / "wq" / "key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert signing.load_key() == key and len(key) == signing.KEY_BYTES


def test_a_key_open_to_others_is_refused(key, tmp_path):
    os.chmod(tmp_path / "wq" / "key", 0o644)
    with pytest.raises(WqError, match="must be yours and private"):
        signing.load_key()


def test_a_signature_survives_the_round_trip_through_the_server_and_nothing_else(key):
    spec = JobSpec(command="echo $X", cwd="/tmp", env=(("X", "1"),), stdin="in\udcff")
    frame = codec.spec_to_dict(spec)
    frame["signature"] = signing.sign(key, frame, "ann")
    stored = codec.spec_to_dict(codec.spec_from_dict(frame))       # as the server keeps it
    assert signing.verify(key, stored, "ann")
    assert not signing.verify(key, stored, "bob")
    for change in ({"command": "rm -rf ~"}, {"env": {"LD_PRELOAD": "/tmp/x.so"}},
                   {"cwd": "/"}, {"stdout": "/home/ann/.bashrc"}):
        assert not signing.verify(key, {**stored, **change}, "ann")
    assert not signing.verify(b"another key....", stored, "ann")


def test_an_entry_tag_binds_the_entry_its_index_and_its_array(key):
    tag = signing.sign_entry(key, "a" * 64, 3, "input-3.dat")
    assert signing.verify_entry(key, "a" * 64, 3, "input-3.dat", tag)
    assert not signing.verify_entry(key, "a" * 64, 4, "input-3.dat", tag)
    assert not signing.verify_entry(key, "b" * 64, 3, "input-3.dat", tag)
    assert not signing.verify_entry(key, "a" * 64, 3, "; rm -rf ~", tag)
