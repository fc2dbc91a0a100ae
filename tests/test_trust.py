"""The client's checks of its server, and the server's of its socket directory."""

import os
import socket

import pytest

from wq import paths, trust
from wq.errors import WqError


def test_default_socket_prefers_the_runtime_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("WQ_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert paths.socket_candidates() == [str(tmp_path / "wq" / "wq.sock"),
                                         f"/tmp/wq-{os.getuid()}/wq.sock"]
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/dir")
    assert paths.socket_candidates() == [f"/tmp/wq-{os.getuid()}/wq.sock"]
    monkeypatch.setenv("WQ_SOCKET", str(tmp_path / "x.sock"))
    assert paths.socket_candidates() == [str(tmp_path / "x.sock")]


def test_a_private_directory_of_ours_is_trusted(tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    assert trust.private_dir_problem(str(d), os.getuid()) is None
    trust.check_socket(str(d / "wq.sock"), os.getuid())      # nothing there yet: fine


@pytest.mark.parametrize("make, problem", [
    (lambda d, t: d.mkdir(mode=0o755), r"open to other users \(mode 0755"),
    (lambda d, t: d.symlink_to(t), "is a symbolic link"),
    (lambda d, t: d.write_text(""), "is not a directory"),
])
def test_anything_else_is_refused_with_the_reason(tmp_path, make, problem):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    d = tmp_path / "d"
    make(d, target)
    with pytest.raises(trust.Untrusted, match=problem):
        trust.check_socket(str(d / "wq.sock"), os.getuid())
    os.chmod(tmp_path, 0o700)


def test_a_directory_of_another_user_is_refused(tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    with pytest.raises(trust.Untrusted, match="not to"):
        trust.check_socket(str(d / "wq.sock"), os.getuid() + 4242)


def test_a_socket_path_that_is_no_socket_is_refused(tmp_path):
    (tmp_path / "wq.sock").write_text("")
    os.chmod(tmp_path, 0o700)
    with pytest.raises(trust.Untrusted, match="is not a socket"):
        trust.check_socket(str(tmp_path / "wq.sock"), os.getuid())


def test_the_peer_must_be_the_expected_user():
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert trust.peer_uid(a) == os.getuid()
        trust.check_peer(a, "x", os.getuid())
        with pytest.raises(trust.Untrusted, match="runs as"):
            trust.check_peer(a, "x", os.getuid() + 4242)


def test_the_server_creates_its_directory_private_and_never_chmods_one(tmp_path):
    trust.prepare_socket_dir(str(tmp_path / "new" / "wq.sock"))
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o1777)
    with pytest.raises(WqError, match="open to other users"):
        trust.prepare_socket_dir(str(open_dir / "wq.sock"))
    assert open_dir.stat().st_mode & 0o7777 == 0o1777


def test_the_operators_own_lab_socket_may_be_reachable_by_others_but_not_writable(tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o711)
    os.chmod(d, 0o711)
    trust.check_socket(str(d / "lab.sock"), os.getuid(), lab=True)
    with pytest.raises(trust.Untrusted, match="open to other users"):
        trust.check_socket(str(d / "lab.sock"), os.getuid())           # a private one
    os.chmod(d, 0o777)
    with pytest.raises(trust.Untrusted, match="others may write"):
        trust.check_socket(str(d / "lab.sock"), os.getuid(), lab=True)
