"""Folding the WAL into the database, and giving freed space back to the disk,
from a thread of its own.

SQLite checkpoints by itself inside a commit once the WAL passes 1000 pages:
on the server's event loop, that is a pause of ~0.1-0.3 s every few thousand
job changes (copying and syncing 4 MB). Instead the store turns that off and,
after as many row changes, kicks this thread, which checkpoints through a
connection of its own in PASSIVE mode: it never waits for, and never blocks,
the server's reads and writes.

After a big removal (`reclaim`), the pages it freed go back to the disk: the
database is in incremental auto-vacuum mode, and this thread vacuums
RECLAIM_STEP pages at a time (each a short write the server's own writes
wait for, ~30 ms), then checkpoints and truncates the WAL the vacuum filled.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

#: pages (4 KB) given back to the disk at a time after a big removal
RECLAIM_STEP = 1024


class Checkpointer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._kick = threading.Event()
        self._stop = False
        self._reclaim = False
        self.reclaimed = threading.Event()      # (set once a reclaim has been done)
        self._thread = threading.Thread(target=self._run, name="wq-checkpointer", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Checkpoint soon."""
        self._kick.set()

    def reclaim(self) -> None:
        """Give the database's free pages back to the disk soon."""
        self._reclaim = True
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
                    if self._reclaim:
                        self._reclaim = False
                        give_back(db)
                        self.reclaimed.set()
                    else:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:          # busy, or the disk: next time
                    log.warning("checkpointing the database failed: %s", exc)
        finally:
            db.close()


def give_back(db: sqlite3.Connection) -> None:
    """Give the database's free pages back to the disk, RECLAIM_STEP at a time,
    then fold the WAL into it and truncate the WAL."""
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    while free:
        # (execute() would free a single page: a pragma's statement is run one
        # step at a time, and this one frees a page a step)
        db.executescript(f"PRAGMA incremental_vacuum({RECLAIM_STEP});")
        left = db.execute("PRAGMA freelist_count").fetchone()[0]
        if left >= free:
            break                  # (not in incremental mode: nothing to give back)
        free = left
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
