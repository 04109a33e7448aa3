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

from dropscribe.jobs.states import JobState, TransitionError
from dropscribe.jobs.store.chunks import ChunkTable
from dropscribe.jobs.store.lookups import JobLookups
from dropscribe.jobs.store.marks import CrashMarks
from dropscribe.jobs.store.moves import JobMoves, refuse_empty_hash
from dropscribe.jobs.store.reports import JobReports
from dropscribe.jobs.store.schema import JOB_COLUMNS, MIGRATIONS, Job, path_value

__all__ = ["Job", "Store", "TransitionError"]


class Store(JobLookups, JobMoves, CrashMarks, JobReports):
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

    # --- filled in later: the hash intake missed, the speaker labels ----------

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
