"""The SQLite job store: the only package that speaks SQL (its schema is in schema.py).

WAL mode and a busy timeout let ``dropscribe status`` read while the daemon
writes. One connection is shared by the daemon's threads behind a lock; every
change is one short write transaction. ``synchronous=NORMAL`` in WAL mode
survives a killed process (only a power cut can lose the last commits).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dropscribe.jobs.states import IN_FLIGHT, JobState, TransitionError
from dropscribe.jobs.store.chunks import ChunkTable
from dropscribe.jobs.store.marks import CrashMarks
from dropscribe.jobs.store.moves import JobMoves, refuse_empty_hash
from dropscribe.jobs.store.reports import JobReports
from dropscribe.jobs.store.schema import (
    JOB_COLUMNS,
    MIGRATIONS,
    Job,
    path_from_value,
    path_value,
)

__all__ = ["Job", "Store", "TransitionError"]


class Store(JobMoves, CrashMarks, JobReports):
    """Jobs and results in one SQLite file."""

    def __init__(self, path: Path, *, readonly: bool = False, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self.chunks = ChunkTable(self)
        if readonly:
            uri = f"file:{path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=10, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=10, isolation_level=None, check_same_thread=False
            )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()

    def now(self) -> float:
        """The store's clock, which stamps every change."""
        return float(self._clock())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes made inside into one transaction: one commit for many files.

        Other threads wait for the whole batch, so keep it short.
        """
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                # Inside batch(): a savepoint, so a failed write undoes only itself.
                self._db.execute("SAVEPOINT write")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK TO write")
                    self._db.execute("RELEASE write")
                    raise
                self._db.execute("RELEASE write")
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # --- creating jobs -------------------------------------------------------

    def add_job(
        self,
        *,
        path: str,
        sha256: str,
        size: int,
        mtime: float,
        output_name: str,
        backend: str,
        language: str,
        task: str,
        settings_key: str,
        error: str | None = None,
        error_detail: str | None = None,
    ) -> Job:
        """Record a newly found file in state ``discovered`` and return its job.

        ``error`` marks a file refused at intake: its failure is written after the
        commit (or by recovery, if the daemon dies first).
        """
        now = self._clock()
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO jobs (path, sha256, size, mtime, output_name, backend, language, "
                "task, settings_key, state, error, error_detail, created_at, updated_at) "
                f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING {JOB_COLUMNS}",
                (
                    path_value(path),
                    sha256,
                    size,
                    mtime,
                    output_name,
                    backend,
                    language,
                    task,
                    settings_key,
                    JobState.DISCOVERED,
                    error,
                    error_detail,
                    now,
                    now,
                ),
            )
            return Job.from_row(cursor.fetchone())

    def output_name_of(self, path: str) -> str | None:
        """Return the sidecar name ``path`` was first given, if it ever had a job."""
        rows = self._read(
            "SELECT output_name FROM jobs WHERE path = ? ORDER BY id LIMIT 1", [path_value(path)]
        )
        return str(rows[0]["output_name"]) if rows else None

    def output_name_taken(self, name: str, path: str) -> bool:
        """Return whether a source other than ``path`` writes its sidecars under ``name``."""
        rows = self._read(
            "SELECT 1 FROM jobs WHERE output_name = ? AND path != ? LIMIT 1",
            [name, path_value(path)],
        )
        return bool(rows)

    # --- reading -------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", [job_id])
        if not rows:
            raise KeyError(job_id)
        return Job.from_row(rows[0])

    def latest_for(self, path: str, sha256: str) -> Job | None:
        """Return the newest job for this path and content, if there is one."""
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE path = ? AND sha256 = ? "
            "ORDER BY id DESC LIMIT 1",
            [path_value(path), sha256],
        )
        return Job.from_row(rows[0]) if rows else None

    def latest_of(self, path: str) -> Job | None:
        """Return the newest job for this path, whatever its content."""
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE path = ? ORDER BY id DESC LIMIT 1",
            [path_value(path)],
        )
        return Job.from_row(rows[0]) if rows else None

    def active_twin(self, job: Job) -> Job | None:
        """Return the oldest other job with ``job``'s content and settings that is still
        queued or at work, if there is one (its result will serve ``job`` too)."""
        if not job.sha256:
            return None
        active = [str(state) for state in (JobState.QUEUED, *IN_FLIGHT)]
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({','.join('?' * len(active))}) "
            "AND sha256 = ? AND settings_key = ? AND id != ? ORDER BY id LIMIT 1",
            [*active, job.sha256, job.settings_key, job.id],
        )
        return Job.from_row(rows[0]) if rows else None

    def jobs(self, states: Iterable[JobState] | None = None, limit: int = 0) -> list[Job]:
        """Return jobs, oldest first, optionally only those in ``states``."""
        sql = f"SELECT {JOB_COLUMNS} FROM jobs"
        args: list[Any] = []
        if states is not None:
            wanted = list(states)
            sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args.extend(str(state) for state in wanted)
        sql += " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Job.from_row(row) for row in self._read(sql, args)]

    def known_files(self) -> dict[str, tuple[int, float]]:
        """Return (size, mtime) of the newest job of every path, to skip rescanned files."""
        rows = self._read(
            "SELECT path, size, mtime FROM jobs "
            "WHERE id IN (SELECT MAX(id) FROM jobs GROUP BY path)"
        )
        return {path_from_value(row["path"]): (row["size"], row["mtime"]) for row in rows}

    def identify(self, job_id: int, sha256: str) -> Job:
        """Record the content hash of a job that intake could not hash, and return it."""
        refuse_empty_hash(sha256)
        with self._write() as db:
            db.execute("UPDATE jobs SET sha256 = ? WHERE id = ?", (sha256, job_id))
        return self.get(job_id)

    def replace_result(self, job_id: int, result: dict[str, Any]) -> None:
        """Replace the saved result of ``job_id`` (with its speaker labels added); the
        job's state does not change."""
        with self._write() as db:
            row = db.execute(
                "SELECT sha256, settings_key FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            refuse_empty_hash(row["sha256"])
            db.execute(
                "UPDATE results SET result = ? WHERE sha256 = ? AND settings_key = ?",
                (json.dumps(result), row["sha256"], row["settings_key"]),
            )

    def result_for(self, sha256: str, settings_key: str) -> dict[str, Any] | None:
        refuse_empty_hash(sha256)
        rows = self._read(
            "SELECT result FROM results WHERE sha256 = ? AND settings_key = ?",
            [sha256, settings_key],
        )
        return json.loads(rows[0]["result"]) if rows else None
