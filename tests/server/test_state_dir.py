"""The state directory: private, and never on a network filesystem unless allowed."""

import logging
import os
import stat

import pytest

from wq.errors import WqError
from wq.server import app


def test_a_network_state_directory_is_refused_unless_allowed(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(app, "network_filesystem", lambda path: "nfs4")
    with pytest.raises(WqError) as caught:
        app.check_local_disk(str(tmp_path), allow_network_fs=False)
    message = str(caught.value)
    assert "network filesystem (nfs4)" in message and "--state" in message
    assert "--allow-network-fs" in message and "\n" not in message
    with caplog.at_level(logging.WARNING):
        app.check_local_disk(str(tmp_path), allow_network_fs=True)
    assert "NETWORK FILESYSTEM (nfs4)" in caplog.text


def test_a_local_state_directory_passes(tmp_path):
    app.check_local_disk(str(tmp_path), allow_network_fs=False)


def test_the_state_is_made_private(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    for name in ("wq.db", "server.log", "other.txt"):
        (state / name).write_text("")
        os.chmod(state / name, 0o644)
    app.private_state(str(state))
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "wq.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "server.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "other.txt").stat().st_mode) == 0o644     # not wq's
