"""wq rm JOBS... | all"""

from __future__ import annotations

import click

from wq.cli import complete
from wq.cli.change import parse_selectors, report
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Removed


@click.command("rm")
@click.argument("jobs", nargs=-1, shell_complete=complete.job_ids)
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...]) -> None:
    """Remove jobs: waiting ones leave the queue; running ones get TERM, then KILL.

    Only your own jobs. JOBS are selectors (12, 12.3, 12.1-50, 3-9, last), also
    comma separated; 'all' removes all of yours.
    """
    texts, everything = parse_selectors(jobs)
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Remove(select=texts, all=everything), Removed, timeout=None)
    report([(r.id, r.result, r.removed) for r in reply.results],
           none="you have no jobs" if everything else "")
