"""wq: an agentless job dispatcher for research labs.

`wq.Client` is the Python API (wq.api; docs/python.md), loaded on first use so
that the `wq` command starts fast."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Client":
        from wq.api import Client
        return Client
    raise AttributeError(f"module 'wq' has no attribute {name!r}")
