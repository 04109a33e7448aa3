"""Job states and the transitions allowed between them (DESIGN.md section 2)."""

from __future__ import annotations

from enum import StrEnum


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
