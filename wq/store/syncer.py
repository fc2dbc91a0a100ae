"""Group commit: making commits durable from a thread of their own.

The server's store commits with `synchronous=NORMAL` (WAL mode): a commit
writes its pages to the WAL and returns without an fsync, which would hold the
event loop 3-17 ms on an ordinary disk once per turn. This thread then fsyncs
the WAL: one fsync covers every commit made before it started, so commits
made while one runs share the next (a group commit). Whoever must tell
somebody of a commit waits for its generation to be synced (the runner's
`durable`), so what anyone hears of survives a power loss, as with
`synchronous=FULL`, but the event loop never waits on the disk.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: seconds between two fsyncs at most: under load, the commits of this long
#: share one (an fsync and the wake-ups around it cost ~0.3 ms of CPU here)
GATHER = 0.002


class Syncer:
    """fsyncs `path`-wal after commits; `on_synced(generation)` is called from the
    thread once every commit up to that generation is on disk."""

    def __init__(self, path: str, on_synced: Callable[[int], None], generation: int = 0
                 ) -> None:
        self.wal = path + "-wal"
        self.on_synced = on_synced
        self.written = self.synced = generation     # one generation per commit
        self._fd: int | None = None
        self._stop = False
        self._idle = False       # the thread waits for a commit (under _cond)
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="wq-syncer", daemon=True)
        self._thread.start()

    def wrote(self) -> int:
        """A commit was made: returns its generation (synced soon). The thread is
        woken only when it waits (Condition.notify was 5% of the server's CPU):
        otherwise it looks at `written` again once its fsync is done."""
        with self._cond:
            self.written += 1
            if self._idle:
                self._cond.notify()
            return self.written

    def stop(self) -> None:
        """Sync what is left, then end the thread."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(60)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _run(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                while self.written == self.synced and not self._stop:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if self.written == self.synced:
                    return
            if not self._stop:
                time.sleep(max(0.0, last + GATHER - time.monotonic()))
            with self._cond:
                upto = self.written
            last = time.monotonic()
            self._sync()
            with self._cond:
                self.synced = upto
            self.on_synced(upto)

    def _sync(self) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(self.wal, os.O_RDONLY)
            os.fsync(self._fd)
        except OSError as exc:
            # nothing better to do than say so: the data is written, but whether
            # it would survive a power loss is not known
            log.error("cannot sync the database's log %s: %s", self.wal, exc)
