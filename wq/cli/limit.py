"""wq limit "run: 2; cores: 8" | wq limit clear"""

from __future__ import annotations

import re

import click

from wq.client import Client
from wq.errors import UsageError
from wq.parsing.units import shown
from wq.protocol import messages as m
from wq.protocol.replies import LimitReply

KEYS = {"run": "jobs", "jobs": "jobs", "njobs": "jobs", "running": "jobs",
        "cores": "cores", "ncores": "cores"}


def parse_limits(text: str) -> dict[str, int]:
    """`"run: 2; cores: 8"` (or the original `"Njobs: 25; Ncores: 100"`); -1 removes one."""
    out: dict[str, int] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition(":")
        name = KEYS.get(key.strip().lower())
        if not sep or name is None:
            raise UsageError(f"expected 'run: N' or 'cores: N', got {shown(part.strip())}")
        if not re.fullmatch(r"\s*-?[0-9]{1,9}\s*", value):
            raise UsageError(f"{key.strip()}: expected a whole number up to 999999999, got "
                             f"{shown(value.strip())}")
        number = int(value)
        if number < -1:
            raise UsageError(f"{key.strip()}: expected 0 or more (or -1 to remove the limit)")
        out[name] = number
    if not out:
        raise UsageError("give limits like \"run: 2; cores: 8\", or 'clear'")
    return out


@click.command("limit")
@click.argument("limits")
@click.option("-u", "--user", help="Another user's limits (a lab's admins only).")
@click.pass_obj
def command(obj: dict[str, str | None], limits: str, user: str | None) -> None:
    """Limit your own running jobs and cores: "run: 2; cores: 8"; -1 removes one;
    'clear' removes all. Jobs beyond a limit wait; none are stopped. In a lab,
    members may lower their own limits; admins set anyone's."""
    if limits.strip() == "clear":
        request = m.SetLimits(clear=True, user=user)
    else:
        parsed = parse_limits(limits)
        request = m.SetLimits(jobs=parsed.get("jobs"), cores=parsed.get("cores"), user=user)
    with Client(obj["socket"]) as client:
        reply = client.ask(request, LimitReply)
    listed = "; ".join(f"{'run' if k == 'jobs' else k}: {v}"
                       for k, v in reply.limits.items() if v is not None)
    click.echo(f"limits for {reply.user}: {listed or 'none'}")
