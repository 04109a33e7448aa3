"""Every change of a job's state: one check against the transition table, in SQL.

:class:`JobMoves` is the part of :class:`~dropscribe.jobs.store.Store` that
writes states. Each move, single (``move``) or bulk (``claim``,
``requeue_interrupted``, ``retry``), goes through :meth:`JobMoves._transition`,
whose UPDATE allows only the predecessors that ``states.TRANSITIONS`` lists.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from dropscribe.jobs.states import PREDECESSORS, TERMINAL, JobState, TransitionError
from dropscribe.jobs.store.schema import JOB_COLUMNS, Job


def refuse_empty_hash(sha256: str) -> None:
    """Results are shared by content: one kept under "" would be every unhashed file's.

    Raises:
        ValueError: ``sha256`` is empty (the file was never hashed).
    """
    if not sha256:
        raise ValueError("a result needs the file's content hash; this job has none yet")


class JobMoves:
    """State changes; the store supplies its clock and its write transactions."""

    _clock: Callable[[], float]

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def move(
        self, job_id: int, new: JobState, *, count_submission: bool = False, **fields: Any
    ) -> Job:
        """Move a job to ``new`` and set ``fields``, in one statement, and return it.

        ``count_submission`` adds one to the job's accepted submissions.

        Raises:
            TransitionError: if the lifecycle does not allow the move.
        """
        with self._write() as db:
            return self._move(db, job_id, new, count_submission, fields)

    def _move(
        self,
        db: sqlite3.Connection,
        job_id: int,
        new: JobState,
        count_submission: bool,
        fields: dict[str, Any],
    ) -> Job:
        computed = {"submissions": "submissions + 1"} if count_submission else {}
        moved = self._transition(db, new, "id = ?", [job_id], fields, computed)
        if not moved:
            current = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is None:
                raise KeyError(job_id)
            raise TransitionError(f"job {job_id} cannot go from {current['state']} to {new}")
        return moved[0]

    def _transition(
        self,
        db: sqlite3.Connection,
        new: JobState,
        which: str,
        args: list[Any],
        fields: dict[str, Any],
        computed: dict[str, str] | None = None,
    ) -> list[Job]:
        """Move the jobs selected by the SQL condition ``which`` to ``new``, setting
        ``fields`` to values and ``computed`` to SQL expressions; return the moved jobs.

        Every state change of the store is made here: the transition table's check
        is part of the UPDATE (jobs in a state that may not go to ``new`` are left as
        they are), so a move is one statement.
        """
        now = self._clock()
        fields = dict(fields)
        if fields.get("future") is not None:
            fields["future"] = json.dumps(fields["future"])
        fields.setdefault("updated_at", now)
        if new in TERMINAL:
            fields.setdefault("finished_at", now)
        assignments = [f"{key} = ?" for key in fields]
        assignments += [f"{key} = {expression}" for key, expression in (computed or {}).items()]
        allowed = [str(state) for state in PREDECESSORS[new]]
        rows = db.execute(
            f"UPDATE jobs SET state = ?, {', '.join(assignments)} WHERE ({which}) "
            f"AND state IN ({','.join('?' * len(allowed))}) RETURNING {JOB_COLUMNS}",
            (str(new), *fields.values(), *args, *allowed),
        ).fetchall()
        return [Job.from_row(row) for row in rows]

    def claim(self, backend: str, limit: int, now: float) -> list[Job]:
        """Move up to ``limit`` due queued jobs of ``backend`` to ``submitting``, in one write.

        The attempt is counted here, before any request leaves.
        """
        if limit <= 0:
            return []
        with self._write() as db:
            jobs = self._transition(
                db,
                JobState.SUBMITTING,
                "id IN (SELECT id FROM jobs WHERE state = 'queued' AND backend = ? "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)",
                [backend, now, limit],
                {"updated_at": now},
                # A float's repr is an SQL literal; the first start is kept.
                {"attempts": "attempts + 1", "started_at": f"COALESCE(started_at, {float(now)!r})"},
            )
        return sorted(jobs, key=lambda job: job.id)

    def save_result(self, job_id: int, result: dict[str, Any]) -> Job:
        """Store the result and move the job to ``writing``, in one transaction."""
        with self._write() as db:
            row = db.execute(
                "SELECT sha256, settings_key FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            refuse_empty_hash(row["sha256"])
            db.execute(
                "INSERT OR REPLACE INTO results (sha256, settings_key, result, created_at) "
                "VALUES (?,?,?,?)",
                (
                    row["sha256"],
                    row["settings_key"],
                    json.dumps(result, allow_nan=False),
                    self._clock(),
                ),
            )
            return self._move(
                db, job_id, JobState.WRITING, False, {"error": None, "error_detail": None}
            )

    def fail_unsettled(self, job_id: int, *, error: str, error_detail: str | None) -> Job:
        """Move a job to ``failed`` with its error and mark its files as still to be put
        in place, in one transaction; ``settled`` (marks.py) clears the mark.

        Raises:
            TransitionError: if the lifecycle does not allow the move.
        """
        with self._write() as db:
            job = self._move(
                db, job_id, JobState.FAILED, False, {"error": error, "error_detail": error_detail}
            )
            db.execute("INSERT OR IGNORE INTO unsettled_failures (job_id) VALUES (?)", (job_id,))
        return job

    def restart_clocks(self) -> int:
        """After a restart: time the work in hand from now (``started_at``), so that a
        job's ``seconds`` never count the time the daemon was down; return how many.

        Jobs waiting in the queue start their clock when claimed again; jobs in flight
        from this moment."""
        now = self._clock()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET started_at = CASE WHEN state IN ('running', 'writing') "
                "THEN ? END WHERE state IN ('queued', 'submitting', 'running', 'writing') "
                "AND started_at IS NOT NULL",
                (now,),
            )
        return cursor.rowcount

    def requeue_interrupted(self) -> int:
        """After a restart: jobs caught in ``submitting`` go back to the queue.

        Whether their request reached the backend is unknown; they are sent again
        (at-least-once). Jobs in ``running`` keep their future and are polled.
        """
        with self._write() as db:
            moved = self._transition(
                db, JobState.QUEUED, "state = 'submitting'", [], {"next_attempt_at": self._clock()}
            )
        return len(moved)

    def retry(self, job_ids: Iterable[int] | None) -> list[int]:
        """Put failed jobs back in the queue with fresh attempts; return their ids."""
        # started_at cleared too: a retried job's time is counted from its new start.
        fields = {
            "attempts": 0,
            "next_attempt_at": self._clock(),
            "started_at": None,
            "finished_at": None,
        }
        with self._write() as db:
            if job_ids is None:
                moved = self._transition(db, JobState.QUEUED, "state = 'failed'", [], fields)
            else:
                wanted = list(job_ids)
                moved = self._transition(
                    db,
                    JobState.QUEUED,
                    f"state = 'failed' AND id IN ({','.join('?' * len(wanted))})",
                    wanted,
                    fields,
                )
        return sorted(job.id for job in moved)
