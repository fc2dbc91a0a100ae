"""What wq hold, release, requeue and update share: ask, then a line per job."""

from __future__ import annotations

import click

from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Changed


def ask(socket: str | None, request: m.Hold | m.Release | m.Requeue | m.Update) -> None:
    """Send the request; print what became of each job; exit 1 if any was not
    changed as asked."""
    with Client(socket) as client:
        reply = client.ask(request, Changed, timeout=None)
    failed = False
    for r in reply.results:
        click.echo(f"job {r.id}: {r.result}")
        failed |= not r.changed
    if failed:
        raise SystemExit(1)


def selectors(jobs: tuple[str, ...]) -> list[str]:
    """The selectors typed (also comma separated), checked here."""
    from wq.cli.rm import parse_selectors

    texts, everything = parse_selectors(jobs)
    return ["all"] if everything else texts
