"""wq serve [CLUSTER] [-d]"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import click

from wq import paths
from wq.cli import options
from wq.errors import ServerNotRunning, WqError


@click.command("serve")
@click.argument("cluster", required=False)
@click.option("--state", "state_dir", envvar="WQ_STATE", metavar="DIR",
              help="Where the database lives (default ~/.local/state/wq; env WQ_STATE).")
@click.option("--kill-grace", default=5.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0.1, max=3600.0),
              help="Between TERM and KILL when a job is removed.")
@click.option("--keep", default="30d", show_default=True, metavar="DURATION",
              help="How long finished jobs stay in the history (and their files on the "
                   "nodes); 'forever' keeps them. wq clean forgets them sooner.")
@click.option("-d", "--daemon", is_flag=True,
              help="Run in the background (log in STATE/server.log); return once it answers.")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.option("--allow-network-fs", is_flag=True,
              help="Use a state directory on NFS (or another network filesystem) anyway; "
                   "only safe if no other server ever uses it.")
@click.option("--durability", type=click.Choice(["machine", "process"]), default="machine",
              show_default=True,
              help="machine: what anyone is told survives a power loss (the log is "
                   "fsynced, from a thread, before); process: survives a crash of the "
                   "server, but a power loss may cost the last second of changes.")
@click.pass_obj
def command(obj: dict[str, str | None], cluster: str | None, state_dir: str | None,
            kill_grace: float, keep: str, daemon: bool, verbose: bool,
            allow_network_fs: bool, durability: str) -> None:
    """Run the server on CLUSTER (a cluster file), in the foreground unless -d.

    Without CLUSTER, it serves this machine, all its cores, with no ssh.
    Stop it with Ctrl-C or SIGTERM (its pid is in STATE/server.pid): running
    jobs keep running and are watched again when it restarts on the same state.
    """
    explicit, state = paths.explicit_socket(obj["socket"]), paths.state_dir(state_dir)
    sockets = [explicit] if explicit else paths.default_sockets()
    keep_seconds = _keep(keep)
    if daemon:
        start_background(cluster, explicit, state,
                         ["--kill-grace", str(kill_grace), "--keep", keep,
                          "--durability", durability,
                          *(["--allow-network-fs"] if allow_network_fs else [])], verbose)
        return
    from wq.server.app import serve

    serve(cluster, sockets, state, kill_grace=kill_grace, keep=keep_seconds,
          verbose=verbose, allow_network_fs=allow_network_fs, durability=durability)


def _keep(text: str) -> float | None:
    if text.strip().lower() in ("forever", "never", "inf"):
        return None
    return options.duration("--keep", text)


def start_background(cluster: str | None, socket_path: str | None, state: str,
                     options: list[str], verbose: bool) -> None:
    """Start `wq serve` detached, and wait until it answers or fails. Without an
    explicit socket it listens where a foreground server would (the same env)."""
    from wq.client import Client
    from wq.trust import Untrusted

    for path in paths.socket_candidates(socket_path):
        try:
            with Client(path, timeout=5, reconnect=0) as running:
                raise WqError(f"a wq server (pid {running.server_pid}) is already running on "
                              f"{running.path}")
        except (ServerNotRunning, Untrusted):       # not there, or not ours: no server of ours
            pass
    os.makedirs(state, mode=0o700, exist_ok=True)
    log_path = os.path.join(state, "server.log")
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)            # job names and errors are nobody else's business
    args = [sys.executable, "-m", "wq", *(["--socket", socket_path] if socket_path else []),
            "serve", "--state", state, *options]
    if verbose:
        args.append("--verbose")
    if cluster is not None:
        args.append(os.path.abspath(cluster))
    with os.fdopen(fd, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, cwd="/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path, "rb") as fh:
                fh.seek(start)
                lines = fh.read().decode(errors="replace").strip().splitlines()
            raise WqError(lines[-1].removeprefix("wq: ") if lines else
                          f"the server exited with status {proc.returncode}")
        try:
            with Client(socket_path or paths.socket_path(), timeout=5,
                        reconnect=0) as client:
                ours = client.server_pid == proc.pid
        except WqError:
            ours = False
        if not ours:
            time.sleep(0.05)
            continue
        click.echo(f"wq server running (pid {proc.pid}); log in {log_path}")
        return
    raise WqError(f"the server did not answer within 30 s; see {log_path}")
