"""scripts/test, the README's test command: what it does when packages are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 on PATH")
def test_missing_packages_are_named_in_one_line_before_anything_runs(tmp_path: Path) -> None:
    # a PATH with only what the script itself needs: no ssh-agent, tmux, Xvfb,
    # xauth, xdpyinfo, and no apt-get to install them with
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "id", "python3"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    r = subprocess.run(["/bin/bash", str(REPO / "scripts" / "test")], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path,
                       env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/")})
    assert r.returncode == 2
    assert r.stdout == ""                                 # nothing installed, nothing run
    [line] = r.stderr.splitlines()
    for package in ("openssh-client", "xauth", "tmux", "xvfb", "x11-utils"):
        assert package in line
    assert "python3 -m pytest -q --ignore=tests/integration" in line
