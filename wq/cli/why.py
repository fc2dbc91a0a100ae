"""wq why"""

from __future__ import annotations

import json

import click

from wq.cli import complete, render
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import WhyReply


@click.command("why")
@click.argument("job", shell_complete=complete.job_ids)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def command(obj: dict[str, str | None], job: str, as_json: bool) -> None:
    """Explain why JOB waits: its reason, then for each host the first rule that
    keeps it off (labels, hosts, cores, memory, gpus, offline, down, load,
    mode, reserved, licences, user limit, queue or fair share, dependency,
    throttle, launcher) and what would have to change. docs/scheduling.md gives the rules."""
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Why(job), WhyReply)
    if as_json:
        click.echo(json.dumps(reply.to_frame(), indent=1))
    else:
        click.echo(render.why(reply))
