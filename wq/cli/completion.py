"""wq completion"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]), metavar="SHELL")
def command(shell: str) -> None:
    """Print the shell completion script for SHELL: commands, options, your job
    ids and the cluster's host names.

    \b
    bash: eval "$(wq completion bash)"       in ~/.bashrc
    zsh:  eval "$(wq completion zsh)"        in ~/.zshrc
    fish: wq completion fish | source       in ~/.config/fish/config.fish
    """
    from wq.cli.main import cli
    complete = get_completion_class(shell)
    assert complete is not None             # (click knows the three choices)
    click.echo(complete(cli, {}, "wq", "_WQ_COMPLETE").source())
