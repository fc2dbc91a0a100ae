"""The habits the suite keeps: the package type-checks under mypy --strict, and
ruff (pyflakes, pycodestyle, bugbear; pyproject.toml says which rules) finds
nothing in the package, the tests or the benchmarks. The test command installs
both (the test extras); run alone, `mypy` and `ruff check` say the same."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]' installs it)")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=REPO, text=True,
                          capture_output=True, timeout=600)


def test_the_package_type_checks_strictly() -> None:
    done = run("mypy")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


def test_the_linter_finds_nothing() -> None:
    done = run("ruff", "check", "--no-cache", "wq", "tests", "bench")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
