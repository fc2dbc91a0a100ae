"""Many separate jobs through the Python API, each with a realistic environment,
no sshd needed:

    python3 bench/many.py [--jobs 100000] [--per-call N] [--out FILE]

On a server whose one host is unreachable (so everything stays queued), one
`wq.Client().submit_many` of --jobs separate jobs (`true N`, each with the
same 3 KB environment, bench.harness.realistic_env), or calls of --per-call
jobs each, while another client asks `stat` in a loop:
  * the wall time of the submission and the slowest concurrent `stat` answer
  * the database's size (wq.db, and its WAL apart: that depends on when it was
    last checkpointed) and the server's RSS with them queued
  * `wq rm all`, then the same after `wq clean`

Every figure is wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.bulk import NOWHERE, stat_loop  # noqa: E402
from bench.harness import realistic_env, settled, sizes, write_table  # noqa: E402
from tests.integration.sshd import WqServer  # noqa: E402
import wq  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--per-call", type=int, default=0,
                        help="jobs per submit_many call (default: all in one call)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    env = realistic_env()
    jobs = [{"command": f"true {i}", "cwd": "/tmp", "env": env} for i in range(args.jobs)]
    per_call = args.per_call or args.jobs
    rows: list[tuple[str, str]] = []
    root = Path(tempfile.mkdtemp(prefix="wq-many-"))
    cluster = root / "cluster.yaml"
    cluster.write_text(NOWHERE)
    server = WqServer(root / "wq", cluster)
    server.start()
    try:
        client = wq.Client(server.socket)
        rows.append(("server at start", sizes(server)))
        with stat_loop(server.socket) as stats:
            began = time.perf_counter()
            ids = []
            for start in range(0, args.jobs, per_call):
                ids += client.submit_many(jobs[start:start + per_call])
            took = time.perf_counter() - began
        assert len(ids) == args.jobs
        calls = "one call" if per_call >= args.jobs else f"calls of {per_call}"
        rows.append((f"submit_many, {args.jobs} jobs ({calls})",
                     f"{took:7.2f} s; stat meanwhile: median {statistics.median(stats):.0f} ms,"
                     f" slowest {max(stats):.0f} ms"))
        rows.append((f"{args.jobs} queued", sizes(server)))
        server.wq("rm", "all", timeout=600)
        rows.append(("after wq rm all", settled(server)))
        server.wq("clean", timeout=600)
        rows.append(("after wq clean", settled(server)))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    env_bytes = len("".join(k + v for k, v in env.items()))
    write_table(f"many separate jobs through the Python API, a {env_bytes}-byte environment "
                "each, one unreachable host", rows, args.out)


if __name__ == "__main__":
    main()
