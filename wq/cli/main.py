"""The `wq` command group and the one error boundary of the command line.

Verbs are loaded lazily, so `wq ls` imports only what listing needs. A WqError
prints as `wq: <message>` on stderr with exit code 1 (2 for usage errors);
anything else is a bug: one line, and the traceback only with WQ_DEBUG=1.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from wq import __version__, remote
from wq.errors import ServerLost, WqError, one_line

VERBS = {
    "serve": "Run the server (in the foreground, or -d in the background).",
    "stop": "Stop the server cleanly (running jobs keep running).",
    "sub": "Submit a job (runs attached, like a local command, unless -b).",
    "ls": "List jobs.",
    "stat": "Show the cluster: usage per host and in total.",
    "rm": "Remove jobs: dequeue waiting ones, kill running ones.",
    "signal": "Send a signal to running jobs (USR1, ...), which keep running.",
    "hold": "Hold waiting jobs: they start nothing until released.",
    "release": "Release held jobs.",
    "requeue": "Put running or ended jobs back in the queue, to run again.",
    "update": "Change waiting jobs' time limit.",
    "log": "Show a job's output (-f: follow it until the job ends).",
    "status": "Print each job's state as one word (running, success, failed).",
    "retry": "Submit again the tasks of an array (or a job) that did not end done.",
    "wait": "Wait until jobs end; exit with the first failure's code.",
    "info": "Show one job in full: where and how each of its instances ran.",
    "why": "Explain why a job waits: for each host, the rule that keeps it off.",
    "clean": "Forget finished jobs (and delete their files on the nodes).",
    "refresh": "Re-read the cluster file and probe down hosts now.",
    "node": "Take hosts offline (drain) or bring them back online.",
    "users": "List users with their jobs, cores and limits.",
    "limit": "Set your own limits on running jobs and cores.",
    "launcher": "Run your jobs for a lab's server, as you (started when needed).",
    "slurm": "Install Slurm's commands (sbatch, squeue, sacct, ...) over wq.",
    "profile": "Write a workflow tool's profile for wq (Snakemake).",
    "session": "Hold a workflow's session: its jobs are cancelled when it ends.",
    "completion": "Print the shell completion script (bash, zsh or fish).",
}


def _verb(args: list[str]) -> str | None:
    """The verb of a command line (after the group's own options)."""
    words = iter(args)
    for word in words:
        if word == "--socket":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS:
            return None
        module = importlib.import_module(f"wq.cli.{name}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(VERBS.items()))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="wq")
@click.option("--socket", "socket_path", envvar="WQ_SOCKET", metavar="PATH",
              help="The server's Unix socket (default $XDG_RUNTIME_DIR/wq/wq.sock, else "
                   "/tmp/wq-UID/wq.sock; env WQ_SOCKET).")
@click.pass_context
def cli(ctx: click.Context, socket_path: str | None) -> None:
    """wq: run jobs on free cores of your ssh hosts, as easily as running them locally."""
    ctx.obj = {"socket": socket_path}


#: verbs that always run where they are typed, whatever WQ_SERVER says
LOCAL_VERBS = frozenset({"serve", "launcher", "completion"})
#: verbs that only ask: asked again when the server went away mid-answer (the
#: client waits for it to be back); the others might have been carried out
ASKING = frozenset({"ls", "stat", "info", "users", "status", "log", "why"})


def main(argv: list[str] | None = None) -> Any:
    try:
        args = sys.argv[1:] if argv is None else argv
        server = remote.destination()
        completing = "_WQ_COMPLETE" in os.environ      # a shell asks: answer it here
        if server is not None and _verb(args) not in LOCAL_VERBS and not completing:
            remote.run(server, args)            # (does not return)
        for attempt in range(3):
            try:
                cli.main(args=argv, prog_name="wq", standalone_mode=False)
                break
            except ServerLost:
                if _verb(args) not in ASKING or attempt == 2:
                    raise
                click.echo("wq: lost the wq server; asking again once it is back", err=True)
    except WqError as exc:
        click.echo(f"wq: {one_line(str(exc), 2000)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as exc:          # one line, as every other error
        verb = exc.ctx.command_path if exc.ctx is not None else "wq"
        click.echo(f"wq: {one_line(exc.format_message(), 2000)} (see '{verb} -h')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"wq: {one_line(exc.format_message(), 2000)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("WQ_DEBUG"):
            traceback.print_exc()
        click.echo(f"wq: internal error: {type(exc).__name__}: {one_line(str(exc))} "
                   "(a bug; rerun with WQ_DEBUG=1 for details)", err=True)
        sys.exit(70)
    sys.exit(0)
