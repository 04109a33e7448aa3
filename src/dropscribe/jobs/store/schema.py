"""The job store's schema: its migrations, and the job as the store hands it out."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from dropscribe.jobs.states import JobState
from dropscribe.jobs.store.chunks import CHUNKS_TABLE
from dropscribe.outbox.naming import display_path

MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        output_name TEXT NOT NULL,
        backend TEXT NOT NULL,
        language TEXT NOT NULL,
        task TEXT NOT NULL,
        settings_key TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        submissions INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        future TEXT,
        error TEXT,
        error_detail TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX jobs_by_state ON jobs(state, backend, next_attempt_at);
    CREATE INDEX jobs_by_path ON jobs(path, sha256);
    CREATE INDEX jobs_by_output ON jobs(output_name);
    CREATE INDEX jobs_by_finish ON jobs(finished_at);
    CREATE TABLE results (
        sha256 TEXT NOT NULL,
        settings_key TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (sha256, settings_key)
    );
    """,
    # The chunks of recordings uploaded in parts (see chunks.py).
    CHUNKS_TABLE,
    # Paths being taken in: a path still here after a restart was in hand when the
    # daemon died. ``alone`` counts the deaths while it was taken in by itself.
    """
    CREATE TABLE intake_marks (
        path TEXT PRIMARY KEY,
        alone INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Failed jobs whose original and error sidecar are still to be put in place: the
    # state commits first (see outbox/failures.py); a mark left by a crash is finished
    # at the next start.
    """
    CREATE TABLE unsettled_failures (
        job_id INTEGER PRIMARY KEY
    );
    """,
]


def path_value(path: str) -> str | bytes:
    """Return how ``path`` is stored: text when it is UTF-8, else its raw bytes (a BLOB).

    Python hands over names that are not UTF-8 with surrogates, which SQLite text
    refuses; the bytes keep them losslessly. A given path is always stored the
    same way, so equality in SQL still finds it.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def path_from_value(value: str | bytes) -> str:
    """Return the path stored as ``value`` (the inverse of :func:`path_value`)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


JOB_COLUMNS = (
    "id, path, sha256, size, mtime, output_name, backend, language, task, settings_key, state, "
    "attempts, submissions, next_attempt_at, future, error, error_detail, created_at, "
    "updated_at, started_at, finished_at"
)


@dataclass(frozen=True)
class Job:
    id: int
    path: str
    sha256: str
    size: int
    mtime: float
    output_name: str
    backend: str
    language: str
    task: str
    settings_key: str
    state: JobState
    attempts: int
    submissions: int
    next_attempt_at: float
    future: dict[str, Any] | None
    error: str | None
    error_detail: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        values = dict(row)
        values["path"] = path_from_value(values["path"])
        values["state"] = JobState(values["state"])
        values["future"] = json.loads(values["future"]) if values["future"] else None
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Return the job as plain data, for ``--json`` output."""
        data = dict(self.__dict__)
        data["path"] = display_path(self.path)  # as in the sidecars' source.path
        data["state"] = str(self.state)
        return data
