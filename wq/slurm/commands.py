"""The Slurm shims' one entry point (`python -m wq.slurm NAME ARGS`), and
`install`, which writes them. Each speaks enough of its Slurm namesake for
Snakemake, dask-jobqueue and their kin (docs/slurm.md has the mapping);
errors are one line in Slurm's own form (`sbatch: error: ...`; docs/slurm.md
has the exit codes). What the query commands print shows control characters
as escapes: it holds other users' job names.
"""

from __future__ import annotations

import importlib
import io
import os
import shlex
import sys
from typing import TextIO

from wq.cli import options
from wq.errors import WqError, one_line

#: each command, and the module that has it
COMMANDS = {"sbatch": "submit", "srun": "submit", "squeue": "queries", "sacct": "queries",
            "scancel": "queries", "scontrol": "queries", "sinfo": "queries",
            "sacctmgr": "queries", "sshare": "queries"}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else ""
    if name not in COMMANDS:
        print(f"wq slurm: unknown command {name!r} (one of {', '.join(COMMANDS)})",
              file=sys.stderr)
        sys.exit(2)
    if name != "srun":
        options.finish_when_interrupted()
    if COMMANDS[name] == "queries":        # (what they print, other users wrote in part)
        sys.stdout = Printable(sys.stdout)
    try:
        module = importlib.import_module(f"wq.slurm.{COMMANDS[name]}")
        code = getattr(module, name)(args[1:])
    except WqError as exc:
        print(f"{name}: error: {one_line(str(exc), 2000)}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:                      # a bug: one line, as wq's own
        print(f"{name}: error: internal error in wq: {type(exc).__name__}: "
              f"{one_line(str(exc))}", file=sys.stderr)
        code = 70
    sys.exit(code)


class Printable(io.TextIOBase):
    """A text stream that shows control characters as escapes (render.printable):
    job names and reasons in squeue's and sacct's lines are other users' text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        from wq.cli.render import printable

        self.stream.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def install(directory: str) -> list[str]:
    """Write the shims into `directory` (made if missing): a small sh script per
    command that runs this Python's wq. Returns their paths."""
    os.makedirs(directory, exist_ok=True)
    out = []
    for name in COMMANDS:
        path = os.path.join(directory, name)
        with open(path + ".tmp", "w") as fh:
            fh.write(f"#!/bin/sh\n# {name} for wq (wq slurm install); see docs/slurm.md\n"
                     f"exec {shlex.quote(sys.executable)} -m wq.slurm {name} \"$@\"\n")
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
        out.append(path)
    return out
