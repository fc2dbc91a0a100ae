"""Store: every accepted job and every state change, committed before anyone is told.

Holds no business rules: callers decide, the store records. Each transition is
one transaction writing the job row and an event row.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import Iterable
from typing import Any

from wq import codec
from wq.errors import WqError
from wq.model import Job, JobId, JobSpec, JobState, Limits
from wq.store.schema import MIGRATIONS

_COLUMNS = "id, user, state, spec, submitted, started, ended, placement, exit_code, reason, instance"


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise WqError(f"{path}: cannot open the wq database: {exc}") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise WqError(f"{self.path}: the database is from a newer wq (schema {version}); "
                          "upgrade wq")
        for number, ddl in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN IMMEDIATE; {ddl}; PRAGMA user_version={number}; COMMIT;")

    def _txn(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- metadata ---------------------------------------------------------------

    def server_id(self) -> str:
        """A stable id for this state: it names the job directories on the nodes."""
        row = self.db.execute("SELECT value FROM meta WHERE key='server_id'").fetchone()
        if row:
            return str(row[0])
        sid = uuid.uuid4().hex[:12]
        with self._txn():
            self.db.execute("INSERT INTO meta (key, value) VALUES ('server_id', ?)", (sid,))
        return sid

    # -- jobs ---------------------------------------------------------------------

    def add_job(self, user: str, spec: JobSpec, now: float) -> Job:
        spec_json = json.dumps(codec.spec_to_dict(spec))
        with self._txn():
            cur = self.db.execute(
                "INSERT INTO jobs (user, state, spec, submitted) VALUES (?, ?, ?, ?)",
                (user, JobState.WAITING.value, spec_json, now))
            job_id = JobId(int(cur.lastrowid or 0))
            self._event(job_id, now, "submitted", user)
        return Job(id=job_id, user=user, spec=spec, state=JobState.WAITING, submitted=now)

    def update(self, job: Job, now: float, event: str, detail: str = "") -> None:
        """Record a job's new fields (state, times, placement, ...) and the event."""
        with self._txn():
            self.db.execute(
                "UPDATE jobs SET state=?, started=?, ended=?, placement=?, exit_code=?, "
                "reason=?, instance=? WHERE id=?",
                (job.state.value, job.started, job.ended,
                 _json(codec.placement_to_list(job.placement)), job.exit_code, job.reason,
                 job.instance, job.id))
            self._event(job.id, now, event, detail)

    def _event(self, job_id: JobId | None, now: float, kind: str, detail: str) -> None:
        self.db.execute("INSERT INTO events (job_id, time, kind, detail) VALUES (?, ?, ?, ?)",
                        (job_id, now, kind, detail))

    def get(self, job_id: int) -> Job | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, states: Iterable[JobState] | None = None, user: str | None = None,
             limit: int | None = None) -> list[Job]:
        sql, args = f"SELECT {_COLUMNS} FROM jobs WHERE 1=1", list[Any]()
        if states is not None:
            values = [s.value for s in states]
            sql += f" AND state IN ({','.join('?' * len(values))})"
            args.extend(values)
        if user is not None:
            sql += " AND user=?"
            args.append(user)
        sql += " ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql.replace('ORDER BY id', 'ORDER BY id DESC')} LIMIT ?) " \
                  "ORDER BY id"
            args.append(limit)
        return [_job(r) for r in self.db.execute(sql, args)]

    def events(self, job_id: int) -> list[tuple[float, str, str]]:
        return [(float(t), str(k), str(d)) for t, k, d in self.db.execute(
            "SELECT time, kind, detail FROM events WHERE job_id=? ORDER BY id", (job_id,))]

    # -- nodes and limits -------------------------------------------------------

    def offline_hosts(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM nodes WHERE offline=1")}

    def set_offline(self, names: Iterable[str], offline: bool, now: float) -> None:
        with self._txn():
            for name in names:
                self.db.execute("INSERT INTO nodes (name, offline) VALUES (?, ?) "
                                "ON CONFLICT(name) DO UPDATE SET offline=excluded.offline",
                                (name, int(offline)))
                self._event(None, now, "offline" if offline else "online", name)

    def limits(self) -> dict[str, Limits]:
        return {u: Limits(j, c) for u, j, c in self.db.execute(
            "SELECT user, jobs, cores FROM limits")}

    def set_limits(self, user: str, limits: Limits, now: float) -> None:
        with self._txn():
            if limits == Limits():
                self.db.execute("DELETE FROM limits WHERE user=?", (user,))
            else:
                self.db.execute("INSERT INTO limits (user, jobs, cores) VALUES (?, ?, ?) "
                                "ON CONFLICT(user) DO UPDATE SET jobs=excluded.jobs, "
                                "cores=excluded.cores", (user, limits.jobs, limits.cores))
            self._event(None, now, "limits", f"{user} {dataclasses.asdict(limits)}")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _job(row: tuple[Any, ...]) -> Job:
    (job_id, user, state, spec, submitted, started, ended, placement, exit_code, reason,
     instance) = row
    return Job(id=JobId(job_id), user=user, spec=codec.spec_from_dict(json.loads(spec),
                                                                     source="database"),
               state=JobState(state), submitted=submitted, started=started, ended=ended,
               placement=codec.placement_from_list(json.loads(placement) if placement else None),
               exit_code=exit_code, reason=reason, instance=instance)
