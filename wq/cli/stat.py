"""wq stat"""

from __future__ import annotations

import json

import click

from wq.cli import render
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import StatReply


@click.command("stat")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def command(obj: dict[str, str | None], as_json: bool) -> None:
    """Usage per host ([**..] used and free cores; X offline; - down), then totals."""
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Stat(), StatReply)
    if as_json:
        click.echo(json.dumps(reply.to_frame(), indent=1))
    else:
        click.echo(render.stat(reply.hosts, reply.licenses))
