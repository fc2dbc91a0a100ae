"""wq serve [CLUSTER]"""

from __future__ import annotations

import click

from wq import paths


@click.command("serve")
@click.argument("cluster", required=False, type=click.Path(dir_okay=False))
@click.option("--state", "state_dir", envvar="WQ_STATE", metavar="DIR",
              help="Where the database lives (default ~/.local/state/wq; env WQ_STATE).")
@click.option("--kill-grace", default=5.0, show_default=True, metavar="SECONDS",
              help="Between TERM and KILL when a job is removed.")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.pass_obj
def command(obj: dict[str, str | None], cluster: str | None, state_dir: str | None,
            kill_grace: float, verbose: bool) -> None:
    """Run the server in the foreground on CLUSTER (a cluster file).

    Without CLUSTER, it serves this machine, all its cores, with no ssh.
    Stop it with Ctrl-C or SIGTERM: running jobs keep running and are
    watched again when it restarts on the same state.
    """
    from wq.server.app import serve

    serve(cluster, paths.socket_path(obj["socket"]), paths.state_dir(state_dir),
          kill_grace=kill_grace, verbose=verbose)
