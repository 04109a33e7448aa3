"""One claimed job, driven to its outcome; every state change goes to the store first.

The steps of a try are the :class:`~dropscribe.jobs.runner.Runner`'s (shared with
``dropscribe transcribe``); what follows a failure is the retry policy's decision.
This module turns both into store moves.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Request
from dropscribe.config import Settings
from dropscribe.errors import DropscribeError, Retryable
from dropscribe.jobs.chunking.chunks import ChunkedUploads
from dropscribe.jobs.chunking.run import SlotLender
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.counters import BackendPauses, JobCounters
from dropscribe.jobs.retry_policy import (
    Fail,
    JobHistory,
    Pause,
    Retry,
    RetryRules,
    after,
    decide,
)
from dropscribe.jobs.runner import Runner
from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.sources import EMPTY_SHA256, hash_source
from dropscribe.speakers.runner import (
    DiarizationInterrupted,
    add_speakers,
    limits_for,
    skipped,
)
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.jobs.dispatcher")


class JobDriver:
    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        runner: Runner,
        clock: Callable[[], float],
        pauses: BackendPauses,
        counters: JobCounters,
        lender: SlotLender,
    ) -> None:
        self.settings = settings
        self.store = store
        self.finisher = finisher
        self.runner = runner
        self.clock = clock
        self.pauses = pauses
        self.counters = counters
        self.lender = lender
        #: Each job's history of waits that spent no attempt (kept while the daemon runs;
        #: a restart forgets it, which only errs on the side of waiting longer).
        self._histories: dict[int, JobHistory] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()

    def run(self, job: Job) -> None:
        """Drive ``job`` until it is done, failed, queued again or handed back."""
        try:
            self._drive(job)
        except DropscribeError as exc:
            self._handle_error_safely(job, exc)
        except Exception as exc:  # a bug must not stop the daemon: retry, then fail clearly
            log.exception("job_crashed", job=job.id, file=job.path)
            self._handle_error_safely(job, Retryable(f"Internal error: {exc!r}"))

    def _drive(self, job: Job) -> None:
        if job.state == JobState.WRITING:
            self._write_saved(job)
            return
        job = self._identified(job)
        backend = self.runner.backend(job.backend)
        # Built per job, so it reads the settings in force for this one.
        chunked = ChunkedUploads(
            self.settings(), self.store, self.clock, self.runner.stopping, self.lender
        )
        if chunked.applies(job, backend):
            outcome = chunked.run(job, backend, self.finisher.source_of(job))
            job = self.store.get(job.id)
        else:
            outcome = self._submit_and_wait(job)
            if outcome is None and self.store.get(job.id).state == JobState.QUEUED:
                return  # handed to the fallback
        if outcome is None:
            self._hand_back(job)
        elif isinstance(outcome, Done):
            self.pauses.clear(job.backend)
            self._forget(job.id)
            limits = limits_for(self.settings(), job.path)
            if limits is None:
                self.finisher.succeed_together(job, outcome.result)
            else:  # the transcript is saved (state writing) before diarization starts
                job = self.store.save_result(job.id, outcome.result.to_dict())
                try:
                    self.finisher.succeed(job, self._with_speakers(job, outcome.result))
                except DiarizationInterrupted:
                    return  # stopping: still writing, labelled after the restart
            chunked.finished(job)
        elif isinstance(outcome, Failed):
            self._handle_error(self.store.get(job.id), outcome.error)
        elif isinstance(outcome, Gone):
            log.info("future_gone", job=job.id, file=job.path, reason=outcome.reason)
            self._give_back(job)

    def _write_saved(self, job: Job) -> None:
        """Write out the result saved before a crash, or queue the job again without one."""
        stored = self.store.result_for(job.sha256, job.settings_key) if job.sha256 else None
        if stored is None:
            self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())
            return
        try:
            result = self._with_speakers(job, Transcription.from_dict(stored))
        except DiarizationInterrupted:
            return  # stopping: still writing, labelled after the restart
        self.finisher.succeed(job, result)

    def _identified(self, job: Job) -> Job:
        """Return ``job`` with its content hash, reading the file now when intake could not.

        A file refused at intake (unreadable, too big) is recorded without a hash, and an
        empty one with the empty content's; either may be fixed and retried. Its transcript
        needs the real hash, and its result must not be kept under a key it would share
        with every other such file.
        """
        if job.sha256 not in ("", EMPTY_SHA256):
            return job
        self.finisher.source_of(job)  # the one clear sentence for a gone or unreadable file
        root, path = self.finisher.where_is(job)
        return self.store.identify(job.id, hash_source(path, inside=root))

    def _with_speakers(self, job: Job, result: Transcription) -> Transcription:
        """Return ``result`` with speaker labels when the job's folder wants them; a
        failure leaves a warning in it, never a failed job."""
        limits = limits_for(self.settings(), job.path)
        if limits is None:
            return result
        try:
            source = self.finisher.source_of(job)
        except DropscribeError as exc:
            return skipped(result, exc)
        limit = self.settings().transcribe.max_duration_seconds
        labelled = add_speakers(
            result,
            source,
            limits,
            max_duration=limit,
            stopping=self.runner.stopping,
            label=job.path,  # relative, as every other log line names the file
        )
        # Kept in place of the unlabelled one, so that a duplicate reuses the labels.
        self.store.replace_result(job.id, labelled.to_dict())
        return labelled

    def _submit_and_wait(self, job: Job) -> Outcome | None:
        """Submit a claimed job (or take up its saved future) and wait for its outcome;
        None when told to stop or when the job went to a fallback backend."""
        if job.state == JobState.SUBMITTING:
            future = self._submit(job)
            if future is None:
                return None
            job = self.store.move(
                job.id, JobState.RUNNING, future=future.to_dict(), count_submission=True
            )
            log.info(
                "job_submitted",
                job=job.id,
                file=job.path,
                backend=job.backend,
                remote_id=future.remote_id,
                attempt=job.attempts,
            )
        else:
            assert job.future is not None
            future = Future.from_dict(job.future)
        return self.runner.wait(job.backend, future)

    def _submit(self, job: Job) -> Future | None:
        source = self.finisher.source_of(job)  # raises the one sentence for a vanished file
        chosen = self.runner.route(job.backend, job.size)
        if chosen != job.backend:
            log.info("using_fallback", job=job.id, file=job.path, backend=chosen)
            self._give_back(job, backend=chosen)
            return None
        limit = self.settings().transcribe.max_duration_seconds
        request = Request(job.id, source, job.path, job.size, job.language, job.task, limit)
        return self.runner.submit(job.backend, request)

    def _hand_back(self, job: Job) -> None:
        """On shutdown: remote futures stay saved and are polled after the restart;
        work held in this process goes back to the queue without costing an attempt."""
        if self.runner.backend(job.backend).holds_work_in_process:
            self._give_back(job)
            log.info("job_handed_back", job=job.id, file=job.path)

    def _give_back(self, job: Job, **fields: Any) -> None:
        """Put the job back in the queue now, without counting the attempt it was on:
        what stopped it was not the file's fault."""
        self.store.move(
            job.id,
            JobState.QUEUED,
            attempts=max(0, job.attempts - 1),
            next_attempt_at=self.clock(),
            future=None,
            **fields,
        )

    def _handle_error_safely(self, job: Job, error: DropscribeError) -> None:
        try:
            self._handle_error(self.store.get(job.id), error)
        except Exception:
            # Even the error could not be recorded (a full disk, say): the job keeps its
            # state and is taken up again at the next start; the log says so now.
            log.exception("job_stuck", job=job.id, file=job.path, error=str(error))

    def _handle_error(self, job: Job, error: DropscribeError) -> None:
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
        decision = decide(history, error, now, rules, self._rng.random())
        if not isinstance(decision, Fail):
            with self._lock:
                self._histories[job.id] = after(history, error, decision, now)
        if isinstance(decision, Fail):
            self._forget(job.id)
            self.finisher.fail(job, error, gave_up=decision.gave_up)
        elif isinstance(decision, Pause):
            self.pauses.pause(job.backend, decision.until)
            log.warning(
                "backend_down",
                backend=job.backend,
                job=job.id,
                error=str(error),
                retry_in=round(decision.until - now, 1),
            )
            self._requeue(job, decision.until, error, spends_attempt=False)
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
            self._requeue(job, decision.at, error, spends_attempt=decision.spends_attempt)

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._histories.pop(job_id, None)

    def _requeue(
        self, job: Job, when: float, error: DropscribeError, *, spends_attempt: bool
    ) -> None:
        """Put the job back in the queue until ``when``, noting why; its future is dropped."""
        fields: dict[str, Any] = {} if spends_attempt else {"attempts": max(0, job.attempts - 1)}
        self.store.move(
            job.id,
            JobState.QUEUED,
            next_attempt_at=when,
            error=str(error),
            error_detail=getattr(error, "detail", None),
            future=None,
            **fields,
        )
