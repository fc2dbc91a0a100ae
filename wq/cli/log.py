"""wq log ID"""

from __future__ import annotations

import sys

import click

from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import LogReply


@click.command("log")
@click.argument("job_id")
@click.option("--bytes", "max_bytes", default=4 << 20, show_default=True,
              type=click.IntRange(min=1, max=1 << 30),
              help="Show at most the last this many bytes of each stream.")
@click.option("-n", "--instance", type=click.IntRange(min=1, max=1_000_000), metavar="N",
              help="Of this instance (run) of the job; default the latest that started.")
@click.pass_obj
def command(obj: dict[str, str | None], job_id: str, max_bytes: int,
            instance: int | None) -> None:
    """Show the output of a job (stdout, then stderr on stderr), from wherever it ran.

    A requeued or retried job keeps the output of each instance apart.
    """
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Log(id=job_id, max_bytes=max_bytes, instance=instance),
                           LogReply, timeout=None)
    sys.stdout.buffer.write(reply.stdout.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    sys.stderr.buffer.write(reply.stderr.encode("utf-8", "surrogateescape"))
    sys.stderr.flush()
