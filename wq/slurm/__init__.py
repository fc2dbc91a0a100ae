"""Slurm's commands (sbatch, squeue, sacct, scancel) over wq, for workflow tools
that speak Slurm: `wq slurm install DIR` puts them in DIR (docs/slurm.md)."""
