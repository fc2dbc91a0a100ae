"""wq rm ID... | all"""

from __future__ import annotations

import click

from wq.client import Client
from wq.errors import UsageError
from wq.protocol import messages as m


def parse_ids(words: tuple[str, ...]) -> tuple[list[int], bool]:
    if not words:
        raise UsageError("name the jobs to remove (ids, or 'all' for all of yours)")
    if words == ("all",):
        return [], True
    ids = []
    for word in words:
        for part in word.split(","):
            if not part.strip().isdigit():
                raise UsageError(f"not a job id: {part!r}")
            ids.append(int(part))
    return ids, False


@click.command("rm")
@click.argument("ids", nargs=-1)
@click.pass_obj
def command(obj: dict[str, str | None], ids: tuple[str, ...]) -> None:
    """Remove jobs: waiting ones leave the queue; running ones get TERM, then KILL.

    Only your own jobs. IDS may be comma separated; 'all' removes all of yours.
    """
    numbers, everything = parse_ids(ids)
    with Client(obj["socket"]) as client:
        reply = client.request(m.Remove(ids=numbers, all=everything), timeout=None)
    failed = False
    for r in reply["results"]:
        click.echo(f"job {r['id']}: {r['result']}")
        failed |= r["result"] not in ("killed", "removed from the queue")
    if everything and not reply["results"]:
        click.echo("you have no jobs")
    if failed:
        raise SystemExit(1)
