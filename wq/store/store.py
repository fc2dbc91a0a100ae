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
from wq.model import Instance, Job, JobId, JobSpec, JobState, Limits
from wq.store.schema import MIGRATIONS

_COLUMNS = ("id, user, state, spec, submitted, started, ended, placement, exit_code, reason, "
            "instance, crashes, failures, avoid")
_INSTANCE_COLUMNS = ("job_id, number, placement, started, ended, outcome, exit_code, detail, "
                     "boot_id, settled")


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._depth = 0          # open transactions: 0 none, 1 begin(), more nested
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
        return _Transaction(self)

    def begin(self) -> None:
        """Open a transaction that every write joins until commit(): many
        transitions, one fsync. Their callers must tell no one before commit()."""
        if not self.in_batch:
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1

    def commit(self) -> None:
        if self.in_batch:
            self._depth = 0
            self.db.execute("COMMIT")

    @property
    def in_batch(self) -> bool:
        return self._depth > 0

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

    def update(self, job: Job, now: float, event: str, detail: str = "",
               instance: Instance | None = None) -> None:
        """Record a job's new fields (state, times, placement, ...), the event, and
        the instance it concerns, in one transaction."""
        with self._txn():
            self.db.execute(
                "UPDATE jobs SET state=?, started=?, ended=?, placement=?, exit_code=?, "
                "reason=?, instance=?, crashes=?, failures=?, avoid=? WHERE id=?",
                (job.state.value, job.started, job.ended,
                 _json(codec.placement_to_list(job.placement)), job.exit_code, job.reason,
                 job.instance, job.crashes, job.failures, ",".join(job.avoid), job.id))
            self._event(job.id, now, event, detail)
            if instance is not None:
                self._put_instance(instance)

    def _put_instance(self, i: Instance) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO instances (host, {_INSTANCE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i.host, i.job_id, i.number, _json(codec.placement_to_list(i.placement)),
             i.started, i.ended, i.outcome, i.exit_code, i.detail, i.boot_id, int(i.settled)))

    def settle(self, instance: Instance, now: float, event: str, detail: str) -> None:
        """Record what became of an instance lost with its host."""
        with self._txn():
            self._put_instance(instance)
            self._event(instance.job_id, now, event, detail)

    def instances(self, job_id: int) -> list[Instance]:
        return [_instance(r) for r in self.db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE job_id=? ORDER BY number",
            (job_id,))]

    def instance(self, job_id: int, number: int) -> Instance | None:
        row = self.db.execute(f"SELECT {_INSTANCE_COLUMNS} FROM instances "
                              "WHERE job_id=? AND number=?", (job_id, number)).fetchone()
        return _instance(row) if row else None

    def unsettled(self, host: str) -> list[Instance]:
        """Instances lost with `host` whose fate is not yet known."""
        return [_instance(r) for r in self.db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE settled=0 AND host=? "
            "ORDER BY job_id, number", (host,))]

    def prune(self, ended_before: float,
              states: Iterable[JobState]) -> tuple[int, list[Instance]]:
        """Forget finished jobs that ended before `ended_before`, with their events and
        instances; returns how many jobs, and their instances (whose directories on
        the nodes can go)."""
        values = [s.value for s in states if s.final]
        if not values:
            return 0, []
        marks = ",".join("?" * len(values))
        with self._txn():
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM doomed")
            self.db.execute(f"INSERT INTO doomed SELECT id FROM jobs WHERE state IN ({marks}) "
                            "AND ended < ?", (*values, ended_before))
            gone = [_instance(r) for r in self.db.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances "
                "WHERE job_id IN (SELECT id FROM doomed)")]
            for table, column in (("instances", "job_id"), ("events", "job_id"),
                                  ("jobs", "id")):
                self.db.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM doomed)")
            count = self.db.execute("SELECT count(*) FROM doomed").fetchone()[0]
            self.db.execute("DELETE FROM doomed")
        return int(count), gone

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

    def offline_hosts(self) -> dict[str, str]:
        """Hosts taken offline, with why (empty when by `wq node offline`)."""
        return {str(n): str(r) for n, r in self.db.execute(
            "SELECT name, reason FROM nodes WHERE offline=1")}

    def set_offline(self, names: Iterable[str], offline: bool, now: float,
                    reason: str = "") -> None:
        with self._txn():
            for name in names:
                self.db.execute("INSERT INTO nodes (name, offline, reason) VALUES (?, ?, ?) "
                                "ON CONFLICT(name) DO UPDATE SET offline=excluded.offline, "
                                "reason=excluded.reason", (name, int(offline), reason))
                self._event(None, now, "offline" if offline else "online",
                            f"{name}: {reason}" if reason else name)

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
    """One write: its own transaction, or a part of the one begin() opened."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        if self.store._depth == 0:
            self.store.db.execute("BEGIN IMMEDIATE")
        self.store._depth += 1

    def __exit__(self, kind: object, *_: object) -> None:
        self.store._depth -= 1
        if kind is not None:           # a failed write undoes the whole transaction
            self.store._depth = 0
            self.store.db.execute("ROLLBACK")
        elif self.store._depth == 0:
            self.store.db.execute("COMMIT")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _instance(row: tuple[Any, ...]) -> Instance:
    job_id, number, placement, started, ended, outcome, exit_code, detail, boot, settled = row
    where = codec.placement_from_list(json.loads(placement) if placement else None)
    return Instance(job_id=JobId(job_id), number=number,
                    hosts=where.hosts if where else (), placement=where, started=started,
                    ended=ended, outcome=outcome, exit_code=exit_code, detail=detail,
                    boot_id=boot, settled=bool(settled))


def _job(row: tuple[Any, ...]) -> Job:
    (job_id, user, state, spec, submitted, started, ended, placement, exit_code, reason,
     instance, crashes, failures, avoid) = row
    return Job(id=JobId(job_id), user=user, spec=codec.spec_from_dict(json.loads(spec),
                                                                     source="database"),
               state=JobState(state), submitted=submitted, started=started, ended=ended,
               placement=codec.placement_from_list(json.loads(placement) if placement else None),
               exit_code=exit_code, reason=reason, instance=instance, crashes=crashes,
               failures=failures, avoid=tuple(a for a in avoid.split(",") if a))
