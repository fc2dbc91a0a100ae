"""wq refresh"""

from __future__ import annotations

import click

from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Refreshed


@click.command("refresh")
@click.pass_obj
def command(obj: dict[str, str | None]) -> None:
    """Re-read the cluster file, probe down hosts now, and run a scheduling pass."""
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Refresh(), Refreshed)
    line = f"{reply.hosts} host(s)"
    if reply.added:
        line += f"; added {', '.join(reply.added)}"
    if reply.removed:
        line += f"; removed {', '.join(reply.removed)}"
    click.echo(line)
