"""The cluster file's `lab:` section: one wq server shared by a research group.

    lab:
      socket: /srv/wq/lab.sock        # the shared socket (its directory the operator's)
      users: [alice, bob]             # who may connect, by name ...
      group: wqlab                    # ... and/or the members of a Unix group
      admins: [alice]                 # may remove anyone's jobs, set limits, drain hosts
      weights: {alice: 2}             # fair-share weights (default 1)
      per_user: {connections: 32, queued: 1000000, submitting: 4, pending_mb: 64}
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from wq.errors import ParseError
from wq.model import Lab, LabBounds
from wq.parsing import units, yamlsrc
from wq.parsing.fields import Field, FieldTable

MAX_WEIGHT = 1_000_000.0


def _socket(value: Any) -> str:
    path = units.text(value).strip()
    if not os.path.isabs(os.path.expanduser(path)):
        raise ValueError(f"expected an absolute path for the shared socket, got {path!r}")
    if "\0" in path:
        raise ValueError("a path cannot hold a NUL byte")
    return os.path.normpath(os.path.expanduser(path))


def _weights(value: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of user names to weights, e.g. {alice: 2}")
    out = []
    for user, weight in value.items():
        name = units.name(user)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not 0 < weight <= MAX_WEIGHT:
            raise ValueError(f"the weight of {name} must be a number above 0 and up to "
                             f"{MAX_WEIGHT:g}, got {units.shown(weight)}")
        out.append((name, float(weight)))
    return tuple(sorted(out))


_BOUNDS = FieldTable([
    Field("connections", units.bounded(units.positive_int, 65536)),
    Field("queued", units.bounded(units.positive_int, 100_000_000)),
    Field("submitting", units.bounded(units.positive_int, 1000)),
    Field("pending_mb", units.bounded(units.positive_int, 1 << 20)),
])

FIELDS = FieldTable([
    Field("socket", _socket, ("path",)),
    Field("users", units.names, ("members",)),
    Field("group", units.name, ("unix_group",)),
    Field("admins", units.names, ("admin",)),
    Field("weights", _weights, ("shares",)),
    Field("per_user", lambda v: v, ("bounds",)),
])


def parse(node: yaml.Node, source: str) -> Lab:
    """The `lab:` section's node; errors name the key and its line."""
    values: dict[str, Any] = {}
    for item in yamlsrc.items(node, source, "lab"):
        if FIELDS.lookup(item.key, source=source, line=item.line, where="lab").name \
                == "per_user":
            values["bounds"] = _bounds(item, source)
            continue
        key, value = FIELDS.convert(item.key, item.value, source=source, line=item.line,
                                    where="lab")
        values[key] = value
    line = yamlsrc.line_of(node)
    if "socket" not in values:
        raise ParseError("a lab needs a 'socket': the path of the shared socket, in a "
                         "directory of the operator's (e.g. /srv/wq/lab.sock)",
                         source=source, line=line, key="lab.socket")
    if not values.get("users") and "group" not in values:
        raise ParseError("a lab needs 'users' (names) and/or 'group' (a Unix group): who "
                         "may use it", source=source, line=line, key="lab")
    return Lab(**values)


def _bounds(item: yamlsrc.Item, source: str) -> LabBounds:
    values = {}
    for sub in yamlsrc.items(item.node, source, "lab.per_user"):
        key, value = _BOUNDS.convert(sub.key, sub.value, source=source, line=sub.line,
                                     where="lab.per_user")
        values[key] = value
    return LabBounds(**values)
