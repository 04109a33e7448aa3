"""The local engine's worker processes, the jobs each holds, and what their messages mean.

:meth:`WorkerPool.submit` hands a file to the least busy worker; a reader
thread per worker (:mod:`.process`) calls :meth:`WorkerPool._handle` with each
message; :meth:`WorkerPool.outcome` waits briefly for a job's. A worker that
dies, sends what its protocol does not know, hangs past its time limit or
grows past its memory limit is killed and replaced: the file it was
transcribing is retried, files merely waiting on it are handed back without
counting an attempt.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from dropscribe.backends.base import Done, Failed, Gone, Outcome, Pending
from dropscribe.backends.local.limits import breached_limit
from dropscribe.backends.local.model import ModelChoice
from dropscribe.backends.local.process import LOAD_SECONDS, WORKER_TARGET, WorkerProcess
from dropscribe.backends.local.protocol import (
    EngineOptions,
    Fatal,
    Finished,
    Job,
    JobFailed,
    Progress,
    Ready,
    Started,
    TrackChosen,
    WorkerMessage,
)
from dropscribe.backends.local.threads import plan_threads
from dropscribe.config import LocalSettings
from dropscribe.errors import BadInput, Retryable, ServerDown

log = structlog.get_logger("dropscribe.local")

_Worker = WorkerProcess["JobSlot"]


@dataclass
class JobSlot:
    """A job on a worker: where it is, and its outcome once settled."""

    job_id: int
    worker: _Worker
    submitted: float
    started: float | None = None
    duration: float | None = None
    position: float = 0.0
    outcome: Outcome | None = None
    event: threading.Event = field(default_factory=threading.Event)


class WorkerPool:
    """``settings.workers`` worker processes, each loading ``choice`` once."""

    def __init__(
        self,
        settings: LocalSettings,
        choice: ModelChoice,
        memory_limit_mb: int,
        target: str = WORKER_TARGET,
    ) -> None:
        self.settings, self.choice = settings, choice
        self.memory_limit_mb = memory_limit_mb
        #: What the workers run (another program only for a test of a misbehaving one).
        self.target = target
        self.concurrency = _planned_concurrency(settings)
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._slots: dict[int, JobSlot] = {}
        self._closed = False

    def multilingual(self) -> bool | None:
        """Return what a loaded worker found its model to be (None before one loaded)."""
        with self._lock:
            known = [w.multilingual for w in self._workers if w.multilingual is not None]
        return known[0] if known else None

    def warm_up(self) -> None:
        with self._lock:
            self._start_missing_workers()

    def submit(self, job: Job) -> JobSlot:
        """Send ``job`` to the least busy worker (started first if need be).

        Raises:
            ServerDown: the workers are shutting down or could not start.
            Retryable: the worker could not take the file.
        """
        worker = self._pick_worker()
        slot = JobSlot(job.job_id, worker, time.monotonic())
        with self._lock:
            self._slots[job.job_id] = slot
            worker.jobs[job.job_id] = slot
        try:
            worker.send(job)
        except (OSError, ValueError) as exc:
            self._forget(job.job_id)
            raise Retryable("The transcription worker could not take the file.") from exc
        return slot

    def outcome(self, job_id: int, wait: float) -> Outcome:
        """Return the job's outcome, waiting up to ``wait`` seconds for one (a worker
        past its limits is stopped here, and its jobs settled)."""
        slot = self._slots.get(job_id)
        if slot is None:
            return Gone("the worker no longer knows this job")
        slot.event.wait(wait)
        if slot.outcome is None:
            self._enforce_limits(slot)
        if slot.outcome is None:
            return Pending(position=slot.position, duration=slot.duration)
        self._forget(job_id)
        return slot.outcome

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def _start_missing_workers(self) -> None:
        self._workers = [w for w in self._workers if not w.dead]
        while len(self._workers) < self.settings.workers:
            options = EngineOptions.from_settings(self.settings, self.choice.load)
            try:
                worker = _Worker(options, self._handle, self._worker_died, self.target)
            except OSError as exc:  # no process to be had (out of memory or pids)
                raise ServerDown(f"The transcription worker could not start ({exc}).") from exc
            self._workers.append(worker)

    def _pick_worker(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise ServerDown("The local engine is shutting down.")
            self._start_missing_workers()
            worker = min(self._workers, key=lambda w: len(w.jobs))
        # The worker's own start-up limit kills it if it never loads; this is the backstop.
        if not worker.ready.wait(timeout=LOAD_SECONDS + 30):
            worker.kill()
            raise ServerDown(f"The transcription worker did not start within {LOAD_SECONDS:.0f} s.")
        if worker.fatal is not None or worker.dead:
            message = worker.fatal or "The transcription worker stopped while starting."
            worker.kill()
            raise ServerDown(message)
        return worker

    def _handle(self, worker: _Worker, message: WorkerMessage) -> None:
        """Act on one message from a worker (called on the worker's reader thread)."""
        if isinstance(message, Ready | Fatal):
            self._started(worker, message)
            return
        slot = worker.jobs.get(message.job_id)
        if slot is None:
            return  # settled already (the worker was given up on)
        if isinstance(message, TrackChosen):
            _log_track(slot.job_id, message.fields)
        elif isinstance(message, Started):
            worker.running.add(slot.job_id)
            slot.started = time.monotonic()
            slot.duration = message.duration
        elif isinstance(message, Progress):
            slot.position = message.seconds
        elif isinstance(message, Finished):
            _log_finished(slot.job_id, message)
            self._settle(slot, Done(message.result))
        elif isinstance(message, JobFailed):
            kind = BadInput if message.bad_input else Retryable
            self._settle(slot, Failed(kind(message.message, message.detail)))

    def _started(self, worker: _Worker, message: Ready | Fatal) -> None:
        if isinstance(message, Fatal):
            worker.fatal = message.message
            log.error("worker_failed_to_start", error=message.message)
        else:
            worker.multilingual = message.multilingual
            self.concurrency = self.settings.workers * (message.parallel_decodes + 1)
            _log_ready(message, self.choice.description, self.memory_limit_mb, self.settings.model)
        worker.ready.set()

    def _settle(self, slot: JobSlot, outcome: Outcome) -> None:
        worker = slot.worker
        with self._lock:
            worker.jobs.pop(slot.job_id, None)
            worker.running.discard(slot.job_id)
        slot.outcome = outcome
        slot.event.set()

    def _forget(self, job_id: int) -> None:
        with self._lock:
            slot = self._slots.pop(job_id, None)
            if slot is not None:
                slot.worker.jobs.pop(job_id, None)

    def _worker_died(self, worker: _Worker) -> None:
        code, already_dead = worker.exit_code, worker.dead
        worker.dead = True
        if not worker.ready.is_set():
            # Died while loading: whoever waits for it must not wait for the full timeout.
            worker.fatal = (
                worker.fatal
                or worker.failure
                or (f"The transcription worker exited while loading the model (exit code {code}).")
            )
            worker.ready.set()
        if not already_dead:
            log.warning("worker_died", pid=worker.pid, exit_code=code, reason=worker.failure)
        crash = f"The transcription worker stopped unexpectedly (exit code {code})."
        self._fail_jobs_of(worker, worker.failure or crash)

    def _fail_jobs_of(self, worker: _Worker, reason: str, culprit: int | None = None) -> None:
        """Settle every job of a worker that is going away.

        The culprit is retried, at the cost of an attempt; files merely queued behind
        it lose nothing. Without a known culprit (a crash, the memory limit), every
        file being transcribed at the time counts as one: a file that crashes the
        worker each time must run out of attempts even when it has company.
        """
        with self._lock:
            slots = list(worker.jobs.values())
            suspects = {culprit} if culprit is not None else set(worker.running)
        for slot in slots:
            if not suspects or slot.job_id in suspects:
                self._settle(slot, Failed(Retryable(reason)))
            else:
                self._settle(slot, Gone("the worker stopped while this file waited"))

    def _enforce_limits(self, slot: JobSlot) -> None:
        worker = slot.worker
        breach = breached_limit(
            now=time.monotonic(),
            submitted=slot.submitted,
            started=slot.started,
            duration=slot.duration,
            worker_busy=bool(worker.running),
            timeout_seconds=self.settings.timeout_seconds,
            memory_mb=worker.memory_mb(),
            max_memory_mb=self.memory_limit_mb,
        )
        if breach is None:
            return
        log.warning(breach.log_event, job=slot.job_id, pid=worker.pid)
        culprit = slot.job_id if breach.culprit_only else None
        self._fail_jobs_of(worker, breach.reason, culprit=culprit)
        worker.kill()


def _planned_concurrency(settings: LocalSettings) -> int:
    """Return the files to have in flight before a worker has said how many decodes it runs
    (a GPU runs one): one per parallel decode of the plan for a CPU, and one decoded ahead
    per worker to keep it busy between files."""
    plan = plan_threads(
        settings.cpu_threads, settings.parallel_decodes, settings.workers, device=settings.device
    )
    return settings.workers * (plan.parallel_decodes + 1)


#: Keys of the log line a worker's fields may not take (they are the line's own).
_OWN_KEYS = frozenset({"event", "job", "level", "timestamp"})


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """Return a worker's log fields without those that would clash with the line's own."""
    return {key: value for key, value in values.items() if key not in _OWN_KEYS}


def _log_track(job_id: int, fields: dict[str, object]) -> None:
    # Worth a line when there was a choice to make (several tracks, a fallback).
    chose = fields.get("tracks") != 1 or bool(fields.get("fallback"))
    (log.info if chose else log.debug)("audio_track", job=job_id, **_fields(fields))


def _log_ready(ready: Ready, model: str, memory_limit_mb: int, model_name: str) -> None:
    log.info(
        "worker_ready",
        pid=ready.pid,
        model=model,
        parallel_decodes=ready.parallel_decodes,
        threads_per_decode=ready.threads_per_decode,
        memory_limit_mb=memory_limit_mb,
    )
    if not ready.multilingual:
        log.info(
            "english_only_model",
            model=model_name,
            note='language = "auto" means English with this model; use a multilingual '
            'model such as "small" for other languages',
        )


def _log_finished(job_id: int, finished: Finished) -> None:
    result = finished.result
    seconds = round(result.prediction_time_ms / 1000, 2)
    log.info("local_decoded", job=job_id, decoding=finished.decoding, seconds=seconds)
    if finished.coverage is not None:
        # Speech the decoder had left without words, decoded again (transcript/coverage.py).
        log.info("speech_recovered", job=job_id, **_fields(finished.coverage))
    for warning in result.warnings:
        log.warning("transcript_warning", job=job_id, warning=warning)
