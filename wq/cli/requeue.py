"""wq requeue JOBS..."""

from __future__ import annotations

import click

from wq.cli import change, complete
from wq.protocol import messages as m


@click.command("requeue")
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...]) -> None:
    """Put jobs back in the queue to run again, with the same id: a running job
    is stopped (TERM, then KILL) first; an ended one (done, failed, ...) waits
    again. Its earlier runs stay in its history (wq info).

    JOBS are selectors (12, 12.3, 12.1-50, 3-9, last, all); only your own jobs.
    """
    change.ask(obj["socket"], m.Requeue(select=change.selectors(jobs)))
