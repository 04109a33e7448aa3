"""Job and chunk states and the transitions allowed between them (DESIGN.md section 2)."""

from __future__ import annotations

from enum import StrEnum


class TransitionError(RuntimeError):
    """A job or chunk was asked to move where its lifecycle does not allow."""


class JobState(StrEnum):
    DISCOVERED = "discovered"
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


S = JobState

#: Every allowed transition, in one place. The store refuses any other.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # discovered -> skipped: a duplicate whose stored result is reused.
    S.DISCOVERED: frozenset({S.QUEUED, S.SKIPPED, S.FAILED}),
    S.QUEUED: frozenset({S.SUBMITTING, S.FAILED, S.SKIPPED}),
    S.SUBMITTING: frozenset({S.RUNNING, S.QUEUED, S.FAILED}),
    S.RUNNING: frozenset({S.WRITING, S.QUEUED, S.FAILED}),
    S.WRITING: frozenset({S.DONE, S.QUEUED, S.FAILED}),
    S.DONE: frozenset(),
    # `dropscribe retry` puts failed jobs back in the queue.
    S.FAILED: frozenset({S.QUEUED}),
    S.SKIPPED: frozenset(),
}

#: For each state, the states a job may come from (the inverse of TRANSITIONS).
PREDECESSORS: dict[JobState, frozenset[JobState]] = {
    new: frozenset(old for old, targets in TRANSITIONS.items() if new in targets)
    for new in JobState
}

TERMINAL = frozenset({S.DONE, S.FAILED, S.SKIPPED})
#: States whose work is handed to a backend; counted against its concurrency.
IN_FLIGHT = frozenset({S.SUBMITTING, S.RUNNING, S.WRITING})


def can_move(old: JobState, new: JobState) -> bool:
    """Return whether a job may go from ``old`` to ``new``."""
    return new in TRANSITIONS[old]


class ChunkState(StrEnum):
    """The state of one chunk of a recording uploaded in parts (a child of its job)."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


C = ChunkState

#: Every allowed move of a chunk; the store's UPDATE refuses any other.
CHUNK_TRANSITIONS: dict[ChunkState, frozenset[ChunkState]] = {
    C.PENDING: frozenset({C.SUBMITTING}),
    # Back to pending: to be sent again (a retry, the server down, a restart mid-send).
    C.SUBMITTING: frozenset({C.RUNNING, C.PENDING, C.FAILED}),
    C.RUNNING: frozenset({C.DONE, C.PENDING, C.FAILED}),
    C.DONE: frozenset(),
    # `dropscribe retry` puts it back; a daemon that died between failing the chunk and
    # failing its job sends it once more when the job resumes.
    C.FAILED: frozenset({C.PENDING, C.SUBMITTING}),
}

CHUNK_PREDECESSORS: dict[ChunkState, frozenset[ChunkState]] = {
    new: frozenset(old for old, targets in CHUNK_TRANSITIONS.items() if new in targets)
    for new in ChunkState
}
