"""What the Slurm shims share: their errors, option parser, and the job rows
they read from the server."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING

from wq.errors import WqError

if TYPE_CHECKING:       # (the replies' classes take a while to make: sbatch needs none)
    from wq.protocol.replies import JobRow


class SlurmError(WqError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse whose errors are WqErrors (one line, no usage dump), with no -h
    (squeue's -h is --noheader)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False)
        self.add_argument("--help", action="help")

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SlurmError(message)

    def known(self, args: list[str]) -> argparse.Namespace:
        """Parse; any argument left over is an error naming it."""
        ns, extra = self.parse_known_args(args)
        if extra:
            raise SlurmError(f"unsupported arguments: {' '.join(extra)}")
        return ns


def rows(*, select: list[str] | None, finished: bool, user: str | None = None,
         since: float | None = None) -> Iterator[JobRow]:
    """The jobs (a row per task) named, or all live ones, and with `finished`
    those that ended (since `since`: all of them)."""
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import Listing

    with Client() as client:
        request = m.ListJobs(user=user, all=finished, select=select, full=True, expand=True,
                             page=1000, since=since)
        for page in client.paged(request, Listing):
            yield from page.jobs


def ids(text: str) -> list[str]:
    """Slurm job ids (12, 12_3, 12_[1-3]) as wq selectors (12, 12.3, 12.1-3)."""
    out = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        out.append(word.replace("_[", ".").rstrip("]").replace("_", "."))
    return out


def keep(rows: Iterator[JobRow], states: set[str] | None, names: set[str] | None
            ) -> Iterator[JobRow]:
    for row in rows:
        if row.array:
            continue
        if states is not None and row.state not in states:
            continue
        if names is not None and row.name not in names:
            continue
        yield row


def states(text: str | None) -> set[str] | None:
    from wq.slurm import formats

    if text is None:
        return None
    try:
        return formats.state_filter(text)
    except ValueError as exc:
        raise SlurmError(str(exc)) from None




def fields(text: str, squeue: bool = False) -> list[tuple[str, int | None]]:
    """sacct's -o (or with `squeue`, squeue's -O) field list, checked."""
    from wq.slurm import formats

    try:
        return formats.field_list(text, formats.SQUEUE_FIELDS if squeue else formats.FIELDS)
    except ValueError as exc:
        raise SlurmError(str(exc)) from None
