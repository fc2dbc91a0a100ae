"""WQ_SERVER: the command line that carries a wq command to the head node."""

import shutil
import subprocess

import pytest

from wq import remote
from wq.cli.main import _verb
from wq.errors import ClientError


SHELLS = ("sh", "bash", "zsh", "fish", "tcsh", "csh")
#: words a shell would act on, however it quotes (fish reads backslashes in
#: single quotes, csh expands ! even there)
HOSTILE = ["echo $HOME; rm 'x y'", "$(touch pwned)", "`touch pwned`", "!!", "a\\'b",
           "new\nline", "*", "\\", "\u00e9t\u00e9", "' \" ; touch pwned; '"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_command_runs_there_in_the_same_directory_whatever_the_login_shell(
        shell, tmp_path, monkeypatch):
    """ssh hands the line to the login shell on the head node: each of these
    gives the command its words and directory intact, and runs nothing else."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (scripts/test installs it)")
    show = tmp_path / "show"
    show.write_text("#!/bin/sh\npwd\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n")
    show.chmod(0o755)
    here = tmp_path / "\\'$(touch pwned)\" \\'!x"
    here.mkdir()
    monkeypatch.setenv("WQ_REMOTE_COMMAND", str(show))
    line = remote.argv("bob@head", ["sub", "-c", *HOSTILE], str(here), tty=False)
    assert line[:5] == ["ssh", "-q", "-T", "--", "bob@head"]
    out = subprocess.run([shell, "-c", line[5]], capture_output=True, text=True,
                         cwd=tmp_path, timeout=30, env={"PATH": "/usr/bin:/bin",
                                                        "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    cwd, words = out.stdout.split("\n", 1)
    assert cwd == str(here)
    assert words.split("\0")[:-1] == ["sub", "-c", *HOSTILE]
    assert not list(tmp_path.rglob("pwned"))


def test_the_command_is_one_line_of_plain_words():
    line = remote.argv("head", ["sub", "-c", "x"], "/", tty=True)
    assert line[2] == "-t" and "\n" not in line[5] and "!" not in line[5]


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
