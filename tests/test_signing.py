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
    spec = JobSpec(command="echo $X", cwd="/tmp", env=(("X", "1"),), stdin="in\udcff",
                   seal=signing.seal(), tasks=((1, 9, 2),), entries=True)
    frame = codec.spec_to_dict(spec)
    frame["signature"] = signing.sign(key, frame, "ann")
    stored = codec.spec_to_dict(codec.spec_from_dict(frame))       # as the server keeps it
    assert signing.verify(key, stored, "ann")
    assert not signing.verify(key, stored, "bob")
    for change in ({"command": "rm -rf ~"}, {"env": {"LD_PRELOAD": "/tmp/x.so"}},
                   {"cwd": "/"}, {"stdout": "/home/ann/.bashrc"}, {"seal": signing.seal()},
                   {"tasks": [1, 999, 1]}, {"entries": False}):
        assert not signing.verify(key, {**stored, **change}, "ann")
    assert not signing.verify(b"another key....", stored, "ann")


def test_an_entry_tag_binds_the_entry_its_index_and_its_array(key):
    tag = signing.sign_entry(key, "a" * 64, 3, "input-3.dat")
    assert signing.verify_entry(key, "a" * 64, 3, "input-3.dat", tag)
    assert not signing.verify_entry(key, "a" * 64, 4, "input-3.dat", tag)
    assert not signing.verify_entry(key, "b" * 64, 3, "input-3.dat", tag)
    assert not signing.verify_entry(key, "a" * 64, 3, "; rm -rf ~", tag)


def test_a_seal_is_unique_and_dated():
    seals = {signing.seal(now=1_700_000_000.7) for _ in range(100)}
    assert len(seals) == 100
    assert {signing.sealed_at(s) for s in seals} == {1_700_000_000}
    assert all(codec.SEAL.fullmatch(s) for s in seals)


def test_a_rerun_tag_binds_the_spec_and_its_seal_and_leaves_the_signature_whole(key):
    frame = codec.spec_to_dict(JobSpec(command="true", cwd="/tmp", seal=signing.seal()))
    frame["signature"] = signing.sign(key, frame, "ann")
    again = signing.seal()
    tag = signing.sign_again(key, frame["signature"], again)
    rerun = codec.spec_to_dict(codec.spec_from_dict({**frame, "again": again,
                                                     "again_tag": tag}))
    assert signing.verify(key, rerun, "ann")
    assert signing.verify_again(key, rerun["signature"], again, tag)
    assert not signing.verify_again(key, rerun["signature"], signing.seal(), tag)
    assert not signing.verify_again(key, "b" * 64, again, tag)


@pytest.mark.parametrize("change", [{"seal": "12"}, {"seal": "1.ABC"}, {"again": "1." + "0" * 32},
                                    {"again_tag": "0" * 64}, {"tasks": [3, 1, 1]},
                                    {"tasks": [1, 2, 0]}, {"tasks": [1, True, 1]},
                                    {"entries": "yes"}])
def test_a_malformed_seal_or_range_is_refused(change):
    from wq.errors import ParseError

    with pytest.raises(ParseError):
        codec.spec_from_dict({"command": "true", "cwd": "/tmp", **change})


def test_the_ledger_notes_each_launch_once_and_forgets_what_is_too_old(tmp_path):
    from wq.ledger import Ledger

    path = str(tmp_path / "state" / "launched.sqlite")
    ledger = Ledger(path)
    seal = signing.seal()
    assert ledger.first(seal, None, 1, "launch")
    assert not ledger.first(seal, None, 1, "launch")
    assert ledger.first(seal, None, 1, "hook") and ledger.first(seal, None, 2, "launch")
    assert ledger.first(seal, 0, 1, "launch") and not ledger.first(seal, 0, 1, "launch")
    old = signing.seal(now=1_000_000_000)
    assert ledger.first(old, None, 1, "launch")
    ledger.close()
    again = Ledger(path)                            # (kept across launchers; old ones go)
    assert not again.first(seal, None, 1, "launch")
    assert again.first(old, None, 1, "launch")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
