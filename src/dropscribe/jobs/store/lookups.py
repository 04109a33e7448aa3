"""Read-only questions about single jobs and results: by id, by path, by content.

:class:`JobLookups` is the part of :class:`~dropscribe.jobs.store.Store` that
finds jobs (the counts and summaries over many jobs are in :mod:`.reports`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store.moves import refuse_empty_hash
from dropscribe.jobs.store.schema import JOB_COLUMNS, Job, path_from_value, path_value


class JobLookups:
    """Finding jobs and their results; the store supplies its reads."""

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

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

    def result_for(self, sha256: str, settings_key: str) -> dict[str, Any] | None:
        refuse_empty_hash(sha256)
        rows = self._read(
            "SELECT result FROM results WHERE sha256 = ? AND settings_key = ?",
            [sha256, settings_key],
        )
        return json.loads(rows[0]["result"]) if rows else None
