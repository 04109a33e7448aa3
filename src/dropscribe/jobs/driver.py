"""One claimed job, driven to its outcome; every state change goes to the store first.

The steps of a try are the :class:`~dropscribe.jobs.runner.Runner`'s (shared with
``dropscribe transcribe``); what follows a failure is :mod:`.failing`'s (the retry
policy's decision carried out), what follows a success :mod:`.writing`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Request
from dropscribe.config import Settings
from dropscribe.errors import DropscribeError, Retryable, local_fault
from dropscribe.jobs.chunking.as_is import cover_as_is
from dropscribe.jobs.chunking.chunks import ChunkedUploads
from dropscribe.jobs.chunking.run import SlotLender
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.counters import BackendPauses, JobCounters
from dropscribe.jobs.failing import TryFailures, give_back
from dropscribe.jobs.held import HeldWork
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.runner import Runner
from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.writing import ResultWriter
from dropscribe.sources import EMPTY_SHA256, hash_source
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
        self.failures = TryFailures(
            settings, store, finisher, clock, pauses, counters, self.readiness, self.held
        )
        self.writer = ResultWriter(
            settings, store, finisher, clock, runner.stopping, self.readiness, self.held
        )

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
            self.failures.handle_safely(job, exc)
        except Exception as exc:  # a bug must not stop the daemon: retry, then fail clearly
            if local_fault(exc) is not None:  # the machine's disk, not the file: wait
                self.held.hold(job.id, result, exc)
                return
            log.exception("job_crashed", job=job.id, file=job.path)
            self.failures.handle_safely(job, Retryable(f"Internal error: {exc!r}"))

    def _resume(self, job: Job, result: Transcription | None) -> None:
        """Take up a job held for the disk: write what it has, never decode it again."""
        if job.state == JobState.FAILED:
            self.finisher.recover()  # its error sidecar and the move to the failed folder
            return
        if result is not None and job.state in IN_FLIGHT:
            self.writer.finish(job, result)  # says itself whether the disk is fine again
            return
        if job.state == JobState.WRITING:
            self.writer.write_saved(job)
        elif job.state in IN_FLIGHT:  # held before it had a result: queued again, no attempt
            self._give_back(job)
        else:
            return
        self.readiness.disk_ok()

    def _drive(self, job: Job) -> None:
        if job.state == JobState.WRITING:
            self.writer.write_saved(job)
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
            outcome = self.writer.timed(job, self._submit_and_wait(job))
            if outcome is None and self.store.get(job.id).state == JobState.QUEUED:
                return  # handed to the fallback
            if isinstance(outcome, Done):  # gaps in its words: the coverage pass (as_is.py)
                source = self.finisher.source_of(job)
                covered = cover_as_is(chunked, job, backend, source, outcome.result)
                outcome = Done(covered) if isinstance(covered, Transcription) else covered
        if outcome is None:
            self._hand_back(job)
        elif isinstance(outcome, Done):
            self.pauses.clear(job.backend)
            self.failures.forget(job.id)
            if not self.writer.finish(job, outcome.result):
                return
            chunked.finished(job)
        elif isinstance(outcome, Failed):
            self.failures.handle(self.store.get(job.id), outcome.error)
        elif isinstance(outcome, Gone):
            log.info("future_gone", job=job.id, file=job.path, reason=outcome.reason)
            self._give_back(job)

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
        give_back(self.store, self.clock, job, **fields)
