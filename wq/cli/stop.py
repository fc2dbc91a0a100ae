"""wq stop"""

from __future__ import annotations

import fcntl
import time

import click

from wq import clientconfig
from wq.client import Client
from wq.errors import ServerNotRunning, WqError
from wq.protocol import messages as m
from wq.protocol.replies import Stopping

POLL = 0.05             # seconds between two looks at the server's state lock


@click.command("stop")
@click.option("--timeout", default=60.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the server to exit.")
@click.pass_obj
def command(obj: dict[str, str | None], timeout: float) -> None:
    """Stop the server cleanly and wait until it is gone. Running jobs keep running
    and are picked up again when it next starts; with no server, says so (exit 0)."""
    try:
        client = Client(obj["socket"], reconnect=0)
    except ServerNotRunning:
        where = clientconfig.target(obj["socket"]).candidates[0]
        click.echo(f"no wq server is running (nothing answers on {where})")
        return
    with client:
        reply = client.ask(m.Stop(), Stopping)
    if not _wait_gone(reply, time.monotonic() + timeout):
        raise WqError(f"the wq server (pid {reply.pid}) has not exited within {timeout:g}s; "
                      "it is still shutting down (kill -9 is safe: jobs outlive it)")
    line = f"wq server (pid {reply.pid}) stopped"
    if reply.running:
        jobs = "job keeps" if reply.running == 1 else "jobs keep"
        line += (f"; its {reply.running} running {jobs} running, watched again at "
                 "its next start")
    click.echo(line)


def _wait_gone(reply: Stopping, deadline: float) -> bool:
    """Until the server has let go of its state (its lock is free) and its process
    is gone; False at the deadline."""
    try:
        with open(reply.lock) as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(POLL)
    except OSError:          # not readable from here: the process alone tells
        pass
    while _alive(reply.pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def _alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has: its parent has yet to
    reap it)."""
    import psutil      # (only here: wq's other commands start without it)

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
