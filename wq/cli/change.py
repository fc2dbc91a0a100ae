"""What wq hold, release, requeue and update share (and rm and signal): ask,
then a line per job."""

from __future__ import annotations

import click

from wq.client import Client
from wq.errors import UsageError
from wq.protocol import messages as m
from wq.protocol.replies import Changed


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


def ask(socket: str | None, request: m.Hold | m.Release | m.Requeue | m.Update) -> None:
    """Send the request; print what became of each job; exit 1 if any was not
    changed as asked."""
    with Client(socket) as client:
        reply = client.ask(request, Changed, timeout=None)
    report([(r.id, r.result, r.changed) for r in reply.results])


def report(results: list[tuple[str, str, bool]], none: str = "") -> None:
    """A line per job (its id, what became of it); exit 1 if any was not done as
    asked. `none`: what to say when no job was named."""
    for job, result, _ in results:
        click.echo(f"job {job}: {result}")
    if none and not results:
        click.echo(none)
    if not all(done for _, _, done in results):
        raise SystemExit(1)


def selectors(jobs: tuple[str, ...]) -> list[str]:
    """The selectors typed (also comma separated), checked here."""
    texts, everything = parse_selectors(jobs)
    return ["all"] if everything else texts
