"""The job store: SQLite (embedded, default) or PostgreSQL, with versioned migrations.

Every job's state lives here, so a server killed with `kill -9` forgets nothing. A worker *claims* a queued
job with one statement that cannot hand the same row to two workers: an atomic `UPDATE ... RETURNING` under
SQLite's write lock, `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL. A claim carries a lease that the
worker renews while the job runs; a job whose lease ran out (or whose worker is gone) is queued again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = ("succeeded", "failed", "cancelled")
KINDS = ("curate", "train")

#: The column types that differ between the two databases; the DDL below names them in braces.
_TYPES = {
    "sqlite": {"id_pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "bigint": "INTEGER", "real": "REAL"},
    "postgres": {"id_pk": "BIGSERIAL PRIMARY KEY", "bigint": "BIGINT", "real": "DOUBLE PRECISION"},
}

_JOBS_TABLE = """
        CREATE TABLE jobs (
            id {id_pk},
            kind TEXT NOT NULL DEFAULT 'curate',
            name TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'queued',
            priority INTEGER NOT NULL DEFAULT 0,
            spec TEXT NOT NULL,
            base_dir TEXT NOT NULL,
            source_job {bigint},
            params TEXT NOT NULL DEFAULT '{{}}',
            created_at {real} NOT NULL,
            started_at {real},
            finished_at {real},
            worker TEXT,
            lease_until {real},
            pid INTEGER,
            pid_start TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER,
            error TEXT,
            progress TEXT NOT NULL DEFAULT '{{}}'
        );
        CREATE INDEX jobs_queue ON jobs (state, priority, id);
        CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            created_at {real} NOT NULL
        );
        """

# A client's idempotency key: a submission retried after a lost response does not queue a second job.
_CLIENT_KEY = """
        ALTER TABLE jobs ADD COLUMN client_key TEXT;
        CREATE UNIQUE INDEX jobs_client_key ON jobs (client_key);
        """


def _ddl(template: str) -> tuple[str, str]:
    return template.format(**_TYPES["sqlite"]), template.format(**_TYPES["postgres"])


#: version -> (sqlite DDL, postgres DDL). Append only: a database records the versions it has applied.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, *_ddl(_JOBS_TABLE)),
    (2, *_ddl(_CLIENT_KEY)),
]

COLUMNS = ("id", "kind", "name", "state", "priority", "spec", "base_dir", "source_job", "params", "created_at",
           "started_at", "finished_at", "worker", "lease_until", "pid", "pid_start", "attempts",
           "cancel_requested", "exit_code", "error", "progress", "client_key")


@dataclass
class Job:
    id: int
    kind: str
    name: str
    state: str
    priority: int
    spec: str
    base_dir: str
    source_job: int | None
    params: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    worker: str | None
    lease_until: float | None
    pid: int | None
    pid_start: str | None
    attempts: int
    cancel_requested: bool
    exit_code: int | None
    error: str | None
    progress: dict[str, Any]
    client_key: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        d = dict(zip(COLUMNS, row, strict=True))
        d["params"] = json.loads(d["params"] or "{}")
        d["progress"] = json.loads(d["progress"] or "{}")
        d["cancel_requested"] = bool(d["cancel_requested"])
        return cls(**d)

    def public(self) -> dict[str, Any]:
        """What the API shows (no worker-internal pid bookkeeping)."""
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "state": self.state, "priority": self.priority,
            "source_job": self.source_job, "params": self.params, "created_at": self.created_at,
            "started_at": self.started_at, "finished_at": self.finished_at, "attempts": self.attempts,
            "cancel_requested": self.cancel_requested, "exit_code": self.exit_code, "error": self.error,
            "progress": self.progress, "worker": self.worker,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Thread-safe access to the job table; one connection per thread."""

    def __init__(self, url: str):
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()
        if not self.postgres:
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._path = path
        self.migrate()

    # ---- connections -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or (self.postgres and conn.closed):
            conn = self._local.conn = self._connect()
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction: BEGIN IMMEDIATE on SQLite (takes the write lock at once)."""
        conn = self._conn()
        if self.postgres:
            with conn.transaction():
                yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = (), conn: Any = None) -> Any:
        conn = conn or self._conn()
        try:
            return conn.execute(self._sql(sql), params)
        except Exception:
            if self.postgres and conn.closed:
                self._local.conn = None
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- migrations --------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply the migrations this database has not seen, each in its own transaction."""
        with self.transaction() as conn:
            if self.postgres:  # one migrator at a time across processes
                conn.execute("SELECT pg_advisory_xact_lock(7411)")
            self.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "applied_at DOUBLE PRECISION NOT NULL)", conn=conn)
            done = {r[0] for r in self.execute("SELECT version FROM schema_migrations", conn=conn).fetchall()}
            for version, sqlite_ddl, pg_ddl in MIGRATIONS:
                if version in done:
                    continue
                for statement in (pg_ddl if self.postgres else sqlite_ddl).split(";"):
                    if statement.strip():
                        self.execute(statement, conn=conn)
                self.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                             (version, time.time()), conn=conn)
        return max(v for v, _, _ in MIGRATIONS)

    def schema_version(self) -> int:
        return int(self.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    # ---- jobs --------------------------------------------------------------------------------------

    def submit(self, *, spec: str, base_dir: str, kind: str = "curate", name: str = "", priority: int = 0,
               source_job: int | None = None, params: dict[str, Any] | None = None,
               client_key: str | None = None) -> tuple[Job, bool]:
        """Queue a job; (job, created). With a `client_key` already used, the existing job and False."""
        cur = self.execute(
            f"INSERT INTO jobs (kind, name, state, priority, spec, base_dir, source_job, params, created_at, "
            f"client_key) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
            f"RETURNING {', '.join(COLUMNS)}",
            (kind, name, priority, spec, base_dir, source_job, json.dumps(params or {}), time.time(), client_key),
        )
        row = cur.fetchone()
        if row is not None:
            return Job.from_row(row), True
        row = self.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE client_key = ?", (client_key,)).fetchone()
        return Job.from_row(row), False

    def get(self, job_id: int) -> Job | None:
        row = self.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def list(self, state: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
        where, params = ("WHERE state = ?", (state,)) if state else ("", ())
        total = self.execute(f"SELECT COUNT(*) FROM jobs {where}", params).fetchone()[0]
        rows = self.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                            (*params, limit, offset)).fetchall()
        return [Job.from_row(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for state, n in self.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall():
            out[state] = int(n)
        return out

    def claim(self, worker: str, lease_s: float) -> Job | None:
        """Take the next queued job (highest priority, then oldest) for `worker`, or None."""
        if self.execute("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1").fetchone() is None:
            return None  # the common idle case: no write transaction at all
        now = time.time()
        lock = "FOR UPDATE SKIP LOCKED" if self.postgres else ""
        sql = (
            f"UPDATE jobs SET state = 'running', worker = ?, lease_until = ?, started_at = ?, "
            f"attempts = attempts + 1, pid = NULL, pid_start = NULL, exit_code = NULL, error = NULL "
            f"WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id ASC LIMIT 1 {lock}) "
            f"AND state = 'queued' RETURNING {', '.join(COLUMNS)}"
        )
        with self.transaction() as conn:
            row = self.execute(sql, (worker, now + lease_s, now), conn=conn).fetchone()
        return Job.from_row(row) if row else None

    def set_pid(self, job_id: int, worker: str, pid: int | None, pid_start: str | None) -> bool:
        cur = self.execute("UPDATE jobs SET pid = ?, pid_start = ? WHERE id = ? AND worker = ? AND state = 'running'",
                           (pid, pid_start, job_id, worker))
        return cur.rowcount == 1

    def renew(self, job_id: int, worker: str, lease_s: float, progress: dict[str, Any] | None = None) -> Job | None:
        """Extend the lease (and store progress); None when this worker no longer owns the job."""
        if progress is None:
            sql, params = "UPDATE jobs SET lease_until = ? ", (time.time() + lease_s,)
        else:
            sql, params = "UPDATE jobs SET lease_until = ?, progress = ? ", (time.time() + lease_s, json.dumps(progress))
        cur = self.execute(sql + f"WHERE id = ? AND worker = ? AND state = 'running' RETURNING {', '.join(COLUMNS)}",
                           (*params, job_id, worker))
        row = cur.fetchone()
        return Job.from_row(row) if row else None

    def finish(self, job_id: int, worker: str, state: str, exit_code: int | None = None, error: str | None = None,
               progress: dict[str, Any] | None = None) -> bool:
        """Move a job this worker owns to a final state, exactly once."""
        assert state in FINAL_STATES
        cur = self.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, exit_code = ?, error = ?, lease_until = NULL, "
            "progress = COALESCE(?, progress) WHERE id = ? AND worker = ? AND state = 'running'",
            (state, time.time(), exit_code, error, json.dumps(progress) if progress is not None else None,
             job_id, worker),
        )
        return cur.rowcount == 1

    def requeue(self, job_id: int, expected_worker: str | None, reason: str) -> bool:
        """A running job whose worker is gone goes back to the queue (it resumes from committed stages)."""
        cur = self.execute(
            "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, pid = NULL, pid_start = NULL, "
            "error = ? WHERE id = ? AND state = 'running' AND worker IS NOT DISTINCT FROM ?"
            if self.postgres else
            "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, pid = NULL, pid_start = NULL, "
            "error = ? WHERE id = ? AND state = 'running' AND worker IS ?",
            (reason, job_id, expected_worker),
        )
        return cur.rowcount == 1

    def running(self) -> list[Job]:
        rows = self.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE state = 'running' ORDER BY id").fetchall()
        return [Job.from_row(r) for r in rows]

    def request_cancel(self, job_id: int) -> Job | None:
        """Queued: cancelled at once. Running: flagged; its worker stops the process group."""
        now = time.time()
        with self.transaction() as conn:
            self.execute("UPDATE jobs SET state = 'cancelled', finished_at = ?, cancel_requested = 1 "
                         "WHERE id = ? AND state = 'queued'", (now, job_id), conn=conn)
            self.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'",
                         (job_id,), conn=conn)
        return self.get(job_id)

    def retry(self, job_id: int) -> Job | None:
        """A failed or cancelled job goes back to the queue, same id and run folder."""
        cur = self.execute(
            "UPDATE jobs SET state = 'queued', cancel_requested = 0, finished_at = NULL, exit_code = NULL, "
            "error = NULL, worker = NULL, lease_until = NULL, pid = NULL, pid_start = NULL "
            "WHERE id = ? AND state IN ('failed', 'cancelled')",
            (job_id,),
        )
        return self.get(job_id) if cur.rowcount == 1 else None

    def delete(self, job_id: int) -> bool:
        cur = self.execute("DELETE FROM jobs WHERE id = ? AND state IN ('queued', 'succeeded', 'failed', 'cancelled')",
                           (job_id,))
        return cur.rowcount == 1

    # ---- tokens ------------------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        token = "cur_" + secrets.token_urlsafe(32)
        self.execute("INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)",
                     (name, hash_token(token), time.time()))
        return token

    def token_count(self) -> int:
        return int(self.execute("SELECT COUNT(*) FROM tokens").fetchone()[0])

    def check_token(self, token: str) -> str | None:
        row = self.execute("SELECT name FROM tokens WHERE hash = ?", (hash_token(token),)).fetchone()
        return row[0] if row else None


def store_url(db: str | None, home: Path) -> str:
    """`--db` as given (postgresql://... or a SQLite path), else HOME/curate.db."""
    if db:
        return db
    return str(home / "curate.db")
