"""wq log ID"""

from __future__ import annotations

import sys

import click

from wq.cli import complete
from wq.client import Client
from wq.errors import UsageError
from wq.protocol import messages as m
from wq.protocol.replies import Attached, LogReply


@click.command("log")
@click.argument("job_id", shell_complete=complete.job_ids)
@click.option("--bytes", "max_bytes", default=4 << 20, show_default=True,
              type=click.IntRange(min=1, max=1 << 30),
              help="Show at most the last this many bytes of each stream.")
@click.option("-n", "--instance", type=click.IntRange(min=1, max=1_000_000), metavar="N",
              help="Of this instance (run) of the job; default the latest that started.")
@click.option("-f", "--follow", is_flag=True,
              help="Follow a waiting or running job's output until it ends.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: id, host, instance, stdout, stderr (docs/json.md).")
@click.pass_obj
def command(obj: dict[str, str | None], job_id: str, max_bytes: int,
            instance: int | None, follow: bool, as_json: bool) -> None:
    """Show the output of a job (stdout, then stderr on stderr), from wherever it ran.

    A requeued or retried job keeps the output of each instance apart. With -f,
    a job that has not ended is followed (from the start of its output) until
    it does; removing it is for wq rm, Ctrl-C only stops following.
    """
    if follow and as_json:
        raise UsageError("give -f or --json, not both")
    if follow and instance is None and _followed(obj["socket"], job_id):
        return
    with Client(obj["socket"]) as client:
        reply = client.ask(m.Log(id=job_id, max_bytes=max_bytes, instance=instance),
                           LogReply, timeout=None)
    if as_json:
        import json

        click.echo(json.dumps(reply.to_frame()))
        return
    sys.stdout.buffer.write(reply.stdout.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    sys.stderr.buffer.write(reply.stderr.encode("utf-8", "surrogateescape"))
    sys.stderr.flush()


def _followed(socket_path: str | None, job_id: str) -> bool:
    """Follow a job that has not ended; False if it had (its log is shown instead)."""
    from wq.cli.follow import Shown, reattach
    from wq.errors import ServerLost
    from wq.protocol import events

    client = Client(socket_path)
    attached = client.ask(m.Attach(id=job_id), Attached)
    if attached.state not in ("waiting", "running"):
        client.close()
        return False
    output = Shown()
    try:
        while True:
            try:
                for event in client.events():
                    if isinstance(event, events.Output):
                        event = output.new(event)
                        stream = sys.stdout if event.stream == "stdout" else sys.stderr
                        stream.buffer.write(event.data.encode("utf-8", "surrogateescape"))
                        stream.flush()
                return True
            except ServerLost:
                client.close()
                client, ended = reattach(socket_path, job_id, tie=False)
                output.again()
                if ended is not None:
                    output.rest(client, job_id)
                    return True
    finally:
        client.close()
