"""wq signal [-s SIG] [-b] JOBS..."""

from __future__ import annotations

import click

from wq.cli import change, complete
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Signalled


@click.command("signal")
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.option("-s", "--signal", "sig", default="TERM", show_default=True, metavar="SIG",
              help="The signal, by name (USR1, SIGUSR1) or number.")
@click.option("-b", "--batch", is_flag=True,
              help="Only the job's own shell, not the processes it started.")
@click.pass_obj
def command(obj: dict[str, str | None], jobs: tuple[str, ...], sig: str, batch: bool) -> None:
    """Send a signal to running jobs, which keep running (unless it ends them).

    JOBS are selectors (12, 12.3, 12.1-50, 3-9, last), also comma separated;
    only your own jobs (a lab's admins: anyone's). The signal goes to the job's
    whole process group on its first host, or with -b to its shell alone.
    """
    from wq.cli.change import parse_selectors
    from wq.parsing.requirements import signal_name

    texts, everything = parse_selectors(jobs)
    try:
        name = signal_name(sig)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--signal") from None
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Signal(select=["all"] if everything else texts, signal=name,
                                    scope="batch" if batch else "job"), Signalled,
                           timeout=None)
    change.report([(r.id, r.result, r.sent) for r in reply.results])
