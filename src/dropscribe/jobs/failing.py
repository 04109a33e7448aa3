"""What follows a failed try of a job: the retry policy's decision, carried out in the store.

The job goes back to the queue (its attempt spent or given back, its backend perhaps
paused), is held for the disk when even recording the failure met a disk fault, or
fails for good with the one sentence of :func:`~dropscribe.jobs.retry_policy.carry_out`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.errors import BadInput, DropscribeError, local_fault
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.counters import BackendPauses, JobCounters
from dropscribe.jobs.held import HeldWork
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.retry_policy import Fail, JobHistory, Pause, Retry, RetryRules, carry_out
from dropscribe.jobs.retry_policy import give_back as attempts_given_back
from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store import Job, Store

log = structlog.get_logger("dropscribe.jobs.dispatcher")


def give_back(store: Store, clock: Callable[[], float], job: Job, **fields: Any) -> None:
    """Put the job back in the queue now, without counting the attempt it was on: what
    stopped it was not the file's fault."""
    store.move(
        job.id,
        JobState.QUEUED,
        attempts=attempts_given_back(job.attempts),
        next_attempt_at=clock(),
        future=None,
        **fields,
    )


class TryFailures:
    """Carries out the retry policy for the jobs of one dispatcher."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        clock: Callable[[], float],
        pauses: BackendPauses,
        counters: JobCounters,
        readiness: Readiness,
        held: HeldWork,
    ) -> None:
        self.settings = settings
        self.store = store
        self.finisher = finisher
        self.clock = clock
        self.pauses = pauses
        self.counters = counters
        self.readiness = readiness
        self.held = held
        #: Each job's history of waits that spent no attempt (kept while the daemon runs;
        #: a restart forgets it, which only errs on the side of waiting longer).
        self._histories: dict[int, JobHistory] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()

    def handle_safely(self, job: Job, error: DropscribeError) -> None:
        """Handle ``error``; if even that fails, hold the job for the disk or leave it to
        the next start, and say so."""
        try:
            self.handle(self.store.get(job.id), error)
        except Exception as exc:
            if local_fault(exc) is not None:  # recording it met the disk's fault: wait
                self.held.hold(job.id, None, exc)
                return
            # Even the error could not be recorded (a full disk, say): the job keeps its
            # state and is taken up again at the next start; the log says so now.
            log.exception("job_stuck", job=job.id, file=job.path, error=str(error))

    def handle(self, job: Job, error: DropscribeError) -> None:
        """Queue the job again, pause its backend, or fail it, as the policy decides."""
        if job.state not in IN_FLIGHT:
            return
        self.counters.count_error(job.backend, error)
        now = self.clock()
        with self._lock:
            known = self._histories.get(job.id, JobHistory(0))
        history = JobHistory(
            job.attempts, known.troubled_since, known.waits, self.pauses.downs(job.backend)
        )
        rules = RetryRules.from_settings(self.settings().transcribe)
        step = carry_out(history, error, now, rules, self._rng.random())
        decision = step.decision
        if isinstance(decision, Fail) and self._inbox_away(error):
            give_back(self.store, self.clock, job)  # on a share that went away: held
            return
        if isinstance(decision, Fail):
            self.forget(job.id)
            self.finisher.fail(job, step.error)
            return
        with self._lock:
            self._histories[job.id] = step.history
        self.store.move(job.id, JobState.QUEUED, **step.store_fields())
        if isinstance(decision, Pause):
            self.pauses.pause(job.backend, decision.until)
            log.warning(
                "backend_down",
                backend=job.backend,
                job=job.id,
                error=str(error),
                retry_in=round(decision.until - now, 1),
            )
        elif isinstance(decision, Retry):
            self.counters.count_retry()
            log.warning(
                "job_retry",
                job=job.id,
                file=job.path,
                attempt=job.attempts,
                attempt_spent=decision.spends_attempt,
                error=str(error),
                retry_in=round(decision.at - now, 2),
            )

    def forget(self, job_id: int) -> None:
        """Drop the job's history: it succeeded, or failed for good."""
        with self._lock:
            self._histories.pop(job_id, None)

    def _inbox_away(self, error: DropscribeError) -> bool:
        """Return whether a bad-input failure may be the inbox's absence, not the file's."""
        return isinstance(error, BadInput) and self.readiness.inbox_unavailable_now()
