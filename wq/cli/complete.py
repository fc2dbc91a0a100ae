"""Shell completion of job ids and host names, asked of the server.

Called by click while the shell completes a word (`wq completion` prints the
script that asks): a quick question with a short timeout, and no completions
at all rather than an error when no server answers.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from wq.client import Client
    from wq.protocol.replies import JobRow

#: seconds a completion waits for the server: a shell must not hang on a Tab
TIMEOUT = 2.0
#: job ids offered at most (the newest)
MAX_JOBS = 500
#: rows per reply of the listing read (a user may have any number of jobs)
PAGE = 1000
#: finished jobs are offered for this long after they ended (seconds)
RECENT = 86400.0


def job_ids(ctx: click.Context, param: click.Parameter, incomplete: str
            ) -> list[CompletionItem]:
    """The user's own jobs (and arrays): waiting, running, or ended in the last day,
    with their state and name."""
    from wq.protocol import messages as m
    from wq.protocol.replies import Listing

    def ask() -> list[CompletionItem]:
        newest: deque[JobRow] = deque(maxlen=MAX_JOBS)
        with _client(ctx) as client:
            request = m.ListJobs(user=client.user, all=True, since=time.time() - RECENT,
                                 page=PAGE)
            for page in client.paged(request, Listing, timeout=TIMEOUT):
                newest.extend(row for row in page.jobs if row.id.startswith(incomplete))
        return [CompletionItem(row.id, help=f"{row.state} {row.name}".strip())
                for row in newest]
    return _quietly(ask)


def host_names(ctx: click.Context, param: click.Parameter, incomplete: str
               ) -> list[CompletionItem]:
    """The cluster's hosts, with their state."""
    from wq.protocol import messages as m
    from wq.protocol.replies import StatReply

    def ask() -> list[CompletionItem]:
        with _client(ctx) as client:
            reply = client.ask(m.Stat(), StatReply, timeout=TIMEOUT)
        return [CompletionItem(h.name, help=h.state) for h in reply.hosts
                if h.name.startswith(incomplete)]
    return _quietly(ask)


def _client(ctx: click.Context) -> Client:
    from wq.client import Client
    return Client(ctx.find_root().params.get("socket_path"), timeout=TIMEOUT, reconnect=0)


def _quietly(ask: Callable[[], list[CompletionItem]]) -> list[CompletionItem]:
    """What `ask` returns; nothing when the server cannot be asked (a Tab prints no error)."""
    try:
        return ask()
    except Exception:
        return []
