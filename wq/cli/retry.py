"""wq retry JOB [--state S]... [-b]  (also: wq sub --rerun JOB)"""

from __future__ import annotations

import sys

import click

from wq.cli import complete
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Signed
from wq.protocol.rows import Accepted


def rerun(socket_path: str | None, job: str, states: tuple[str, ...], batch: bool) -> None:
    from wq.cli.follow import follow, follow_array

    with Client(socket_path) as client:
        again = tag = None
        if client.by_launcher:              # a lab member's word that it runs again
            from wq.submission import ensure_launcher, sealed_rerun

            signature = client.ask(m.Signature(id=job), Signed).signature
            if signature is not None:
                again, tag = sealed_rerun(signature)
            ensure_launcher(client, socket_path)
        reply = client.ask(m.Rerun(id=job, states=list(states) or None, attach=not batch,
                                   again=again, again_tag=tag), Accepted)
        if batch:
            click.echo(reply.id)
            return
        if reply.tasks is not None:
            click.echo(f"wq: array {reply.id}: {reply.tasks} task(s) of {job} again",
                       err=True)
            code = follow_array(client, reply.id, reply.tasks, socket_path)
        else:
            click.echo(f"wq: job {reply.id}: {job} again", err=True)
            code = follow(client, reply.id, socket_path)
    sys.exit(code)


@click.command("retry")
@click.argument("job", shell_complete=complete.job_ids)
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Rerun what ended in STATE (repeatable; default failed, lost, timeout "
                   "and cancelled; done too if you ask).")
@click.option("-b", "--batch", is_flag=True, help="Print the new id; do not wait.")
@click.pass_obj
def command(obj: dict[str, str | None], job: str, states: tuple[str, ...],
            batch: bool) -> None:
    """Run again the tasks of an array (or a job) that did not end done: a new
    array of just those task numbers, with the same command, requirements,
    entries and environment as when it was submitted."""
    rerun(obj["socket"], job, states, batch)
