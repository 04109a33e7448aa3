"""Marks that outlive a crash: what the daemon was in the middle of when it died.

Paths being taken in (the crash-loop guard) and failed jobs whose files are not
yet in place (see :meth:`~dropscribe.jobs.store.moves.JobMoves.fail_unsettled`).
Each is set and cleared in short write transactions; a mark found at start is
work a restart finishes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from dropscribe.jobs.store.schema import JOB_COLUMNS, Job, path_from_value, path_value


class CrashMarks:
    """The store's marks; the store supplies its reads and write transactions."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    # --- paths being taken in (the crash-loop guard) -----------------------

    def mark_intake(self, paths: Iterable[str], *, alone: bool = False) -> None:
        """Note, in one commit, that ``paths`` are being taken in (``alone``: one by one)."""
        with self._write() as db:
            db.executemany(
                "INSERT INTO intake_marks (path, alone) VALUES (?, ?) "
                "ON CONFLICT (path) DO UPDATE SET alone = alone + excluded.alone",
                [(path_value(path), int(alone)) for path in paths],
            )

    def unmark_intake(self, paths: Iterable[str]) -> None:
        """Forget the marks of ``paths`` (inside the transaction that records them)."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM intake_marks WHERE path = ?", [(path_value(p),) for p in paths]
            )

    def intake_marks(self) -> dict[str, int]:
        """Return every path left marked by a daemon that died, with its deaths alone."""
        rows = self._read("SELECT path, alone FROM intake_marks ORDER BY path")
        return {path_from_value(row["path"]): int(row["alone"]) for row in rows}

    # --- failed jobs whose files are still to be put in place ---------------

    def settled(self, job_id: int) -> None:
        """Clear the mark :meth:`fail_unsettled` set: the job's files are in place."""
        with self._write() as db:
            db.execute("DELETE FROM unsettled_failures WHERE job_id = ?", (job_id,))

    def unsettled_failures(self) -> list[Job]:
        """Return the failed jobs still marked; drop the marks of jobs retried since."""
        with self._write() as db:
            db.execute(
                "DELETE FROM unsettled_failures "
                "WHERE job_id NOT IN (SELECT id FROM jobs WHERE state = 'failed')"
            )
            rows = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs "
                "WHERE id IN (SELECT job_id FROM unsettled_failures) ORDER BY id"
            ).fetchall()
        return [Job.from_row(row) for row in rows]
