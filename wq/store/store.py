"""Store: every accepted job and every state change, committed before anyone is told.

Holds no business rules: callers decide, the store records. Each transition is
one transaction writing the job row and an event row.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wq import codec
from wq.errors import WqError
from wq.model import Instance, Job, JobId, JobSpec, JobState, Limits, Placement
from wq.parsing import arrays
from wq.parsing.selectors import Tasks
from wq.store.checkpointer import Checkpointer, give_back
from wq.store.schema import MIGRATIONS
from wq.store.syncer import Syncer

#: row changes after which the WAL is checkpointed (by manual_checkpoints' thread)
CHECKPOINT_CHANGES = 20_000
#: environments whose row id (or content) is kept in memory, the most recent
ENV_CACHE = 4096

_COLUMNS = ("id, user, state, spec, submitted, started, ended, placement, exit_code, reason, "
            "instance, crashes, failures, avoid, number, task, entry, entry_tag, env, held")
_INSTANCE_COLUMNS = ("job_id, number, placement, started, ended, outcome, exit_code, detail, "
                     "boot_id, settled")
#: instances with their job's number and task, which name their node directories, and
#: its user, whose they are on the nodes
_INSTANCES = ("SELECT i.job_id, i.number, i.placement, i.started, i.ended, i.outcome, "
              "i.exit_code, i.detail, i.boot_id, i.settled, j.number, j.task, j.user "
              "FROM instances i LEFT JOIN jobs j ON j.id = i.job_id")


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._depth = 0          # open transactions: 0 none, 1 begin(), more nested
        self._array_specs: dict[int, JobSpec] = {}
        self._env_ids: dict[codec.Env, int] = {}         # environments' rows (envs.id)
        self._envs: dict[int, codec.Env] = {}           # and back
        self._checkpointer: Checkpointer | None = None
        self._syncer: Syncer | None = None
        self._changes = 0
        self.generation = 0      # commits so far (what a Syncer counts)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._incremental_vacuum()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise WqError(f"{path}: cannot open the wq database: {exc}") from None

    def _incremental_vacuum(self) -> None:
        """Pages freed by removals can be given back to the disk (`reclaim`): set
        before anything is written in a new database; an older one is rewritten
        once (VACUUM: seconds for a big one, at the start of a server)."""
        if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            self.db.execute("VACUUM")

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
            self._committed()

    def _committed(self) -> None:
        self.generation = self._syncer.wrote() if self._syncer is not None \
            else self.generation + 1
        if self._checkpointer is not None \
                and self.db.total_changes - self._changes >= CHECKPOINT_CHANGES:
            self._changes = self.db.total_changes
            self._checkpointer.kick()

    def manual_checkpoints(self) -> None:
        """Never checkpoint inside a commit: a thread of its own does it, after
        every CHECKPOINT_CHANGES row changes (until close())."""
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = Checkpointer(self.path)
        self._changes = self.db.total_changes

    def sync_in_background(self, on_synced: Callable[[int], None] | None) -> None:
        """Commit without an fsync (synchronous=NORMAL) from now on. With
        `on_synced`, a thread of its own fsyncs after commits (a group commit) and
        calls it with the generation that is then on disk; without, nothing
        waits for the disk and a power loss may cost the last commits."""
        self.db.execute("PRAGMA synchronous=NORMAL")
        if on_synced is not None:
            self._syncer = Syncer(self.path, on_synced, self.generation)

    @property
    def syncing(self) -> bool:
        """Commits become durable later, from the syncer's thread."""
        return self._syncer is not None

    def reclaim(self) -> None:
        """After a big removal: give the pages it freed back to the disk, from the
        checkpointer's thread (here, without one), and the WAL's space too."""
        if self._checkpointer is not None:
            self._checkpointer.reclaim()
        elif not self.in_batch:
            give_back(self.db)

    @property
    def in_batch(self) -> bool:
        return self._depth > 0

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.stop()
        if self._checkpointer is not None:
            self._checkpointer.stop()
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

    def _take_numbers(self, count: int = 1) -> int:
        """The first of the next `count` ids users see (jobs and arrays count
        together, never reused). Inside a transaction."""
        first = int(self.db.execute(
            "SELECT value FROM meta WHERE key='last_number'").fetchone()[0]) + 1
        self.db.execute("UPDATE meta SET value=? WHERE key='last_number'",
                        (str(first + count - 1),))
        return first

    def _take_ids(self, count: int) -> int:
        """The first of the next `count` rows' ids in `jobs`, reserved (rows are
        then inserted with their ids). Inside a transaction."""
        first = int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM jobs").fetchone()[0])
        seq = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name='jobs'").fetchone()
        first = max(first, int(seq[0]) + 1 if seq else 1)
        if seq:
            self.db.execute("UPDATE sqlite_sequence SET seq=? WHERE name='jobs'",
                            (first + count - 1,))
        else:
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)",
                            (first + count - 1,))
        return first

    def add_job(self, user: str, spec: JobSpec, now: float, held: bool = False) -> Job:
        """A separate job (`held`: it waits until released)."""
        return self.add_jobs(user, [spec], now, held=held)[0]

    def add_jobs(self, user: str, specs: list[JobSpec], now: float,
                 batch: int | None = None, held: bool = False) -> list[Job]:
        """Many separate jobs, in one transaction (of an open `batch`, if given:
        see open_batch)."""
        if not specs:
            return []
        with self._txn():
            rows = [(json.dumps(codec.spec_to_dict(spec, env=False)), self._env_id(spec.env))
                    for spec in specs]
            number, first = self._take_numbers(len(specs)), self._take_ids(len(specs))
            self.db.executemany(
                "INSERT INTO jobs (id, user, state, spec, submitted, number, env, batch, held) "
                "VALUES (?, ?, 'waiting', ?, ?, ?, ?, ?, ?)",
                ((first + k, user, text, now, number + k, env, batch, held)
                 for k, (text, env) in enumerate(rows)))
            self.db.executemany(
                "INSERT INTO events (job_id, time, kind, detail) VALUES (?, ?, 'submitted', ?)",
                ((first + k, now, user) for k in range(len(specs))))
        waiting = JobState.WAITING
        return [Job(JobId(first + k), user, spec, waiting, now, number=number + k, held=held)
                for k, spec in enumerate(specs)]

    def open_batch(self) -> int:
        """Start accepting separate jobs over several transactions (add_jobs with
        the batch returned, then close_batch). Until it is closed, forget_batches()
        drops its jobs."""
        with self._txn():
            return int(self.db.execute("INSERT INTO batches DEFAULT VALUES").lastrowid or 0)

    def close_batch(self, batch: int) -> None:
        """The batch's jobs are all in: they are accepted."""
        with self._txn():
            self.db.execute("DELETE FROM batches WHERE id=?", (batch,))

    def forget_batches(self, batch: int | None = None) -> int:
        """Drop the jobs of batches whose acceptance was cut short (the server
        stopped, or the client went, before it was answered, so nobody was told of
        them): batch `batch`, or all of them; returns how many jobs."""
        batches = [batch] if batch is not None else [
            int(b) for b, in self.db.execute("SELECT id FROM batches")]
        gone = 0
        if batches:
            with self._txn():
                self._unused()
                for b in batches:
                    self.db.execute("INSERT OR IGNORE INTO unused SELECT DISTINCT env FROM jobs "
                                    "WHERE batch=? AND env IS NOT NULL", (b,))
                    self.db.execute("DELETE FROM events WHERE job_id IN "
                                    "(SELECT id FROM jobs WHERE batch=?)", (b,))
                    gone += self.db.execute("DELETE FROM jobs WHERE batch=?", (b,)).rowcount
                    self.db.execute("DELETE FROM batches WHERE id=?", (b,))
                self._drop_unused_envs()
        return gone

    def _env_id(self, env: codec.Env) -> int:
        """The row of an environment in `envs`, added if new (by content: a digest)."""
        known = self._env_ids.get(env)
        if known is not None:
            return known
        text = json.dumps(dict(env), separators=(",", ":"))
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        row = self.db.execute("SELECT id FROM envs WHERE digest=?", (digest,)).fetchone()
        if row is None:
            with self._txn():
                row = (self.db.execute("INSERT INTO envs (digest, env) VALUES (?, ?)",
                                       (digest, text)).lastrowid,)
        if len(self._env_ids) >= ENV_CACHE:
            self._env_ids.clear()
        self._env_ids[env] = int(row[0])
        return int(row[0])

    def _env(self, env_id: int) -> codec.Env:
        """An environment by its row in `envs` (read, and checked, once)."""
        env = self._envs.get(env_id)
        if env is None:
            row = self.db.execute("SELECT env FROM envs WHERE id=?", (env_id,)).fetchone()
            env = codec.env_from_dict(json.loads(row[0]) if row is not None else {},
                                      source="database")
            if len(self._envs) >= ENV_CACHE:
                self._envs.clear()
            self._envs[env_id] = env
        return env

    def _unused(self) -> None:
        """The temp table of environments that deleting jobs may leave unused."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS unused (id INTEGER PRIMARY KEY)")

    def _drop_unused_envs(self) -> None:
        """Forget the environments no job or array names any more, of those in the
        temp table `unused` (put there before their jobs were deleted; emptied)."""
        dropped = self.db.execute(
            "DELETE FROM envs WHERE id IN (SELECT id FROM unused) "
            "AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.env = envs.id) "
            "AND NOT EXISTS (SELECT 1 FROM arrays WHERE arrays.env = envs.id)").rowcount
        self.db.execute("DELETE FROM unused")
        if dropped:
            self._forget_envs()

    def _forget_envs(self) -> None:
        """The environments' rows may have changed (a rollback, a deletion)."""
        self._env_ids.clear()
        self._envs.clear()

    def add_array(self, user: str, spec: JobSpec, now: float,
                  tasks: list[tuple[int, str | None]], throttle: int | None) -> list[Job]:
        """An array of tasks (index, entry) sharing one spec, in one transaction."""
        with self._txn():
            array = self.open_array(user, spec, now, len(tasks), throttle)
            jobs = self.add_tasks(array, tasks)
            self.close_array(array)
        return jobs

    def open_array(self, user: str, spec: JobSpec, now: float, count: int,
                   throttle: int | None, held: bool = False) -> NewArray:
        """Start accepting an array of `count` tasks (add_tasks, then close_array):
        its number is taken and its tasks' ids reserved. Until it is closed it is
        incomplete, and forget_incomplete() drops it. An array of sbatch's takes a
        number for each of its indices: Slurm gives each task a job id of its own
        (onnode.slurm_number)."""
        spec_json = json.dumps(codec.spec_to_dict(spec, env=False))
        shape = spec.slurm
        numbers = 1 if shape is None or shape.array is None else arrays.count(shape.array)
        with self._txn():
            number = self._take_numbers(numbers)
            self.db.execute("INSERT INTO arrays (number, user, spec, submitted, tasks, throttle, "
                            "complete, env) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                            (number, user, spec_json, now, count, throttle,
                             self._env_id(spec.env)))
            first = self._take_ids(count)
        self._array_specs[number] = spec
        return NewArray(number, first, user, spec, now, count, held=held)

    def add_tasks(self, array: NewArray, tasks: list[tuple[int, str | None]],
                  tags: list[str] | None = None) -> list[Job]:
        """The next tasks (index, entry) of an array being accepted, with their
        entries' tags (in a lab)."""
        first, user, now, number = array.first + array.added, array.user, array.now, \
            array.number
        marks: list[str | None] = list(tags) if tags is not None else [None] * len(tasks)
        with self._txn():
            self.db.executemany(
                "INSERT INTO jobs (id, user, state, spec, submitted, number, task, entry, "
                "entry_tag, held) VALUES (?, ?, 'waiting', '', ?, ?, ?, ?, ?, ?)",
                ((first + k, user, now, number, task, entry, marks[k], array.held)
                 for k, (task, entry) in enumerate(tasks)))
        array.added += len(tasks)
        spec, waiting, held = array.spec, JobState.WAITING, array.held
        return [Job(JobId(first + k), user, spec, waiting, now, None, None, None, None, "", 0,
                    0, 0, (), number, task, entry, marks[k], held)
                for k, (task, entry) in enumerate(tasks)]

    def close_array(self, array: NewArray) -> None:
        """The array's tasks are all in: it is accepted."""
        if array.added != array.count:
            raise ValueError(f"array {array.number}: {array.added} of {array.count} tasks added")
        with self._txn():
            self.db.execute("UPDATE arrays SET complete=1 WHERE number=?", (array.number,))
            self._event(None, array.now, "array",
                        f"{array.number}: {array.count} tasks by {array.user}")

    def forget_incomplete(self, number: int | None = None) -> list[int]:
        """Drop arrays whose acceptance was cut short (the server stopped, or failed,
        before it answered, so nobody was told of them): array `number`, or all of
        them; returns their numbers."""
        if number is None:
            numbers = [int(n) for n, in self.db.execute(
                "SELECT number FROM arrays WHERE complete=0")]
        else:
            numbers = [number]
        if numbers:
            with self._txn():
                self._unused()
                for n in numbers:
                    self.db.execute("INSERT OR IGNORE INTO unused SELECT env FROM arrays WHERE "
                                    "number=? AND complete=0 AND env IS NOT NULL", (n,))
                    self.db.execute("DELETE FROM jobs WHERE number=?", (n,))
                    self.db.execute("DELETE FROM arrays WHERE number=? AND complete=0", (n,))
                self._drop_unused_envs()
        return numbers

    def throttles(self) -> dict[int, int]:
        """Throttled arrays with tasks still waiting or running: number -> throttle."""
        return {int(n): int(t) for n, t in self.db.execute(
            "SELECT number, throttle FROM arrays WHERE throttle IS NOT NULL AND number IN "
            "(SELECT number FROM jobs WHERE state IN ('waiting', 'running'))")}

    def update(self, job: Job, now: float, event: str, detail: str = "",
               instance: Instance | None = None) -> None:
        """Record a job's new fields (state, times, placement, ...), the event, and
        the instance it concerns, in one transaction. A move the model's transition
        table forbids is refused (IllegalTransition) before anything is written."""
        allowed = _FROM[job.state]
        with self._txn():
            done = self.db.execute(
                "UPDATE jobs SET state=?, started=?, ended=?, placement=?, exit_code=?, "
                "reason=?, instance=?, crashes=?, failures=?, avoid=?, held=? WHERE id=? AND "
                f"state IN ({','.join('?' * len(allowed))})",
                (job.state.value, job.started, job.ended,
                 _placement_json(job.placement), job.exit_code, job.reason,
                 job.instance, job.crashes, job.failures, ",".join(job.avoid), job.held, job.id,
                 *allowed))
            if done.rowcount != 1:              # nothing was written: nothing to undo
                self._check_moves([job.id], job.state)
                raise IllegalTransition(f"job {job.id} is not in the store")
            self._event(job.id, now, event, detail)
            if instance is not None:
                self._put_instance(instance)

    def update_many(self, ids: list[JobId], state: JobState, ended: float | None,
                    reason: str, now: float, event: str) -> None:
        """Many jobs move to one state, with one event each (an array cancelled)."""
        self._check_moves(ids, state)
        with self._txn():
            self.db.executemany("UPDATE jobs SET state=?, ended=?, reason=? WHERE id=?",
                                ((state.value, ended, reason, i) for i in ids))
            self.db.executemany(
                "INSERT INTO events (job_id, time, kind, detail) VALUES (?, ?, ?, ?)",
                ((i, now, event, reason) for i in ids))

    def set_held(self, ids: list[JobId], held: bool, now: float, detail: str) -> None:
        """Waiting jobs are held (wq hold) or released, with an event each."""
        event = "held" if held else "released"
        with self._txn():
            self.db.executemany("UPDATE jobs SET held=? WHERE id=? AND state='waiting'",
                                ((held, i) for i in ids))
            self.db.executemany(
                "INSERT INTO events (job_id, time, kind, detail) VALUES (?, ?, ?, ?)",
                ((i, now, event, detail) for i in ids))

    def set_spec(self, job: Job, spec: JobSpec, now: float, detail: str) -> None:
        """A job's spec changes (wq update), an array's for all its tasks, with an
        event (an array's: on its first task)."""
        text = json.dumps(codec.spec_to_dict(spec, env=False))
        with self._txn():
            env = self._env_id(spec.env)
            if job.task is None:
                self.db.execute("UPDATE jobs SET spec=?, env=? WHERE id=?", (text, env, job.id))
            else:
                self.db.execute("UPDATE arrays SET spec=?, env=? WHERE number=?",
                                (text, env, job.number))
                self._array_specs[job.number] = spec
            self._event(job.id, now, "updated", detail)

    def _check_moves(self, ids: list[JobId], new: JobState) -> None:
        allowed = _FROM[new]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            row = self.db.execute(
                f"SELECT id, state FROM jobs WHERE id IN ({marks}) AND state NOT IN "
                f"({','.join('?' * len(allowed))}) LIMIT 1", (*chunk, *allowed)).fetchone()
            if row is not None:
                raise IllegalTransition(f"job {row[0]} cannot go from {row[1]} to "
                                        f"{new.value}")

    def _put_instance(self, i: Instance) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO instances (host, {_INSTANCE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i.host, i.job_id, i.number, _placement_json(i.placement),
             i.started, i.ended, i.outcome, i.exit_code, i.detail, i.boot_id, int(i.settled)))

    def settle(self, instance: Instance, now: float, event: str, detail: str) -> None:
        """Record what became of an instance lost with its host."""
        with self._txn():
            self._put_instance(instance)
            self._event(instance.job_id, now, event, detail)

    def instances(self, job_id: int) -> list[Instance]:
        return [_instance(r) for r in self.db.execute(
            f"{_INSTANCES} WHERE i.job_id=? ORDER BY i.number", (job_id,))]

    def instance(self, job_id: int, number: int) -> Instance | None:
        row = self.db.execute(f"{_INSTANCES} WHERE i.job_id=? AND i.number=?",
                              (job_id, number)).fetchone()
        return _instance(row) if row else None

    def unsettled(self, host: str) -> list[Instance]:
        """Instances lost with `host` whose fate is not yet known."""
        return [_instance(r) for r in self.db.execute(
            f"{_INSTANCES} WHERE i.settled=0 AND i.host=? ORDER BY i.job_id, i.number",
            (host,))]

    def prune(self, ended_before: float, states: Iterable[JobState],
              limit: int | None = None, keep: Iterable[int] = (),
              user: str | None = None) -> tuple[int, list[Instance]]:
        """Forget finished jobs that ended before `ended_before` (at most `limit` of
        them: call again while it returns `limit`), with their events and instances,
        but not those of the numbers in `keep` (and, given `user`, only theirs);
        returns how many jobs, and their instances (whose directories on the nodes
        can go)."""
        values = [s.value for s in states if s.final]
        if not values:
            return 0, []
        marks = ",".join("?" * len(values))
        with self._txn():
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM doomed")
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS kept (number INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM kept")
            self.db.executemany("INSERT INTO kept VALUES (?)", ((n,) for n in set(keep)))
            whose = "" if user is None else "AND user = ? "
            self.db.execute(f"INSERT INTO doomed SELECT id FROM jobs WHERE state IN ({marks}) "
                            f"AND ended < ? {whose}AND number NOT IN (SELECT number FROM kept) "
                            "LIMIT ?", (*values, ended_before, *([] if user is None else [user]),
                                        limit or -1))
            gone = [_instance(r) for r in self.db.execute(
                f"{_INSTANCES} WHERE i.job_id IN (SELECT id FROM doomed)")]
            self._unused()
            self.db.execute("INSERT OR IGNORE INTO unused SELECT DISTINCT env FROM jobs "
                            "WHERE id IN (SELECT id FROM doomed) AND env IS NOT NULL")
            for table, column in (("instances", "job_id"), ("events", "job_id"),
                                  ("jobs", "id")):
                self.db.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM doomed)")
            count = int(self.db.execute("SELECT count(*) FROM doomed").fetchone()[0])
            if limit is None or count < limit:          # the last step: arrays left empty
                self.db.execute("INSERT OR IGNORE INTO unused SELECT env FROM arrays WHERE "
                                "number NOT IN (SELECT DISTINCT number FROM jobs) AND "
                                "env IS NOT NULL")
                self.db.execute("DELETE FROM arrays WHERE number NOT IN "
                                "(SELECT DISTINCT number FROM jobs)")
            self._drop_unused_envs()
            self.db.execute("DELETE FROM doomed")
        return count, gone

    def _event(self, job_id: JobId | None, now: float, kind: str, detail: str) -> None:
        self.db.execute("INSERT INTO events (job_id, time, kind, detail) VALUES (?, ?, ?, ?)",
                        (job_id, now, kind, detail))

    def get(self, job_id: int) -> Job | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def select(self, first: int, last: int, tasks: Tasks = None,
               user: str | None = None, limit: int | None = None) -> list[Job]:
        """Jobs numbered first..last (only tasks within the ranges `tasks`, when
        given), the first `limit` of them when given."""
        return list(self.selecting(first, last, tasks, user, limit))

    def selecting(self, first: int, last: int, tasks: Tasks = None,
                  user: str | None = None, limit: int | None = None) -> Iterator[Job]:
        """select, a row at a time as they are taken (by the jobs_by_number index:
        what is not taken is not read)."""
        sql, args = self._selection(first, last, tasks, user)
        sql += " ORDER BY number, task"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return (self._job(r) for r in self.db.execute(sql, args))

    def heads(self, first: int, last: int, tasks: Tasks = None,
              user: str | None = None) -> Iterator[Job]:
        """The first of each job or array numbered first..last (an array: its first
        task within `tasks`), one indexed lookup each: an array of a million tasks
        costs what a job does."""
        sql, args = self._selection(first, last, tasks, user)
        sql += " ORDER BY number, task LIMIT 1"
        while first <= last:
            args[0] = first
            row = self.db.execute(sql, args).fetchone()
            if row is None:
                return
            job = self._job(row)
            yield job
            first = job.number_shown + 1

    def counts_in(self, number: int, tasks: Tasks = None
                  ) -> tuple[dict[str, int], float | None]:
        """How many of array `number`'s tasks (within `tasks`) are in each state,
        and when the first of them started."""
        sql, args = _tasks("SELECT state, count(*), MIN(started) FROM jobs WHERE number=?",
                           [number], tasks)
        counts, first = {}, None
        for state, count, started in self.db.execute(sql + " GROUP BY state", args):
            counts[str(state)] = int(count)
            if started is not None and (first is None or started < first):
                first = float(started)
        return counts, first

    @staticmethod
    def _selection(first: int, last: int, tasks: Tasks,
                   user: str | None) -> tuple[str, list[Any]]:
        sql, args = _tasks(f"SELECT {_COLUMNS} FROM jobs WHERE number BETWEEN ? AND ?",
                           [first, last], tasks)
        if user is not None:
            sql += " AND user=?"
            args.append(user)
        return sql, args

    def first_of(self, number: int) -> Job | None:
        """Job `number`, or the first task of array `number`."""
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE number=? "
                              "ORDER BY task LIMIT 1", (number,)).fetchone()
        return self._job(row) if row else None

    def slurm_alias(self, number: int) -> tuple[int, int] | None:
        """The (array, task) whose Slurm job id is `number`, when no job has that
        number and it is one an array of sbatch's took (open_array)."""
        if self.db.execute("SELECT 1 FROM jobs WHERE number=? LIMIT 1", (number,)).fetchone():
            return None
        row = self.db.execute("SELECT number, spec, env FROM arrays WHERE number < ? "
                              "ORDER BY number DESC LIMIT 1", (number,)).fetchone()
        if row is None:
            return None
        first = int(row[0])
        if first not in self._array_specs:
            self._array_specs[first] = self._spec(row[1], row[2])
        shape = self._array_specs[first].slurm
        task = None if shape is None or shape.array is None else \
            arrays.task_of(first, shape.array, number)
        return None if task is None else (first, task)

    def last_number(self, user: str) -> int | None:
        """The number of `user`'s most recent job or array."""
        row = self.db.execute("SELECT MAX(number) FROM jobs WHERE user=?", (user,)).fetchone()
        return None if row[0] is None else int(row[0])

    def array_counts(self, states: Iterable[JobState], user: str | None = None,
                     limit: int = 1000) -> dict[int, dict[str, int]]:
        """Per array (the `limit` most recent with tasks in `states`), how many tasks
        are in each of those states."""
        values = [s.value for s in states]
        marks = ",".join("?" * len(values))
        where = f"task IS NOT NULL AND state IN ({marks})" + (" AND user=?" if user else "")
        args: list[Any] = [*values, *([user] if user else [])]
        out: dict[int, dict[str, int]] = {}
        for number, state, count in self.db.execute(
                f"SELECT number, state, count(*) FROM jobs WHERE {where} AND number IN "
                f"(SELECT DISTINCT number FROM jobs WHERE {where} ORDER BY number DESC "
                "LIMIT ?) GROUP BY number, state", [*args, *args, limit]):
            out.setdefault(int(number), {})[str(state)] = int(count)
        return out

    def states_of(self, number: int, task: int | None = None) -> dict[str, int]:
        """How many of job (or array) `number`'s jobs, or of its task `task`, are in
        each state (what a dependency on it depends on)."""
        return self.counts_in(number, None if task is None else ((task, task),))[0]

    def task_states(self, number: int, low: int, high: int) -> dict[int, str]:
        """The state of each of array `number`'s tasks from `low` to `high`."""
        return {int(task): str(state) for task, state in self.db.execute(
            "SELECT task, state FROM jobs WHERE number=? AND task BETWEEN ? AND ?",
            (number, low, high))}

    def throttle_of(self, number: int) -> int | None:
        row = self.db.execute("SELECT throttle FROM arrays WHERE number=?", (number,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def array_info(self, number: int) -> tuple[int, bool] | None:
        """Array `number`'s task count, and whether all of them are in (None: no
        such array)."""
        row = self.db.execute("SELECT tasks, complete FROM arrays WHERE number=?",
                              (number,)).fetchone()
        return None if row is None else (int(row[0]), bool(row[1]))

    def jobs(self, states: Iterable[JobState] | None = None, user: str | None = None,
             limit: int | None = None, tasks: bool = True,
             ended_since: float | None = None) -> list[Job]:
        """Jobs in `states` (that ended at `ended_since` or later); tasks=False
        leaves arrays' tasks out."""
        sql, args = f"SELECT {_COLUMNS} FROM jobs WHERE 1=1", list[Any]()
        if ended_since is not None:
            sql += " AND ended >= ?"
            args.append(ended_since)
        if not tasks:
            sql += " AND task IS NULL"
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
        return [self._job(r) for r in self.db.execute(sql, args)]

    def waiting_after(self, after: JobId, upto: JobId, limit: int) -> list[Job]:
        """Up to `limit` waiting jobs with ids after `after` and up to `upto`, by id
        (the queue read a page at a time at start)."""
        return [self._job(r) for r in self.db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE state='waiting' AND id > ? AND id <= ? "
            "ORDER BY id LIMIT ?", (after, upto, limit))]

    def count_waiting(self) -> tuple[int, JobId]:
        """How many jobs wait, and the highest id among them (0 if none)."""
        count, last = self.db.execute(
            "SELECT count(*), COALESCE(MAX(id), 0) FROM jobs WHERE state='waiting'").fetchone()
        return int(count), JobId(int(last))

    def _job(self, row: tuple[Any, ...]) -> Job:
        if row[3]:
            spec = self._spec(row[3], row[18])
        else:                                  # an array's task: its array's spec
            number = int(row[14])
            if number not in self._array_specs:
                text, env = self.db.execute("SELECT spec, env FROM arrays WHERE number=?",
                                            (number,)).fetchone()
                self._array_specs[number] = self._spec(text, env)
            spec = self._array_specs[number]
        return _job(row, spec)

    def _spec(self, text: str, env: int | None) -> JobSpec:
        """A spec as stored: with its environment in `envs` (`env`), or, in rows
        from before them, in the spec itself."""
        return codec.spec_from_dict(json.loads(text), source="database",
                                    env=None if env is None else self._env(env))

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


@dataclass(slots=True)
class NewArray:
    """An array being accepted: its number, its tasks' first id, how many are in."""
    number: int
    first: int
    user: str
    spec: JobSpec
    now: float
    count: int
    added: int = 0
    held: bool = False


class IllegalTransition(Exception):
    """A bug: a state change the model's transition table forbids."""


#: the states a job may be in before it enters each state
_FROM = {new: tuple(s.value for s in JobState if s.can_become(new)) for new in JobState}


class _Transaction:
    """One write: its own transaction, or a part of the one begin() opened."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        if self.store._depth == 0:
            self.store.db.execute("BEGIN IMMEDIATE")
        self.store._depth += 1

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.store._depth -= 1
        if kind is not None and not issubclass(kind, IllegalTransition):
            # a failed write undoes the whole transaction (a refused move wrote nothing)
            self.store._depth = 0
            self.store.db.execute("ROLLBACK")
            self.store._forget_envs()
        elif self.store._depth == 0:
            self.store.db.execute("COMMIT")
            self.store._committed()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@functools.lru_cache(maxsize=4096)
def _placement_json(placement: Placement | None) -> str | None:
    """A placement as stored; the same few recur (one per free slot), and each is
    written twice per job (its row and its instance's)."""
    return _json(codec.placement_to_list(placement))


def _instance(row: tuple[Any, ...]) -> Instance:
    (job_id, number, placement, started, ended, outcome, exit_code, detail, boot, settled,
     job_number, task, user) = row
    label = "" if job_number is None else (
        str(job_number) if task is None else f"{job_number}.{task}")
    where = codec.placement_from_list(json.loads(placement) if placement else None)
    return Instance(job_id=JobId(job_id), number=number,
                    hosts=where.hosts if where else (), placement=where, started=started,
                    ended=ended, outcome=outcome, exit_code=exit_code, detail=detail,
                    boot_id=boot, settled=bool(settled), label=label, user=user or "")


_STATES = {s.value: s for s in JobState}


def _tasks(sql: str, args: list[Any], tasks: Tasks) -> tuple[str, list[Any]]:
    """`sql` narrowed to the task ranges `tasks` (None: all)."""
    if tasks is None:
        return sql, args
    sql += " AND (" + " OR ".join("task BETWEEN ? AND ?" for _ in tasks) + ")"
    return sql, args + [bound for pair in tasks for bound in pair]


def _job(row: tuple[Any, ...], spec: JobSpec) -> Job:
    (job_id, user, state, _, submitted, started, ended, placement, exit_code, reason,
     instance, crashes, failures, avoid, number, task, entry, entry_tag, _env, held) = row
    # positional (a quarter faster than keywords: a million waiting tasks load at
    # start), in Job's field order, which tests/store checks
    return Job(JobId(job_id), user, spec, _STATES[state], submitted, started, ended,
               codec.placement_from_list(json.loads(placement)) if placement else None,
               exit_code, reason, instance, crashes, failures,
               tuple(a for a in avoid.split(",") if a) if avoid else (), number, task, entry,
               entry_tag, bool(held))
