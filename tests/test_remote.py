"""WQ_SERVER: the command line that carries a wq command to the head node."""

import shutil
import subprocess

import pytest

from wq import remote
from wq.cli.main import _verb
from wq.errors import ClientError


def test_the_command_runs_there_in_the_same_directory_with_its_words_intact(monkeypatch):
    monkeypatch.delenv("WQ_REMOTE_COMMAND", raising=False)
    line = remote.argv("bob@head", ["sub", "-c", "echo $HOME; rm 'x y'"], "/home/bob/p q",
                       tty=False)
    assert line[:5] == ["ssh", "-q", "-T", "--", "bob@head"]
    assert line[5] == ("exec env WQ_REMOTE_HOP=1 sh -c 'cd \"$1\" 2>/dev/null; shift; "
                       "exec \"$@\"' sh '/home/bob/p q' wq sub -c "
                       "'echo $HOME; rm '\"'\"'x y'\"'\"''")
    for shell in ("sh", "bash"):            # what the login shell there makes of it
        if shutil.which(shell):
            words = subprocess.run([shell, "-c", 'printf "%s\\n" ' + line[5].split(" ", 1)[1]],
                                   capture_output=True, text=True).stdout.splitlines()
            assert words[-4:] == ["wq", "sub", "-c", "echo $HOME; rm 'x y'"]
    assert remote.argv("head", ["ls"], "/", tty=True)[2] == "-t"


def test_a_destination_that_is_an_option_is_refused():
    with pytest.raises(ClientError):
        remote.argv("-oProxyCommand=evil", ["ls"], "/", tty=False)


def test_the_remote_end_never_goes_remote_again(monkeypatch):
    monkeypatch.setenv("WQ_SERVER", "head")
    assert remote.destination() == "head"
    monkeypatch.setenv(remote.INSIDE, "1")
    assert remote.destination() is None


@pytest.mark.parametrize("args, verb", [(["sub", "-c", "x"], "sub"),
                                        (["--socket", "s", "ls"], "ls"),
                                        (["-h"], None), (["serve", "c.yaml"], "serve")])
def test_the_verb_is_found_after_the_groups_options(args, verb):
    assert _verb(args) == verb
