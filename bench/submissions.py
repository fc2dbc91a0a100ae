"""Submitting many separate jobs, as workflow tools do:

    python3 bench/submissions.py [--jobs 1000] [--out FILE]

A server whose one host is unreachable (nothing runs: only submission is
measured) takes --jobs separate `true` jobs four ways: `sbatch --parsable
--wrap` once per job (a new process each, as Snakemake's slurm plugin and
dask-jobqueue submit), `wq sub -b` once per job, `wq.Client().submit()` once
per job in one process, and `wq.Client().submit_many()` once for all. Prints
submissions per second, and first the floor of a process each: the
interpreter starting and doing nothing (`python3 -c pass`). (Flux's docs:
1,000 separate `flux submit` calls take 351 s, one batch 3.3 s.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.bulk import NOWHERE  # noqa: E402
from bench.harness import write_table  # noqa: E402
from tests.integration.sshd import WqServer  # noqa: E402


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:9.1f} jobs/s  ({seconds:7.2f} s for {count})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="wq-submissions-") as tmp:
        cluster = Path(tmp) / "cluster.yaml"
        cluster.write_text(NOWHERE)
        server = WqServer(Path(tmp) / "srv", cluster)
        shims = Path(tmp) / "shims"
        try:
            server.start()
            assert server.wq("slurm", "install", str(shims)).returncode == 0
            env = {**server.env, "PATH": f"{shims}:{os.environ['PATH']}"}
            for label, argv in (("python3 -c pass, a process each (the floor)",
                                 [sys.executable, "-c", "pass"]),
                                ("sbatch --parsable --wrap, a process each",
                                 ["sbatch", "--parsable", "--wrap", "true"]),
                                ("wq sub -b, a process each",
                                 [sys.executable, "-m", "wq", "sub", "-b", "-c", "true"])):
                began = time.perf_counter()
                for _ in range(args.jobs):
                    subprocess.run(argv, env=env, cwd=tmp, check=True, capture_output=True)
                rows.append((label, rate(args.jobs, time.perf_counter() - began)))
            import wq

            os.environ["WQ_SOCKET"] = server.socket
            client = wq.Client(server.socket)
            began = time.perf_counter()
            for _ in range(args.jobs):
                client.submit("true", cwd=tmp)
            rows.append(("Client.submit, one call each", rate(args.jobs,
                                                               time.perf_counter() - began)))
            began = time.perf_counter()
            ids = client.submit_many([{"command": "true", "cwd": tmp}] * args.jobs)
            assert len(ids) == args.jobs
            rows.append(("Client.submit_many, one call", rate(args.jobs,
                                                              time.perf_counter() - began)))
        finally:
            server.stop()
    write_table(f"submitting {args.jobs} separate jobs (2-core VM)", rows, args.out)


if __name__ == "__main__":
    main()
