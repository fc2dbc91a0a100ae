"""wq profile snakemake [DIR]"""

from __future__ import annotations

import os
import shlex
import sys
from importlib import resources

import click


@click.group("profile")
def command() -> None:
    """Write a workflow tool's profile for wq (docs/workflows.md)."""


@command.command("snakemake")
@click.argument("directory", default=os.path.join("~", ".config", "snakemake", "wq"))
def snakemake(directory: str) -> None:
    """Write a Snakemake profile that submits through wq into DIRECTORY (default
    ~/.config/snakemake/wq, so that `snakemake --profile wq` finds it)."""
    target = os.path.abspath(os.path.expanduser(directory))
    os.makedirs(target, exist_ok=True)
    text = resources.files("wq.profiles").joinpath("snakemake.yaml").read_text()
    wq = f"{shlex.quote(sys.executable)} -m wq"        # this wq, whatever Snakemake's venv
    text = text.replace("@WQ@", _in_quotes(wq))
    for name, verb in (("wq-session", "session"), ("wq-cancel", "rm")):
        script = os.path.join(target, name)        # (Snakemake runs them without a shell)
        _write(script, f"#!/bin/sh\nexec {wq} {verb} \"$@\"\n", 0o755)
        text = text.replace(f"@{name.upper().replace('-', '_')}@", _in_quotes(script))
    path = os.path.join(target, "config.yaml")
    _write(path, text, 0o644)
    click.echo(f"wrote {path}; use it with: snakemake --profile {target}")


def _in_quotes(text: str) -> str:
    """`text` inside a YAML double-quoted string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _write(path: str, text: str, mode: int) -> None:
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.chmod(path + ".tmp", mode)
    os.replace(path + ".tmp", path)
