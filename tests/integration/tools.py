"""Workflow tools from PyPI, in a venv of their own, for test_tools.py: the
real Snakemake (with both cluster plugins) and dask-jobqueue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ("snakemake>=9,<10", "snakemake-executor-plugin-slurm>=2,<3",
            "snakemake-executor-plugin-cluster-generic>=1,<2", "dask-jobqueue>=0.9,<1",
            "distributed")
#: kept between runs on a development machine (CI starts afresh)
CACHE = Path.home() / ".cache" / "wq-tests" / f"tools-py{sys.version_info[0]}{sys.version_info[1]}"


def tools_venv() -> Path:
    """The venv's bin directory, made (and filled from PyPI) the first time."""
    bin_dir = CACHE / "bin"
    ready = CACHE / "ready"
    if ready.exists() and ready.read_text() == "\n".join(PACKAGES):
        return bin_dir
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CACHE)], check=True,
                       capture_output=True, text=True, timeout=300)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", *PACKAGES], check=True,
                       capture_output=True, text=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        message = f"cannot install the workflow tools from PyPI: {detail.strip()[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ready.write_text("\n".join(PACKAGES))
    return bin_dir
