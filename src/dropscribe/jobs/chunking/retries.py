"""What follows a chunk's failed try: the one retry policy of every job, per chunk.

A 429 or server trouble within the transient budget spends no attempt; a server
that cannot be reached stops the job as a whole (the dispatcher pauses the
backend) with the chunk's attempt given back; a chunk out of attempts fails the
job with a sentence naming its time range.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import structlog

from dropscribe.config import TranscribeSettings
from dropscribe.errors import BackendError, BadInput
from dropscribe.jobs.retry_policy import JobHistory, Pause, Retry, RetryRules, carry_out, give_back
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import Chunk
from dropscribe.transcript import clock_time

log = structlog.get_logger("dropscribe.jobs.chunks")

#: A chunk to send again, and when.
Again = tuple[float, Chunk]


class ChunkRetries:
    """Carries out the retry policy on the chunks of one job in flight."""

    def __init__(
        self, store: Store, job: Job, rules: TranscribeSettings, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.job = job
        self.rules = rules
        self.clock = clock
        self.rng = random.Random()
        #: Each chunk's history of failures (kept while the job runs).
        self.histories: dict[int, JobHistory] = {}

    def gone(self, chunk: Chunk, reason: str) -> Again:
        """The server forgot the chunk's future: send it again now, the attempt given back
        (not the chunk's fault)."""
        log.info("chunk_gone", job=self.job.id, chunk=chunk.idx, reason=reason)
        self._put_back(chunk, attempts=give_back(self.fresh(chunk).attempts))
        return self.clock(), self.fresh(chunk)

    def failed(
        self, chunk: Chunk, error: BackendError | BadInput
    ) -> tuple[Again | None, BackendError | BadInput | None]:
        """Return when to send the chunk again (None: not), and what fails the job (None:
        nothing yet)."""
        now = self.clock()
        known = self.histories.get(chunk.idx, JobHistory(0))
        history = replace(known, attempts=self.fresh(chunk).attempts)
        rules = RetryRules.from_settings(self.rules)
        where = f"The part from {clock_time(chunk.start)} to {clock_time(chunk.end)}"
        # Jitter, so that the chunks failing together do not all come back at once.
        step = carry_out(history, error, now, rules, self.rng.random(), where=where)
        self.histories[chunk.idx] = step.history
        decision = step.decision
        if isinstance(decision, Pause):
            self._put_back(chunk, attempts=step.attempts, error=str(error))
            return None, error
        if isinstance(decision, Retry):
            log.warning(
                "chunk_retry",
                job=self.job.id,
                chunk=chunk.idx,
                span=f"{clock_time(chunk.start)}-{clock_time(chunk.end)}",
                error=str(error),
                retry_in=round(decision.at - now, 2),
                spends_attempt=decision.spends_attempt,
            )
            self._put_back(chunk, attempts=step.attempts, error=str(error))
            return (decision.at, self.fresh(chunk)), None
        failed = ChunkState.FAILED
        self.store.chunks.move(self.job.id, chunk.idx, failed, future=None, error=str(error))
        assert isinstance(step.error, (BackendError, BadInput))  # gave_up() makes one
        return None, step.error

    def fresh(self, chunk: Chunk) -> Chunk:
        """Return the chunk as the store has it now."""
        return next(c for c in self.store.chunks.for_job(self.job.id) if c.idx == chunk.idx)

    def _put_back(self, chunk: Chunk, **fields: object) -> None:
        """Make the chunk pending again, its future dropped."""
        self.store.chunks.move(self.job.id, chunk.idx, ChunkState.PENDING, future=None, **fields)
