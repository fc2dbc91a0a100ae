"""Warnings that libraries raise for their own developers never reach a user:
each is filtered where wq imports the library (wq.dependencies), narrowly."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: every wq module that imports a third-party library the CLI or the server uses
IMPORTS = ("import wq.cli.main, wq.cli.sub, wq.cli.ls, wq.cli.serve, wq.cli.launcher",
           "import wq.executor.ssh, wq.server.app, wq.launcher, wq.api, wq.slurm.commands",
           "import wq.parsing.cluster, wq.parsing.jobfile, wq.cli.render, wq.cli.stop")


@pytest.mark.parametrize("statement", IMPORTS)
def test_importing_wq_prints_nothing(statement: str) -> None:
    """Python's default warning filters, as a user's `wq` runs with them."""
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", statement], capture_output=True,
                            text=True, env=env, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


def test_an_interactive_session_imports_asyncssh_quietly() -> None:
    code = ("from wq.dependencies import quiet_asyncssh\nquiet_asyncssh()\n"
            "import asyncssh\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_filter_is_narrow() -> None:
    """Only cryptography's deprecations raised from asyncssh's code are filtered:
    the same warning raised from anywhere else, and any other warning from
    asyncssh's code, still show."""
    code = (
        "import warnings\n"
        "from cryptography.utils import CryptographyDeprecationWarning as C\n"
        "from wq.dependencies import quiet_asyncssh\nquiet_asyncssh()\n"
        "warnings.warn_explicit('from asyncssh', C, 'x.py', 1, module='asyncssh.crypto')\n"
        "warnings.warn_explicit('from elsewhere', C, 'x.py', 2, module='mylib')\n"
        "warnings.warn_explicit('other kind', UserWarning, 'x.py', 3, module='asyncssh')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "from asyncssh" not in result.stderr
    assert "from elsewhere" in result.stderr and "other kind" in result.stderr
