"""The database schema, as numbered migrations applied in order (PRAGMA user_version)."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: jobs, their events, node states, per-user limits, and server metadata
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        submitted REAL NOT NULL,
        started REAL,
        ended REAL,
        placement TEXT,
        exit_code INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        instance INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_state ON jobs (state);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        job_id INTEGER,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_by_job ON events (job_id);
    CREATE TABLE nodes (name TEXT PRIMARY KEY, offline INTEGER NOT NULL);
    CREATE TABLE limits (user TEXT PRIMARY KEY, jobs INTEGER, cores INTEGER);
    """,
    # 2: requeue and retry counts, the history of every instance, why a node is offline
    """
    ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN avoid TEXT NOT NULL DEFAULT '';
    CREATE INDEX jobs_by_end ON jobs (ended);
    CREATE TABLE instances (
        job_id INTEGER NOT NULL,
        number INTEGER NOT NULL,
        host TEXT NOT NULL,
        placement TEXT,
        started REAL,
        ended REAL,
        outcome TEXT NOT NULL,
        exit_code INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        boot_id TEXT NOT NULL DEFAULT '',
        settled INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (job_id, number)
    );
    CREATE INDEX instances_unsettled ON instances (host) WHERE settled = 0;
    ALTER TABLE nodes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    """,
    # 3: arrays. `number` is the id users see (a job's own, or its array's); an
    # array's spec is kept once, in `arrays`, and its tasks' rows have spec ''
    """
    ALTER TABLE jobs ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN task INTEGER;
    ALTER TABLE jobs ADD COLUMN entry TEXT;
    UPDATE jobs SET number = id;
    CREATE INDEX jobs_by_number ON jobs (number, task);
    CREATE TABLE arrays (
        number INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        spec TEXT NOT NULL,
        submitted REAL NOT NULL,
        tasks INTEGER NOT NULL,
        throttle INTEGER
    );
    INSERT INTO meta (key, value) SELECT 'last_number',
        COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0);
    """,
    # 4: a big array is accepted a chunk at a time; until its last chunk is in it
    # is not complete, and a server that stopped meanwhile forgets it at start
    """
    ALTER TABLE arrays ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
    """,
    # 5: lab mode: an array entry's tag, its user's HMAC of it (a spec's own
    # signature is kept in its spec)
    """
    ALTER TABLE jobs ADD COLUMN entry_tag TEXT;
    """,
    # 6: environments kept once each, by content (a job's is often 2-4 KB, and the
    # jobs of one shell or one submit_many share it): a job's or an array's `env`
    # names its row, and its spec then holds no env (older rows keep theirs in
    # the spec). Separate jobs accepted over several requests (a big
    # submit_many) carry the `batch` they came in; a batch still in `batches`
    # was cut short, and its jobs are forgotten at start
    """
    CREATE TABLE envs (id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE,
                       env TEXT NOT NULL);
    ALTER TABLE jobs ADD COLUMN env INTEGER;
    ALTER TABLE arrays ADD COLUMN env INTEGER;
    CREATE INDEX jobs_by_env ON jobs (env) WHERE env IS NOT NULL;
    ALTER TABLE jobs ADD COLUMN batch INTEGER;
    CREATE TABLE batches (id INTEGER PRIMARY KEY);
    """,
    # 7: a job held by its user (wq hold, sbatch -H) waits until released
    """
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    """,
]
