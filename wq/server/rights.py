"""Who may do what: each request's rule, in one table (pure).

Every request type has a rule here (a test walks them all as a member who
owns nothing, and tests/server/test_rights.py checks the table is whole):

  ANYONE     anyone connected: reads and their own submissions; another's
             job shows only what `handlers.public` lets through
  OWNER      on the jobs it names, which must be the requester's
  OWNER_ADMIN  the same, or any job for an admin
  ADMIN      the lab's admins (the operator is one)
  OPERATOR   the operator, who runs the server, alone

What changes or forgets a job is OWNER or OWNER_ADMIN: a member never acts on
another member's jobs; an admin may stop and forget them (rm, clean), not run
them again as their owner or read their output.
"""

from __future__ import annotations

import enum

from wq.errors import WqError


class Rule(enum.Enum):
    ANYONE = "anyone"
    OWNER = "owner"
    OWNER_ADMIN = "owner or admin"
    ADMIN = "admin"
    OPERATOR = "operator"


RULES: dict[str, Rule] = {
    "hello": Rule.ANYONE, "ls": Rule.ANYONE, "stat": Rule.ANYONE, "users": Rule.ANYONE,
    "status": Rule.ANYONE, "why": Rule.ANYONE,
    "submit": Rule.ANYONE, "submit_many": Rule.ANYONE,      # (jobs of the submitter's)
    "session": Rule.ANYONE, "launcher": Rule.ANYONE,        # (the requester's own)
    "limit": Rule.ANYONE,       # a member lowers their own; another's is ADMIN (on_limit)
    "rerun": Rule.OWNER, "signature": Rule.OWNER, "log": Rule.OWNER, "attach": Rule.OWNER,
    "session_end": Rule.OWNER,
    # what runs, or for how long: the owner's word alone
    "requeue": Rule.OWNER, "update": Rule.OWNER, "step": Rule.OWNER,
    "rm": Rule.OWNER_ADMIN, "clean": Rule.OWNER_ADMIN, "info": Rule.OWNER_ADMIN,
    "signal": Rule.OWNER_ADMIN, "hold": Rule.OWNER_ADMIN, "release": Rule.OWNER_ADMIN,
    "refresh": Rule.ADMIN, "node": Rule.ADMIN,
    "stop": Rule.OPERATOR,
}

#: how a refused request is named to its sender
WHAT = {"rerun": "running it again", "signature": "its signature", "log": "its output",
        "attach": "following it", "session_end": "ending its session", "rm": "removing it",
        "signal": "signalling it", "hold": "holding it", "release": "releasing it",
        "requeue": "requeueing it", "update": "updating it", "step": "running a step of it",
        "clean": "forgetting it", "info": "wq info", "refresh": "wq refresh",
        "node": "wq node", "stop": "wq stop"}


def on_job(kind: str, user: str, owner: str, admin: bool) -> bool:
    """May `user` (an admin or not) make a request of type `kind` on a job of
    `owner`'s?"""
    rule = RULES[kind]
    if rule is Rule.ANYONE or user == owner:
        return rule in (Rule.ANYONE, Rule.OWNER, Rule.OWNER_ADMIN)
    return rule is Rule.OWNER_ADMIN and admin


def job(kind: str, label: str, user: str, owner: str, admin: bool) -> None:
    """Refuse (WqError) a request of type `kind` on the job `label` of `owner`'s,
    unless allowed."""
    if not on_job(kind, user, owner, admin):
        raise WqError(f"job {label} is {owner}'s: {WHAT.get(kind, kind)} is theirs "
                      "alone" + (" (and the lab's admins')"
                                 if RULES[kind] is Rule.OWNER_ADMIN else ""))


def whose(kind: str, user: str, admin: bool) -> str | None:
    """Whose jobs a request on "all jobs" (clean) reaches: everyone's (None) for
    an admin where the rule lets admins act, else the requester's own."""
    return None if admin and RULES[kind] is Rule.OWNER_ADMIN else user


def request(kind: str, user: str, admin: bool, operator: str, admins: list[str]) -> None:
    """Refuse (WqError) a request of type `kind` that is for the admins or the
    operator alone."""
    rule = RULES[kind]
    if rule is Rule.ADMIN:
        admins_only(WHAT[kind], admin, admins)
    if rule is Rule.OPERATOR and user != operator:
        raise WqError(f"{WHAT[kind]} is for {operator}, who runs this server, alone")


def admins_only(what: str, admin: bool, admins: list[str]) -> None:
    if not admin:
        raise WqError(f"{what} is for the lab's admins ({', '.join(admins)})")
