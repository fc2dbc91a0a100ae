"""wq rm JOBS... | all"""

from __future__ import annotations

import click

from wq.cli import complete
from wq.client import Client
from wq.errors import UsageError
from wq.protocol import messages as m
from wq.protocol.replies import Removed


def parse_selectors(words: tuple[str, ...]) -> tuple[list[str], bool]:
    """Selectors as the user typed them (also comma separated), checked here so
    that a typo is caught before anything is removed."""
    from wq.parsing import selectors

    if not words:
        raise UsageError("name the jobs to remove (12, 12.3, 12.1-50, 3-9, last, or 'all' "
                         "for all of yours)")
    if words == ("all",):
        return [], True
    texts = [part.strip() for word in words for part in word.split(",") if part.strip()]
    selectors.parse_all(texts)
    return texts, False


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
    from wq.cli.change import report

    report([(r.id, r.result, r.removed) for r in reply.results],
           none="you have no jobs" if everything else "")
