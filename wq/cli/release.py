"""wq release JOBS..."""

from __future__ import annotations

import click

from wq.cli import change, complete
from wq.protocol import messages as m


@click.command("release")
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...]) -> None:
    """Release held jobs (wq hold, wq sub --hold): they may start again.

    JOBS are selectors (12, 12.3, 12.1-50, 3-9, last, all); only your own jobs
    (a lab's admins: anyone's).
    """
    change.ask(obj["socket"], m.Release(select=change.selectors(jobs)))
