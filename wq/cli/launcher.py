"""wq launcher"""

from __future__ import annotations

import asyncio
import logging

import click

from wq import paths, submission


@click.command("launcher")
@click.option("-d", "--detach", is_flag=True,
              help=f"Run in the background, logging to {paths.launcher_log()}.")
@click.option("--once", is_flag=True,
              help="End when the server goes away, rather than wait for it to come back.")
@click.pass_obj
def command(obj: dict[str, str | None], detach: bool, once: bool) -> None:
    """Run your jobs for a lab's wq server, as you (in a lab, your first `wq sub`
    starts it in the background when none is running).

    It holds your ssh connections to the nodes and runs only jobs you signed.
    Your jobs never depend on it: if it stops, they run on, and the next
    launcher finds them. It waits for a restarting server, and ends after an
    hour without one. Keep it across logouts with `loginctl enable-linger`
    (see docs/lab.md)."""
    from wq import launcher

    if detach:
        pid = submission.detach(obj["socket"], paths.launcher_log())
        click.echo(f"launcher started (pid {pid}); its log: {paths.launcher_log()}")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    logging.captureWarnings(True)       # any other library's warning: in the log, once
    try:
        asyncio.run(launcher.run(obj["socket"], once=once, ready=launcher.ready_pipe()))
    except launcher.AlreadyServing as exc:     # (started twice at once: nothing to do)
        click.echo(f"wq: {exc}", err=True)
