"""wq slurm install DIR"""

from __future__ import annotations

import os

import click


@click.group("slurm")
def command() -> None:
    """Slurm's sbatch, squeue, sacct and scancel over wq, for workflow tools
    (docs/slurm.md)."""


@command.command("install")
@click.argument("directory", default=os.path.join("~", ".local", "wq-slurm", "bin"))
def install(directory: str) -> None:
    """Put sbatch, squeue, sacct and scancel in DIRECTORY (default
    ~/.local/wq-slurm/bin), to put first on PATH where a tool should use wq."""
    from wq.slurm.commands import install as write

    target = os.path.abspath(os.path.expanduser(directory))
    paths = write(target)
    click.echo(f"installed {', '.join(os.path.basename(p) for p in paths)} in {target}")
    click.echo(f'use them with: export PATH="{target}:$PATH"')
