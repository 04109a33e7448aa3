"""The jobs intake settles itself: files refused at intake, and copies of content
already transcribed (or being transcribed, whose result they wait for)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from dropscribe.errors import BadInput, local_fault
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.inbox.intake")


class IntakeSettler:
    """Settles the recorded jobs that need no engine: a refusal, or a duplicate."""

    def __init__(
        self,
        store: Store,
        finisher: Finisher,
        clock: Callable[[], float],
        readiness: Readiness,
    ) -> None:
        self.store = store
        self.finisher = finisher
        self.clock = clock
        self.readiness = readiness
        #: Recorded jobs whose settling met a disk fault: settled at the next batch.
        self.unsettled = False
        #: Copies waiting in ``discovered`` for the first job of their content to finish.
        self.waiting: set[int] = set()

    def complete(self, job: Job) -> None:
        """Finish a recorded job that intake itself settles: a refusal or a duplicate.

        If that fails, the file fails with the reason; if even that fails, the job is
        left in ``discovered`` and the next start tries again.
        """
        if job.state != JobState.DISCOVERED:
            return
        try:
            self._settle(job)
        except Exception as exc:
            fault = local_fault(exc)
            if fault is not None:  # the disk, not the file: settled once it is fixed
                self.readiness.disk_failed("the outbox or the store", fault)
                self.unsettled = True
                return
            log.exception("intake_error", file=job.path, job=job.id)
            if job.error is not None:
                return
            problem = BadInput(
                "dropscribe could not finish this file; fix the cause (the log and the "
                "detail say what went wrong) or report it, then retry it.",
                detail=f"{type(exc).__name__}: {exc}",
            )
            try:
                self.finisher.fail(self.store.get(job.id), problem)
            except Exception:
                log.exception("intake_error", file=job.path, job=job.id)

    def complete_unsettled(self) -> None:
        """Settle again the jobs a disk fault left unsettled, once."""
        if self.unsettled:
            self.unsettled = False
            for job in self.store.jobs([JobState.DISCOVERED]):
                self.complete(job)

    def settle_waiting(self) -> int:
        """Settle the copies that waited for their content's first job, now finished:
        its result is reused (or, if it failed, the copy is queued on its own)."""
        settled = 0
        for job_id in sorted(self.waiting):
            job = self.store.get(job_id)
            if job.state == JobState.DISCOVERED and self.store.active_twin(job) is not None:
                continue
            self.waiting.discard(job_id)
            self.complete(job)
            settled += 1
        return settled

    def _settle(self, job: Job) -> None:
        if job.error is not None:
            self.finisher.fail(job, BadInput(job.error, job.error_detail))
            return
        if self.store.active_twin(job) is not None:
            self.waiting.add(job.id)  # its content's first job is at work: wait for it
            return
        reused = self.store.result_for(job.sha256, job.settings_key)
        if reused is None:  # the result went missing since: transcribe it after all
            self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())
            return
        log.info("duplicate_reused", job=job.id, file=job.path)
        self.finisher.succeed(job, Transcription.from_dict(reused), final=JobState.SKIPPED)
