"""The chunks of a recording uploaded in parts: children of its job, in the store.

Each chunk is saved as it moves (``pending -> submitting -> running -> done``,
or ``failed``), with its future and its result, so a restart polls the chunks
in flight and never sends a finished one again. The moves allowed are
``states.CHUNK_TRANSITIONS``, enforced inside the UPDATE as for jobs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dropscribe.audio.cuts import Part
from dropscribe.jobs.states import CHUNK_PREDECESSORS, ChunkState, TransitionError

if TYPE_CHECKING:
    from dropscribe.jobs.store import Store

CHUNKS_TABLE = """
    CREATE TABLE chunks (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        plan TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        keep_start REAL NOT NULL,
        keep_end REAL NOT NULL,
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        future TEXT,
        result TEXT,
        error TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (job_id, idx)
    )
"""

COLUMNS = (
    "job_id, idx, plan, start, end, keep_start, keep_end, path, bytes, state, attempts, "
    "future, result, error"
)


@dataclass(frozen=True)
class NewChunk(Part):
    """A chunk to record: a part of the recording and its file (an upload's part is one;
    the path is empty while a chunk is only planned)."""

    path: str
    bytes: int


#: The plan name of a job's coverage chunks (before the plan they add to): speech no
#: word covered, sent once more after the plan's own chunks (jobs/chunking/coverage.py).
COVERAGE_PLAN = "coverage:"


@dataclass(frozen=True)
class Chunk(NewChunk):
    """A part of a job's upload as the store keeps it: its span and file, its state."""

    job_id: int
    idx: int
    plan: str
    state: ChunkState
    attempts: int
    future: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Chunk:
        values = dict(row)
        for key in ("future", "result"):
            values[key] = json.loads(values[key]) if values[key] else None
        values["state"] = ChunkState(values["state"])
        return cls(**values)

    @property
    def is_coverage(self) -> bool:
        return self.plan.startswith(COVERAGE_PLAN)


class ChunkTable:
    """The ``chunks`` table; reached as ``store.chunks``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def for_job(self, job_id: int) -> list[Chunk]:
        rows = self.store._read(
            f"SELECT {COLUMNS} FROM chunks WHERE job_id = ? ORDER BY idx", [job_id]
        )
        return [Chunk.from_row(row) for row in rows]

    def replace_plan(self, job_id: int, plan: str, chunks: Sequence[NewChunk]) -> list[Chunk]:
        """Forget the job's chunks and record ``chunks`` as its new plan, all pending."""
        now = self.store.now()
        with self.store._write() as db:
            db.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT INTO chunks (job_id, idx, plan, start, end, keep_start, keep_end, path, "
                "bytes, state, updated_at) VALUES (?,?,?,?,?,?,?,?,?,'pending',?)",
                [
                    (
                        job_id,
                        i,
                        plan,
                        c.start,
                        c.end,
                        c.keep_start,
                        c.keep_end,
                        c.path,
                        c.bytes,
                        now,
                    )
                    for i, c in enumerate(chunks)
                ],
            )
        return self.for_job(job_id)

    def add(self, job_id: int, idx: int, plan: str, chunk: NewChunk) -> Chunk:
        """Record one more chunk of a plan still being prepared, pending; return it."""
        with self.store._write() as db:
            db.execute(
                "INSERT INTO chunks (job_id, idx, plan, start, end, keep_start, keep_end, path, "
                "bytes, state, updated_at) VALUES (?,?,?,?,?,?,?,?,?,'pending',?)",
                (
                    job_id,
                    idx,
                    plan,
                    chunk.start,
                    chunk.end,
                    chunk.keep_start,
                    chunk.keep_end,
                    chunk.path,
                    chunk.bytes,
                    self.store.now(),
                ),
            )
        rows = self.store._read(
            f"SELECT {COLUMNS} FROM chunks WHERE job_id = ? AND idx = ?", [job_id, idx]
        )
        return Chunk.from_row(rows[0])

    def name_plan(self, job_id: int, plan: str) -> None:
        """Give every chunk of the job the plan's name (a plan whose preparation ended)."""
        with self.store._write() as db:
            db.execute("UPDATE chunks SET plan = ? WHERE job_id = ?", (plan, job_id))

    def update_files(self, job_id: int, chunks: Sequence[NewChunk]) -> None:
        """Record the sizes of the chunks' files written again after they were lost."""
        with self.store._write() as db:
            db.executemany(
                "UPDATE chunks SET path = ?, bytes = ? WHERE job_id = ? AND idx = ?",
                [(c.path, c.bytes, job_id, i) for i, c in enumerate(chunks)],
            )

    def resume(self, job_id: int, *, fresh_attempts: bool) -> None:
        """Make a job's unfinished chunks ready to go again after an interruption.

        A chunk caught in ``submitting`` may or may not have reached the server; it is
        sent again (at-least-once). ``fresh_attempts`` also puts failed chunks back
        with their attempts reset (``dropscribe retry``).
        """
        now = self.store.now()
        with self.store._write() as db:
            db.execute(
                "UPDATE chunks SET state = 'pending', updated_at = ? "
                "WHERE job_id = ? AND state = 'submitting'",
                (now, job_id),
            )
            if fresh_attempts:
                db.execute(
                    "UPDATE chunks SET state = 'pending', attempts = 0, future = NULL, "
                    "updated_at = ? WHERE job_id = ? AND state = 'failed'",
                    (now, job_id),
                )

    def move(self, job_id: int, idx: int, state: ChunkState, **fields: Any) -> None:
        """Set a chunk's state and ``fields`` (future, result, error, attempts) in one write.

        Raises:
            TransitionError: the chunk's state may not move to ``state``.
        """
        for key in ("future", "result"):
            if fields.get(key) is not None:
                fields[key] = json.dumps(fields[key])
        fields["updated_at"] = self.store.now()
        assignments = ", ".join(f"{key} = ?" for key in fields)
        self._transition(job_id, idx, state, f"state = ?, {assignments}", [state, *fields.values()])

    def count_attempt(self, job_id: int, idx: int) -> int:
        """Mark the chunk ``submitting`` (before its request leaves) and return its attempt."""
        assignments = "state = ?, attempts = attempts + 1, updated_at = ?"
        submitting = ChunkState.SUBMITTING
        row = self._transition(job_id, idx, submitting, assignments, [submitting, self.store.now()])
        return int(row["attempts"])

    def _transition(
        self, job_id: int, idx: int, new: ChunkState, assignments: str, values: list[Any]
    ) -> sqlite3.Row:
        """Run the UPDATE only where the chunk's state allows the move; refuse it otherwise."""
        allowed = sorted(CHUNK_PREDECESSORS[new])
        marks = ", ".join("?" * len(allowed))
        with self.store._write() as db:
            row: sqlite3.Row | None = db.execute(
                f"UPDATE chunks SET {assignments} WHERE job_id = ? AND idx = ? "
                f"AND state IN ({marks}) RETURNING attempts",
                (*values, job_id, idx, *allowed),
            ).fetchone()
            if row is None:
                found = db.execute(
                    "SELECT state FROM chunks WHERE job_id = ? AND idx = ?", (job_id, idx)
                ).fetchone()
                was = found["state"] if found else "no such chunk"
                raise TransitionError(f"chunk {job_id}/{idx}: {was} -> {new} is not allowed")
        return row

    def forget(self, job_id: int) -> None:
        """Drop the job's chunks (its whole result is saved)."""
        with self.store._write() as db:
            db.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
