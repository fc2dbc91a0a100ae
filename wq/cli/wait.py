"""wq wait [JOBS...] [--any] [-t TIMEOUT]"""

from __future__ import annotations

import sys
import time

import click

from wq.cli import complete, options
from wq.client import Client
from wq.errors import ServerLost, UsageError
from wq.protocol import messages as m
from wq.protocol.replies import Listing, StatusReply, StatusRow

LIVE = ("waiting", "running")
PAGE = 1000                  # rows per reply of the listing of your jobs
TIMED_OUT_EXIT = 75          # EX_TEMPFAIL: -t ran out before the jobs ended
JOB_TIMEOUT_EXIT = 124       # as wq sub, for a job that ran out of time


def exit_code(row: StatusRow) -> int:
    """What `wq wait` exits with for one ended job."""
    if row.state == "done":
        return 0
    if row.state == "timeout":
        return JOB_TIMEOUT_EXIT
    if row.state == "failed" and row.exit is not None and 1 <= row.exit <= 255:
        return row.exit
    return 1


def _mine(socket_path: str | None) -> list[str]:
    with Client(socket_path) as client:
        pages = client.paged(m.ListJobs(user=client.user, page=PAGE), Listing)
        return [r.id for page in pages for r in page.jobs]


def _poll(socket_path: str | None, ids: list[str]) -> list[StatusRow]:
    """One Status request; through a server restart (the client waits for it)."""
    for attempt in range(3):
        try:
            with Client(socket_path) as client:
                return client.ask(m.Status(select=ids), StatusReply).jobs
        except ServerLost:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@click.command("wait")
@click.argument("jobs", nargs=-1, shell_complete=complete.job_ids)
@click.option("--any", "any_", is_flag=True, help="Return once any one of them has ended.")
@click.option("-t", "--timeout", metavar="DURATION",
              help="Give up after this long (exit code 75).")
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...], any_: bool,
            timeout: str | None) -> None:
    """Wait until jobs end (default: all of yours that are waiting or running).

    Exit code: 0 when all ended done; else that of the first job (in the order
    given) that did not: its own exit status if it failed with one, 124 if it
    timed out, 1 if cancelled, lost or unknown. With --any, that of the first
    to end. 75 when --timeout ran out first; 69 when the server is gone for good.
    """
    limit = None if timeout is None else options.duration("-t/--timeout", timeout)
    socket_path = obj["socket"]
    ids = [part for job in jobs for part in job.replace(",", " ").split()] or \
        _mine(socket_path)
    if not ids:
        return
    if len(ids) > 100_000:
        raise UsageError("wait for at most 100000 jobs at once")
    sys.exit(wait(socket_path, ids, any_=any_, limit=limit))


def wait(socket_path: str | None, ids: list[str], *, any_: bool = False,
         limit: float | None = None) -> int:
    """Poll until the jobs end (see the command's exit codes); a progress line on
    a terminal when there are several."""
    deadline = None if limit is None else time.monotonic() + limit
    ended: dict[str, StatusRow] = {}
    bar = sys.stderr.isatty() and len(ids) > 1
    pause = 0.05
    code: int | None = None
    while code is None:
        left = [i for i in ids if i not in ended]
        for row in _poll(socket_path, left):
            if row.state not in LIVE:
                ended[row.id] = row
        if bar:
            bad = sum(1 for r in ended.values() if r.state != "done")
            sys.stderr.write(f"\rwq: {len(ended)}/{len(ids)} ended"
                             + (f", {bad} not done" if bad else "") + " ")
            sys.stderr.flush()
        if any_ and ended:
            code = exit_code(next(r for i in ids if (r := ended.get(i)) is not None))
        elif len(ended) == len(ids):
            code = next((c for i in ids if (c := exit_code(ended[i]))), 0)
        elif deadline is not None and time.monotonic() + pause > deadline:
            code = TIMED_OUT_EXIT
        else:
            time.sleep(pause)
            pause = min(1.0, pause * 1.5)
    if bar:
        sys.stderr.write("\n")
    if code == TIMED_OUT_EXIT and len(ended) < len(ids):
        click.echo(f"wq: {len(ids) - len(ended)} of {len(ids)} jobs have not ended yet",
                   err=True)
    return code
