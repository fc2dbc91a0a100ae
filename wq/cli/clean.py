"""wq clean [--older-than DURATION] [--state STATE]"""

from __future__ import annotations

import click

from wq.cli import options
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Cleaned

FINISHED = ["done", "failed", "cancelled", "lost", "timeout"]


@click.command("clean")
@click.option("--older-than", metavar="DURATION",
              help="Only jobs that ended at least this long ago (e.g. 7d, 12h).")
@click.option("--state", "states", multiple=True, type=click.Choice(FINISHED),
              help="Only jobs that ended in this state (repeatable).")
@click.pass_obj
def command(obj: dict[str, str | None], older_than: str | None,
            states: tuple[str, ...]) -> None:
    """Forget finished jobs: they leave `wq ls -a` and `wq info`, and their
    directories (with the default output files) are deleted on the nodes.
    Job ids are never reused. The server also does this by itself for jobs
    older than its --keep period (30 days by default)."""
    seconds = 0.0 if older_than is None else options.duration("--older-than", older_than)
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Clean(older_than=seconds, states=list(states) or None),
                           Cleaned, timeout=None)
    click.echo(f"forgot {reply.forgotten} finished job(s)")
    if reply.unreachable:
        click.echo(f"wq: could not reach {', '.join(reply.unreachable)}; the files of "
                   "those jobs stay there", err=True)
