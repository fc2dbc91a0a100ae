"""wq info ID"""

from __future__ import annotations

import json

import click

from wq.cli import render
from wq.client import Client
from wq.protocol import messages as m


@click.command("info")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def command(obj: dict[str, str | None], job_id: str, as_json: bool) -> None:
    """Show job JOB_ID in full: its command, requirements, times, exit code and
    reason, each instance (host, times, how it ended) and every event."""
    with Client(obj["socket"]) as client:
        reply = client.request(m.Info(id=job_id))
    if as_json:
        click.echo(json.dumps(reply["job"], indent=1))
        return
    click.echo(render.info(reply["job"], reply["now"]))
