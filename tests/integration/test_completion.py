"""`wq completion`: the scripts, run by a real bash against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import wq
from tests.integration.conftest import NOWHERE, wait_state
from tests.integration.sshd import WqServer
from wq.cli.complete import MAX_JOBS
from wq.server.handlers import MAX_UNPAGED

#: completes the words given, as bash would on Tab, and prints what it offers
COMPLETE = """
eval "$(wq completion bash)"
complete -p wq >/dev/null
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
_wq_completion "$WQ"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def complete(server: WqServer, tmp_path: Path, *words: str) -> list[str]:
    wq = tmp_path / "bin" / "wq"
    if not wq.exists():
        wq.parent.mkdir()
        wq.write_text(f'#!/bin/sh\nexec {sys.executable} -m wq "$@"\n')
        wq.chmod(0o755)
    r = subprocess.run(["bash", "-c", COMPLETE, "complete", *words], capture_output=True,
                       text=True, timeout=30,
                       env={**server.env, "WQ": str(wq), "PATH": f"{wq.parent}:/usr/bin:/bin"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.split()


def test_bash_completes_commands_options_job_ids_and_hosts(server, tmp_path, hosts):
    assert complete(server, tmp_path, "wq", "r") == ["rm", "release", "requeue", "retry",
                                                     "refresh"]
    assert "--time" in complete(server, tmp_path, "wq", "sub", "--ti")
    done = server.wq("sub", "-b", "-c", "true").stdout.strip()
    wait_state(server, int(done), ("done",))
    array = server.wq("sub", "-b", "--array", "1-3", "-c", "sleep 30").stdout.strip()
    other = server.wq("sub", "-b", "-c", "sleep 30").stdout.strip()
    assert complete(server, tmp_path, "wq", "rm", "") == [done, array, other]
    assert complete(server, tmp_path, "wq", "info", other[:-1]) == \
        [j for j in (done, array, other) if j.startswith(other[:-1])]
    names = [h.name for h in hosts]
    assert complete(server, tmp_path, "wq", "node", "offline", "") == names
    server.wq("rm", array, other)


def test_with_no_server_job_ids_complete_to_nothing_quietly(tmp_path):
    nobody = WqServer(tmp_path / "none", None)          # never started
    assert complete(nobody, tmp_path, "wq", "rm", "") == []
    assert complete(nobody, tmp_path, "wq", "st") == ["stop", "stat", "status"]


@pytest.mark.parametrize("shell, marks", [("zsh", ("#compdef wq", "_WQ_COMPLETE=zsh_complete")),
                                          ("fish", ("complete", "_WQ_COMPLETE=fish_complete"))])
def test_zsh_and_fish_scripts(server, shell, marks):
    r = server.wq("completion", shell)
    assert r.returncode == 0 and all(mark in r.stdout for mark in marks)


def test_job_ids_complete_to_the_newest_of_more_than_one_reply_holds(make_server, tmp_path):
    """Past the rows an unpaged listing may hold, completion reads the listing in
    pages and offers the newest MAX_JOBS ids."""
    server = make_server(NOWHERE, wait_up=False)        # (nothing runs)
    ids = wq.Client(server.socket).submit_many([{"command": "true"}] * (MAX_UNPAGED + 1))
    offered = complete(server, tmp_path, "wq", "rm", "")
    assert offered == ids[-MAX_JOBS:]
    assert complete(server, tmp_path, "wq", "rm", "9") == \
        [i for i in ids if i.startswith("9")][-MAX_JOBS:]
