"""Folding the WAL into the database from a thread of its own.

SQLite checkpoints by itself inside a commit once the WAL passes 1000 pages:
on the server's event loop, that is a pause of ~0.1-0.3 s every few thousand
job changes (copying and syncing 4 MB). Instead the store turns that off and,
after as many row changes, kicks this thread, which checkpoints through a
connection of its own in PASSIVE mode: it never waits for, and never blocks,
the server's reads and writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._kick = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="wq-checkpointer", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Checkpoint soon."""
        self._kick.set()

    def stop(self) -> None:
        self._stop = True
        self._kick.set()
        self._thread.join(30)

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=1000")
            while True:
                self._kick.wait()
                self._kick.clear()
                if self._stop:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:          # busy, or the disk: next time
                    log.warning("checkpointing the database failed: %s", exc)
        finally:
            db.close()
