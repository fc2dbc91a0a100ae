"""wq node offline|online HOST..."""

from __future__ import annotations

import click

from wq.cli import complete
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import NodeReply


@click.command("node")
@click.argument("action", type=click.Choice(["offline", "online"]))
@click.argument("hosts", nargs=-1, required=True, shell_complete=complete.host_names)
@click.pass_obj
def command(obj: dict[str, str | None], action: str, hosts: tuple[str, ...]) -> None:
    """Take HOSTS offline (running jobs finish, nothing new starts) or back online.

    The state is kept across server restarts.
    """
    with Client(obj["socket"]) as client:
        client.ask(m.NodeState(hosts=list(hosts), offline=action == "offline"), NodeReply)
    click.echo(f"{', '.join(hosts)}: {action}")
