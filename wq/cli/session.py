"""wq session [--token T]: a workflow's session, for a driver's sidecar."""

from __future__ import annotations

import os
import secrets
import select
import signal

import click

from wq.client import Client
from wq.errors import WqError
from wq.protocol import messages as m
from wq.protocol.replies import Done


def _end(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _open(socket_path: str | None, token: str) -> Client:
    client = Client(socket_path)
    client.ask(m.Session(token=token), Done)
    return client


@click.command("session")
@click.option("--token", help="The session's name (default: a new random one).")
@click.pass_obj
def command(obj: dict[str, str | None], token: str | None) -> None:
    """Hold a workflow's session while the process that started this one lives.

    Prints the session's token, then waits. Jobs submitted with `wq sub
    --session TOKEN` (or WQ_SESSION=TOKEN) are cancelled, those that have not
    ended, once the session ends: when its parent (a workflow driver, such as
    Snakemake running this as its cluster sidecar) has exited, however it
    ended, or this process gets INT, TERM or HUP. A server restart is ridden
    through: the session is held again once the server is back."""
    token = token or secrets.token_hex(8)
    parent = os.getppid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _end)
    client = _open(obj["socket"], token)
    click.echo(token)
    try:
        while os.getppid() == parent:
            ready, _, _ = select.select([client.sock], [], [], 0.5)
            if ready and not client.sock.recv(1):       # the server went away
                client.close()
                try:
                    client = _open(obj["socket"], token)
                except WqError as exc:
                    click.echo(f"wq session: {exc}", err=True)
                    return
    finally:
        client.close()
