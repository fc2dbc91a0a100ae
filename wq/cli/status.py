"""wq status JOBS... [--json]: one word per job, for workflow tools."""

from __future__ import annotations

import json

import click

from wq.cli import complete, options
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import StatusReply, StatusRow

#: wq's states as the words workflow tools expect (Snakemake's generic plugin)
WORDS = {"waiting": "running", "running": "running", "done": "success"}


def word(row: StatusRow) -> str:
    return WORDS.get(row.state, "failed")


def ask(socket_path: str | None, ids: list[str]) -> list[StatusRow]:
    with Client(socket_path) as client:
        return client.ask(m.Status(select=ids), StatusReply).jobs


@click.command("status")
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.option("--json", "as_json", is_flag=True,
              help="A JSON list: id, state (wq's), word, exit.")
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...], as_json: bool) -> None:
    """Print each job's state as one word, in the order given: running (waiting
    or running), success (done) or failed (failed, cancelled, lost, timeout, or
    no such job). An array is running while any task is, then success if every
    task ended done. One request for any number of ids (12, 12.3, 12_3)."""
    options.finish_when_interrupted()
    ids = [part for job in jobs for part in job.replace(",", " ").split()]
    rows = ask(obj["socket"], ids)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "state": r.state, "word": word(r),
                                "exit": r.exit} for r in rows]))
        return
    for row in rows:
        if row.state == "unknown":
            click.echo(f"wq: no job {row.id} (taken as failed)", err=True)
        click.echo(word(row))
