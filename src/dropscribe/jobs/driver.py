"""One claimed job, driven to its outcome; every state change goes to the store first.

The steps of a try are the :class:`~dropscribe.jobs.runner.Runner`'s (shared with
``dropscribe transcribe``); what follows a failure is the retry policy's decision.
This module turns both into store moves.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.audio.headers import header_seconds
from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Request
from dropscribe.config import RemoteSettings, Settings
from dropscribe.errors import BadInput, DropscribeError, Retryable, local_fault
from dropscribe.jobs.chunking.chunks import ChunkedUploads
from dropscribe.jobs.chunking.run import SlotLender
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.counters import BackendPauses, JobCounters
from dropscribe.jobs.held import HeldWork
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.retry_policy import (
    Fail,
    JobHistory,
    Pause,
    Retry,
    RetryRules,
    carry_out,
    give_back,
)
from dropscribe.jobs.runner import Runner
from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.sources import EMPTY_SHA256, hash_source, open_source
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
        readiness: Readiness | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.finisher = finisher
        self.runner = runner
        self.clock = clock
        self.pauses = pauses
        self.counters = counters
        self.lender = lender
        self.readiness = readiness or Readiness(clock)
        #: Jobs whose write met a disk fault, waiting for the disk (see jobs/held.py).
        self.held = HeldWork(self.readiness, settings().paths)
        #: Each job's history of waits that spent no attempt (kept while the daemon runs;
        #: a restart forgets it, which only errs on the side of waiting longer).
        self._histories: dict[int, JobHistory] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()

    def run(self, job: Job) -> None:
        """Drive ``job`` until it is done, failed, queued again, handed back or held."""
        self._guarded(job, None, self._drive)

    def resume(self, job: Job, result: Transcription | None) -> None:
        """Take up a job held for the disk (with its result, if the store has none)."""
        self._guarded(job, result, lambda job: self._resume(job, result))

    def _guarded(
        self, job: Job, result: Transcription | None, action: Callable[[Job], None]
    ) -> None:
        try:
            action(job)
        except DropscribeError as exc:
            self._handle_error_safely(job, exc)
        except Exception as exc:  # a bug must not stop the daemon: retry, then fail clearly
            if local_fault(exc) is not None:  # the machine's disk, not the file: wait
                self.held.hold(job.id, result, exc)
                return
            log.exception("job_crashed", job=job.id, file=job.path)
            self._handle_error_safely(job, Retryable(f"Internal error: {exc!r}"))

    def _resume(self, job: Job, result: Transcription | None) -> None:
        """Take up a job held for the disk: write what it has, never decode it again."""
        if job.state == JobState.FAILED:
            self.finisher.recover()  # its error sidecar and the move to the failed folder
            return
        if result is not None and job.state in IN_FLIGHT:
            self._finish_done(job, result)  # says itself whether the disk is fine again
            return
        if job.state == JobState.WRITING:
            self._write_saved(job)
        elif job.state in IN_FLIGHT:  # held before it had a result: queued again, no attempt
            self._give_back(job)
        else:
            return
        self.readiness.disk_ok()

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
            outcome = self._timed(job, self._submit_and_wait(job))
            if outcome is None and self.store.get(job.id).state == JobState.QUEUED:
                return  # handed to the fallback
        if outcome is None:
            self._hand_back(job)
        elif isinstance(outcome, Done):
            self.pauses.clear(job.backend)
            self._forget(job.id)
            if not self._finish_done(job, outcome.result):
                return
            chunked.finished(job)
        elif isinstance(outcome, Failed):
            self._handle_error(self.store.get(job.id), outcome.error)
        elif isinstance(outcome, Gone):
            log.info("future_gone", job=job.id, file=job.path, reason=outcome.reason)
            self._give_back(job)

    def _timed(self, job: Job, outcome: Outcome | None) -> Outcome | None:
        """A file sent as it is to a remote engine: its length from its own header when
        that states it, not where the server's last words end (most give no duration).
        The local engine counted the samples it decoded: its length stands."""
        remote = isinstance(self.settings().backend_settings(job.backend), RemoteSettings)
        if not isinstance(outcome, Done) or not remote:
            return outcome
        try:
            root, path = self.finisher.where_is(job)
            with open_source(path, inside=root) as stream:  # never through a link
                seconds = header_seconds(stream)
        except (OSError, DropscribeError):
            return outcome  # gone since: the server's word will do
        if seconds is None:
            return outcome
        # Never shorter than the words: a header may understate a file that grew.
        ends = [segment["end"] for segment in outcome.result.segments]
        duration = round(max([seconds, *ends]), 3)
        return Done(dataclasses.replace(outcome.result, duration=duration))

    def _finish_done(self, job: Job, result: Transcription) -> bool:
        """Save ``result`` and write the job out; return False when it is not done yet
        (stopping while labelling speakers, or held for the disk with its result)."""
        limits = limits_for(self.settings(), job.path)
        try:
            if limits is None:
                if job.state == JobState.WRITING:  # saved already: held after the save
                    self.finisher.succeed(job, result)
                else:
                    self.finisher.succeed_together(job, result)
            else:  # the transcript is saved (state writing) before diarization starts
                if job.state != JobState.WRITING:
                    job = self.store.save_result(job.id, result.to_dict())
                try:
                    self.finisher.succeed(job, self._with_speakers(job, result))
                except DiarizationInterrupted:
                    return False  # stopping: still writing, labelled after the restart
        except Exception as exc:
            if local_fault(exc) is None:
                raise
            self.held.hold(job.id, result, exc)  # kept here: the store may not have it
            return False
        self.readiness.disk_ok()
        return True

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
        settings = self.settings()
        limit = settings.transcribe.max_duration_seconds
        request = Request(
            job.id,
            source,
            job.path,
            job.size,
            job.language,
            job.task,
            limit,
            words=settings.words_for(job.path),
        )
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
            attempts=give_back(job.attempts),
            next_attempt_at=self.clock(),
            future=None,
            **fields,
        )

    def _handle_error_safely(self, job: Job, error: DropscribeError) -> None:
        try:
            self._handle_error(self.store.get(job.id), error)
        except Exception as exc:
            if local_fault(exc) is not None:  # recording it met the disk's fault: wait
                self.held.hold(job.id, None, exc)
                return
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
        step = carry_out(history, error, now, rules, self._rng.random())
        decision = step.decision
        if isinstance(decision, Fail) and self._inbox_away(error):
            self._give_back(job)  # its file is on a share that went away: held, not failed
            return
        if isinstance(decision, Fail):
            self._forget(job.id)
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

    def _inbox_away(self, error: DropscribeError) -> bool:
        """Return whether a bad-input failure may be the inbox's absence, not the file's."""
        return isinstance(error, BadInput) and self.readiness.inbox_unavailable_now()

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._histories.pop(job_id, None)
