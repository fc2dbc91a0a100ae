"""The store: SQLite in WAL mode, the source of truth for jobs and node states."""

from wq.store.store import Store

__all__ = ["Store"]
