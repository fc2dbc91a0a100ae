"""A lab member's launcher's ledger: what it has run, so that nothing runs twice.

A signed spec carries a seal (wq.signing.seal: when it was signed, and a
nonce), and a rerun of it a seal of its own. The launcher runs each (seal,
task, instance) once, and its on_end hook once: a row the server puts back,
or a job it renumbers, is refused. Seals older than signing.MAX_AGE are
refused too, so the ledger forgets them: it holds at most that span of
launches. It is a SQLite file of the member's (~/.local/state/wq/launched.sqlite).
"""

from __future__ import annotations

import os
import sqlite3
import time

from wq import paths, signing
from wq.errors import WqError

SCHEMA = """CREATE TABLE IF NOT EXISTS seen (
    seal TEXT NOT NULL, task INTEGER NOT NULL, instance INTEGER NOT NULL,
    what TEXT NOT NULL, sealed INTEGER NOT NULL,
    PRIMARY KEY (seal, task, instance, what)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (sealed);"""


def default_path() -> str:
    return paths.user_state("launched.sqlite")


class Ledger:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise WqError(f"cannot open the launcher's ledger {path}: {exc}") from None
        self.path = path
        self.forget(time.time())

    def forget(self, now: float) -> None:
        """Drop what no launch can be refused for any more: seals past MAX_AGE."""
        self.db.execute("DELETE FROM seen WHERE sealed < ?", (int(now - signing.MAX_AGE),))

    def first(self, seal: str, task: int | None, instance: int, what: str) -> bool:
        """Note that `what` (launch, hook) of this seal, task and instance is done
        now; False if it was done before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO seen (seal, task, instance, what, sealed) VALUES (?,?,?,?,?)",
            (seal, -1 if task is None else task, instance, what, signing.sealed_at(seal)))
        return cursor.rowcount == 1

    def close(self) -> None:
        self.db.close()
