"""Which server a client talks to: --socket/WQ_SOCKET (and WQ_OPERATOR), then
~/.config/wq/client.yaml, then /etc/wq/client.yaml, then one's own."""

import os
import pwd

import pytest

from wq import clientconfig, paths
from wq.errors import ClientError

ME = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("WQ_SOCKET", raising=False)
    monkeypatch.delenv("WQ_OPERATOR", raising=False)
    monkeypatch.delenv("WQ_LAUNCHER", raising=False)
    monkeypatch.setattr(clientconfig, "SYSTEM_CONFIG", str(tmp_path / "etc" / "client.yaml"))
    return tmp_path


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_without_anything_it_is_ones_own_server(home):
    target = clientconfig.target()
    assert target.candidates == paths.socket_candidates() and target.owner == os.getuid()


def test_the_user_file_comes_before_the_system_file(home):
    write(home / "etc" / "client.yaml", "socket: /srv/other.sock\n")
    assert clientconfig.target().candidates == ["/srv/other.sock"]
    write(home / "config" / "wq" / "client.yaml",
          f"# the lab\nsocket: '/srv/wq/lab.sock'   # shared\noperator: {ME}\n"
          "launcher: manual\n")
    target = clientconfig.target()
    assert target.candidates == ["/srv/wq/lab.sock"] and target.owner == os.getuid()
    assert not target.start_launcher


def test_an_explicit_socket_wins_and_names_its_operator_by_env(home, monkeypatch):
    write(home / "config" / "wq" / "client.yaml", "socket: /srv/wq/lab.sock\n")
    monkeypatch.setenv("WQ_SOCKET", "/tmp/mine.sock")
    assert clientconfig.target().candidates == ["/tmp/mine.sock"]
    monkeypatch.setenv("WQ_OPERATOR", "no-such-user-here")
    with pytest.raises(ClientError, match="WQ_OPERATOR names 'no-such-user-here'"):
        clientconfig.target()


def test_wq_launcher_says_auto_or_manual_with_an_explicit_socket_or_over_the_file(
        home, monkeypatch):
    monkeypatch.setenv("WQ_SOCKET", "/srv/wq/lab.sock")
    monkeypatch.setenv("WQ_OPERATOR", ME)
    assert clientconfig.target().start_launcher
    monkeypatch.setenv("WQ_LAUNCHER", "manual")
    assert not clientconfig.target().start_launcher
    monkeypatch.delenv("WQ_SOCKET")
    write(home / "config" / "wq" / "client.yaml", f"socket: /srv/wq/lab.sock\noperator: {ME}\n")
    assert not clientconfig.target().start_launcher
    monkeypatch.setenv("WQ_LAUNCHER", "sometimes")
    with pytest.raises(ClientError, match="^WQ_LAUNCHER: expected auto or manual, got "
                                          "'sometimes'$"):
        clientconfig.target()


@pytest.mark.parametrize("text, expected", [
    ("socket /srv/a.sock\n", ":1: expected 'key: value'"),
    ("sockt: /srv/a.sock\n", ":1: expected 'key: value' with a key of socket, operator"),
    ("\nsocket: relative.sock\n", ":2: socket: expected an absolute path"),
    ("socket: /srv/a.sock\nlauncher: sometimes\n", ":2: launcher: expected auto or manual"),
    ("socket: /srv/a.sock\noperator: nobody-such\n", "operator names 'nobody-such'"),
])
def test_a_bad_config_file_is_one_line_naming_it(home, text, expected):
    write(home / "config" / "wq" / "client.yaml", text)
    with pytest.raises(ClientError) as err:
        clientconfig.target()
    assert expected in str(err.value) and "client.yaml" in str(err.value)


def test_a_socket_with_a_named_operator_is_a_labs_shared_one_even_for_the_operator(
        home, monkeypatch):
    write(home / "config" / "wq" / "client.yaml", f"socket: /srv/wq/lab.sock\noperator: {ME}\n")
    assert clientconfig.target().shared
    monkeypatch.setenv("WQ_SOCKET", "/srv/wq/lab.sock")
    target = clientconfig.target()             # --socket naming the file's socket: its operator
    assert (target.candidates, target.owner, target.shared) == (["/srv/wq/lab.sock"],
                                                                os.getuid(), True)
    monkeypatch.setenv("WQ_SOCKET", "/tmp/mine.sock")
    assert not clientconfig.target().shared    # another socket: one's own private server
    monkeypatch.setenv("WQ_OPERATOR", ME)
    assert clientconfig.target().shared


def test_an_explicit_socket_does_not_need_a_readable_config_file(home, monkeypatch):
    write(home / "config" / "wq" / "client.yaml", "sockt: /srv/a.sock\n")
    monkeypatch.setenv("WQ_SOCKET", "/tmp/mine.sock")
    assert clientconfig.target().candidates == ["/tmp/mine.sock"]
