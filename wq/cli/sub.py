"""wq sub [-c CMD | JOBFILE] [-r REQS] [-b]"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import click

from wq import codec
from wq.client import Client
from wq.errors import ClientError, ParseError, UsageError, WqError
from wq.model import JobSpec
from wq.protocol import messages as m


def build_spec(command: str | None, jobfile: str | None, require: str | None,
               stdout: str | None, stderr: str | None) -> JobSpec:
    from wq.parsing import jobfile as jobfiles
    from wq.parsing import requirements

    if (command is None) == (jobfile is None):
        raise UsageError("give either -c COMMAND or a JOBFILE")
    if jobfile is not None:
        try:
            with open(jobfile, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ParseError(f"cannot read the job file: {exc.strerror}", source=jobfile) \
                from None
        parsed = jobfiles.parse(text, jobfile, overrides=require)
        command, req = parsed.command, parsed.requirements
        stdout, stderr = stdout or parsed.stdout, stderr or parsed.stderr
    else:
        assert command is not None
        if not command.strip():
            raise UsageError("the command is empty")
        req = requirements.build(((k, v, None) for k, v in
                                  requirements.split_string(require or "")), source="-r")
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists") from None
    return JobSpec(command=command, cwd=cwd, env=tuple(sorted(os.environ.items())),
                   requirements=req, stdout=stdout, stderr=stderr)


@click.command("sub")
@click.argument("jobfile", required=False, type=click.Path(dir_okay=False))
@click.option("-c", "--command", help="The command to run (a shell command line).")
@click.option("-r", "--require", metavar="REQS",
              help='Requirements, e.g. "mode: bycore1; N: 4; group: gpu"; '
                   "they override the job file's.")
@click.option("-b", "--batch", is_flag=True,
              help="Submit and print the job id; do not wait for the job.")
@click.option("-o", "--output", "stdout", metavar="PATTERN",
              help="The job's stdout file (%j job id, %i instance, %h host); relative "
                   "paths are to the current directory. Default: kept by wq, see wq log.")
@click.option("-e", "--error", "stderr", metavar="PATTERN",
              help="The job's stderr file, as -o. Default: kept by wq, see wq log.")
@click.pass_obj
def command(obj: dict[str, str | None], jobfile: str | None, command: str | None,
            require: str | None, batch: bool, stdout: str | None, stderr: str | None) -> None:
    """Submit a job: a -c command or a YAML JOBFILE.

    By default it behaves like running the command here: it waits for a free
    core, streams the job's output, and exits with the job's exit code;
    Ctrl-C cancels the job. With -b it prints the job id and returns.
    """
    spec = build_spec(command, jobfile, require, stdout, stderr)
    frame = codec.spec_to_dict(spec)
    with Client(obj["socket"]) as client:
        if batch:
            click.echo(client.request(m.Submit(spec=frame))["id"])
            return
        job_id = int(client.request(m.Submit(spec=frame, attach=True))["id"])
        code = follow(client, job_id, obj["socket"])
    sys.exit(code)


def follow(client: Client, job_id: int, socket_path: str | None) -> int:
    """Stream an attached job's output; return the exit code `wq sub` should exit with.

    The first Ctrl-C (or SIGTERM) cancels the job from another thread and keeps
    reading, so the stream is never cut mid-frame; a second one stops waiting.
    """
    chatty = sys.stderr.isatty()
    if chatty:
        click.echo(f"wq: job {job_id} submitted", err=True)
    cancelled = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if cancelled.is_set():
            raise KeyboardInterrupt
        cancelled.set()
        click.echo(f"\nwq: cancelling job {job_id} (again to stop waiting)", err=True)
        threading.Thread(target=_cancel, args=(job_id, socket_path), daemon=True).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for event in client.events():
            code = _show(event, job_id, chatty, cancelled.is_set())
            if code is not None:
                return code
        return 1
    except ClientError as exc:
        raise ClientError(f"{exc}; job {job_id} itself is not affected: follow it with "
                          f"'wq ls' and 'wq log {job_id}'") from None
    except KeyboardInterrupt:
        click.echo(f"wq: not waiting any more; job {job_id} is being removed", err=True)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(event: dict[str, Any], job_id: int, chatty: bool, cancelled: bool) -> int | None:
    kind = event.get("event")
    if kind == "output":
        stream = sys.stdout if event["stream"] == "stdout" else sys.stderr
        stream.buffer.write(event["data"].encode("utf-8", "surrogateescape"))
        stream.flush()
    elif kind == "started" and chatty:
        click.echo(f"wq: job {job_id} running on {event['host']}", err=True)
    elif kind == "notice":
        click.echo(f"wq: {event['text']}", err=True)
    elif kind == "exit":
        state, code, reason = event["state"], event.get("code"), event.get("reason", "")
        if state == "done":
            return 0
        if state == "cancelled" and cancelled:
            return 130
        if state == "failed" and code is not None and reason.startswith(
                ("exit code", "killed by signal")):
            return int(code)
        click.echo(f"wq: job {job_id} {state}: {reason}", err=True)
        return int(code) if code else 1
    return None


def _cancel(job_id: int, socket_path: str | None) -> None:
    try:
        with Client(socket_path) as other:
            other.request(m.Remove(ids=[job_id]), timeout=None)
    except WqError as exc:
        click.echo(f"wq: could not cancel job {job_id}: {exc}", err=True)
