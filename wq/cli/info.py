"""wq info ID"""

from __future__ import annotations

import json

import click

from wq.cli import complete, render
from wq.client import Client
from wq.errors import ProtocolError
from wq.protocol import messages as m
from wq.protocol.replies import InfoPage

PAGE = 1000             # instances and events per reply


@click.command("info")
@click.argument("job_id", shell_complete=complete.job_ids)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def command(obj: dict[str, str | None], job_id: str, as_json: bool) -> None:
    """Show job JOB_ID in full: its command, requirements, times, exit code and
    reason, each instance (host, times, how it ended) and every event."""
    with Client(obj["socket"]) as client:
        pages = list(client.paged(m.Info(id=job_id, page=PAGE), InfoPage))
    job = pages[0].job
    if job is None:
        raise ProtocolError("wq info: the first reply did not hold the job")
    instances = [i for page in pages for i in page.instances]
    events = [e for page in pages for e in page.events]
    if as_json:
        click.echo(json.dumps({**job.to_frame(), "instances": [i.to_frame() for i in instances],
                               "events": [e.to_frame() for e in events]}, indent=1))
        return
    click.echo(render.info(job, instances, events, pages[0].now))
