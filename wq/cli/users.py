"""wq users"""

from __future__ import annotations

import json

import click

from wq.cli import render
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import UsersPage

PAGE = 1000             # rows per reply


@click.command("users")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def command(obj: dict[str, str | None], as_json: bool) -> None:
    """Users with running jobs, cores in use, waiting jobs and limits."""
    with Client(obj["socket"]) as client:
        rows = [u for page in client.paged(m.Users(page=PAGE), UsersPage) for u in page.users]
    if as_json:
        click.echo(json.dumps([u.to_frame() for u in rows], indent=1))
    else:
        click.echo(render.users(rows))
