"""wq ls"""

from __future__ import annotations

import itertools

import click

from wq.cli import complete, render
from wq.client import Client
from wq.errors import UsageError
from wq.protocol import messages as m
from wq.protocol.replies import JobRow

PAGE = 1000          # rows per reply: the server builds and sends a listing in pages
STATES = ["waiting", "running", "done", "failed", "cancelled", "lost", "timeout"]


@click.command("ls")
@click.argument("select", nargs=-1, metavar="[JOBS]...",
                shell_complete=complete.job_ids)
@click.option("-u", "--user", help="Only this user's jobs.")
@click.option("-f", "--full", is_flag=True, help="Every detail of each job, and why it waits.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only jobs in this state (repeatable); finished states list past jobs.")
@click.option("-a", "--all", "all_", is_flag=True, help="Also finished jobs, with exit codes.")
@click.option("-e", "--expand", is_flag=True, help="A row for each task of an array.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (schema: docs/json.md).")
@click.option("-o", "--format", "columns", metavar="COLUMNS",
              help="These columns, comma separated: " + ",".join(render.COLUMNS) + ".")
@click.option("--no-header", is_flag=True, help="With -o: no header line.")
@click.pass_obj
def command(obj: dict[str, str | None], select: tuple[str, ...], user: str | None, full: bool,
            states: tuple[str, ...], all_: bool, expand: bool, as_json: bool,
            columns: str | None, no_header: bool) -> None:
    """List jobs: Id User St Pri Nc Nh Host0 Tq Trun Cmd.

    JOBS are selectors: 12 (a job, or all of array 12), 12.3 (a task),
    12.1-50 (tasks), 3-9 (jobs), last, all. An array shows as one row,
    12[1000], with how many of its tasks are in each state; -e lists them.

    St is W waiting, R running, I running interactive session, U waiting but
    can no longer fit the cluster, and for finished jobs D done, F failed,
    C cancelled, L lost, T timeout. A requeued or retried job waits again
    (W); `wq info ID` shows each of its instances.
    """
    chosen = None if columns is None else [c.strip().lower() for c in columns.split(",")
                                           if c.strip()]
    if chosen is not None:
        unknown = [c for c in chosen if c not in render.COLUMNS]
        if unknown or not chosen:
            raise UsageError(f"-o: unknown column {', '.join(unknown) or '(none given)'}; "
                             f"choose from {','.join(render.COLUMNS)}")
    request = m.ListJobs(user=user, states=list(states) or None, all=all_,
                         full=full or as_json or chosen is not None, expand=expand,
                         select=list(select) or None, page=PAGE)
    with Client(obj["socket"]) as client:
        pages = client.pages(request)
        first = next(pages)
        now = first["now"]
        stream = itertools.chain(first["jobs"], (r for page in pages for r in page["jobs"]))
        if as_json:                        # printed as it comes, whatever its length
            for piece in render.json_list(stream):
                click.echo(piece, nl=False)
            click.echo()
            return
        unfit: list[JobRow] = []
        rows = (_noting_unfit(JobRow.from_frame(r), unfit) for r in stream)
        if chosen is not None:
            chunks = render.ls_columns_chunks(rows, now, chosen, header=not no_header)
        elif full:
            chunks = render.ls_full_chunks(rows, now)
        else:
            finished = all_ or bool(select) or any(s not in ("waiting", "running")
                                                   for s in states)
            chunks = render.ls_chunks(rows, now, finished=finished)
        for chunk in chunks:                # printed as it comes, whatever its length
            click.echo(chunk)
    if chosen is None and not full:
        for row in unfit:
            click.echo(f"wq: job {row.id} {row.reason}", err=True)


def _noting_unfit(row: JobRow, unfit: list[JobRow]) -> JobRow:
    if row.unfit:
        unfit.append(row)
    return row
