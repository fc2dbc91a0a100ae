"""python -m wq.slurm COMMAND ARGS...: what the installed shims run."""

from wq.slurm.commands import main

main()
