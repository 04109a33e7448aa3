"""Read-only questions about many jobs: for the scheduler, status and metrics."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from dropscribe.jobs.states import JobState
from dropscribe.jobs.store.schema import JOB_COLUMNS, Job


class JobReports:
    """Counts and summaries of jobs; the store supplies its reads."""

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def queued_backends(self) -> list[str]:
        rows = self._read("SELECT DISTINCT backend FROM jobs WHERE state = 'queued'")
        return [row["backend"] for row in rows]

    def counts(self) -> dict[str, int]:
        """Return the number of jobs in each state (every state present, zero or not)."""
        counts = {str(state): 0 for state in JobState}
        for row in self._read("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def finished_since(self, since: float) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND finished_at >= ?", [since]
        )
        return int(rows[0][0])

    def with_warnings(self) -> int:
        """Return how many finished jobs have a transcript whose ``warnings`` say it may
        be wrong (worth a person's look)."""
        rows = self._read(
            "SELECT COUNT(*) FROM jobs JOIN results USING (sha256, settings_key) "
            "WHERE jobs.state IN ('done', 'skipped') "
            "AND json_array_length(results.result, '$.warnings') > 0"
        )
        return int(rows[0][0])

    def warnings_by_job(self) -> dict[int, list[str]]:
        """Return the ``warnings`` of every finished job whose transcript has some, by job."""
        rows = self._read(
            "SELECT jobs.id, json_extract(results.result, '$.warnings') AS warnings "
            "FROM jobs JOIN results USING (sha256, settings_key) "
            "WHERE jobs.state IN ('done', 'skipped') "
            "AND json_array_length(results.result, '$.warnings') > 0"
        )
        return {int(row["id"]): list(json.loads(row["warnings"])) for row in rows}

    def recent_failures(self, limit: int = 5) -> list[Job]:
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'failed' "
            "ORDER BY finished_at DESC LIMIT ?",
            [limit],
        )
        return [Job.from_row(row) for row in rows]

    def next_due(self, backend: str) -> float | None:
        """Return when the earliest queued job of ``backend`` may start, if any is queued."""
        rows = self._read(
            "SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'queued' AND backend = ?",
            [backend],
        )
        value = rows[0][0]
        return float(value) if value is not None else None
