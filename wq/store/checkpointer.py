"""Folding the WAL into the database from a thread of its own.

SQLite checkpoints by itself inside a commit once the WAL passes 1000 pages:
on the server's event loop, that is a pause of ~0.1-0.3 s every few thousand
job changes (copying and syncing 4 MB). Instead the server turns that off
(Store.manual_checkpoints) and this thread checkpoints every second through a
connection of its own, in PASSIVE mode, which never waits for, and never
blocks, the server's reads and writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

EVERY = 1.0          # seconds between checkpoints


class Checkpointer:
    def __init__(self, path: str, every: float = EVERY) -> None:
        self.path = path
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wq-checkpointer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self.every):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:          # busy, or the disk: next time
                    log.warning("checkpointing the database failed: %s", exc)
        finally:
            db.close()
