"""wq update -t DURATION JOBS..."""

from __future__ import annotations

import click

from wq.cli import change, complete, options
from wq.protocol import messages as m


@click.command("update")
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.option("-t", "--time", "time_limit", metavar="DURATION", required=True,
              help="The new time limit (90s, 30m, 1h30m, HH:MM:SS; 0 or none: no limit).")
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...], time_limit: str) -> None:
    """Change waiting jobs: their time limit. An array's tasks share one: name the
    whole array. Running jobs keep the limit they started with.

    JOBS are selectors (12, 3-9, last, all); only your own jobs.
    """
    limit = 0.0 if time_limit.strip().lower() in ("0", "none") else \
        options.duration("-t/--time", time_limit)
    change.ask(obj["socket"], m.Update(select=change.selectors(jobs), time_limit=limit))
