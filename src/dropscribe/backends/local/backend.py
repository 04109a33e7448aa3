"""The embedded engine: faster-whisper in worker processes (DESIGN.md section 3).

Each worker loads the model once and keeps it warm. ``submit`` hands a file
to the least busy worker; a reader thread per worker collects its messages;
``poll`` blocks briefly on the job's outcome. A worker that dies, hangs past
its time limit or grows past its memory limit is killed and replaced: the
file it was transcribing is retried, files merely waiting on it are handed
back without counting an attempt.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog

from dropscribe.backends.base import (
    Done,
    Failed,
    Future,
    Gone,
    Outcome,
    Pending,
    Request,
)
from dropscribe.backends.local.limits import breached_limit
from dropscribe.backends.local.memory import machine_memory_mb, worker_memory_limit_mb
from dropscribe.backends.local.model import resolve_model
from dropscribe.backends.local.process import WorkerProcess
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
from dropscribe.config import LocalSettings, Settings
from dropscribe.errors import BadInput, Permanent, Retryable, ServerDown
from dropscribe.languages import english_only_refusal

log = structlog.get_logger("dropscribe.local")

_Worker = WorkerProcess["_JobSlot"]


@dataclass
class _JobSlot:
    job_id: int
    worker: _Worker
    submitted: float
    started: float | None = None
    duration: float | None = None
    position: float = 0.0
    outcome: Outcome | None = None
    event: threading.Event = field(default_factory=threading.Event)


class LocalBackend:
    """faster-whisper in a small pool of worker processes."""

    name = "local"
    holds_work_in_process = True

    def __init__(self, settings: Settings) -> None:
        self.settings: LocalSettings = settings.backends.local
        self.audio_track = settings.transcribe.audio_track
        self.memory_limit_mb = worker_memory_limit_mb(
            self.settings.max_memory_mb, self.settings.workers, machine_memory_mb()
        )
        self.choice = resolve_model(self.settings.model)
        self.model_name: str | None = self.settings.model
        self.fallback: str | None = self.settings.fallback
        self.max_upload_bytes: int | None = None
        # A file per parallel decode, and one decoding ahead per worker to keep them
        # busy between files. The worker says how many decodes it runs once loaded (a
        # GPU runs one); until then, the plan for a CPU.
        local = self.settings
        plan = plan_threads(
            local.cpu_threads, local.parallel_decodes, local.workers, device=local.device
        )
        self.concurrency = local.workers * (plan.parallel_decodes + 1)
        self.instance = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._slots: dict[int, _JobSlot] = {}
        self._closed = False

    # --- the contract ---------------------------------------------------------

    def settings_fingerprint(self) -> dict[str, Any]:
        keep = (
            "model",
            "compute_type",
            "beam_size",
            "vad_filter",
            "word_timestamps",
            "initial_prompt",
            "vocabulary_as",
        )
        return {key: getattr(self.settings, key) for key in keep}

    def check(self) -> list[str]:
        choice = self.choice
        problems = []
        if choice.description.startswith("the missing directory"):
            problems.append(
                f"backends.local.model: {self.settings.model} is not a directory; point it at "
                'a CTranslate2 Whisper model directory or use "tiny.en"'
            )
        try:
            import faster_whisper  # type: ignore[import-untyped,unused-ignore] # noqa: F401
        except ImportError:
            problems.append(
                "faster-whisper is not installed; install dropscribe with the 'local' extra "
                "(pip install 'dropscribe[local]')"
            )
        return problems

    def submit(self, request: Request) -> Future:
        self._refuse_wrong_language(request)
        worker = self._pick_worker()
        slot = _JobSlot(request.job_id, worker, time.monotonic())
        with self._lock:
            self._slots[request.job_id] = slot
            worker.jobs[request.job_id] = slot
        job = Job(
            request.job_id,
            str(request.path),
            request.language,
            request.task,
            # The limit in force for this job, not one copied at start (reload applies it).
            request.max_duration_seconds,
            self.audio_track,
            request.watched,
            terms=request.words.terms_text(),
            prompt=request.words.prompt,
        )
        try:
            worker.send(job)
        except (OSError, ValueError) as exc:
            self._forget(request.job_id)
            raise Retryable("The transcription worker could not take the file.") from exc
        return Future(
            backend=self.name,
            remote_id=f"{self.instance}:{request.job_id}",
            submitted_at=time.time(),
            data={"instance": self.instance, "pid": worker.pid},
        )

    def poll(self, future: Future, wait: float) -> Outcome:
        if future.data.get("instance") != self.instance:
            return Gone("the worker that held this job belongs to an earlier run")
        job_id = int(future.remote_id.rsplit(":", 1)[1])
        slot = self._slots.get(job_id)
        if slot is None:
            return Gone("the worker no longer knows this job")
        slot.event.wait(wait)
        if slot.outcome is None:
            self._enforce_limits(slot)
        if slot.outcome is not None:
            self._forget(job_id)
            return slot.outcome
        return Pending(position=slot.position, duration=slot.duration)

    def poll_delay(self, polls: int) -> float:
        return 0.0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    # --- the wrong-language guard ---------------------------------------------------

    def _refuse_wrong_language(self, request: Request) -> None:
        english_only = self.choice.english_only
        with self._lock:
            known = [w.multilingual for w in self._workers if w.multilingual is not None]
        if known:
            english_only = not known[0]
        if english_only:
            refusal = english_only_refusal(self.model_name, request.task, request.language)
            if refusal is not None:
                raise Permanent(refusal)

    # --- workers --------------------------------------------------------------

    def warm_up(self) -> None:
        """Start the workers now, so the model loads while the daemon scans the inbox."""
        with self._lock:
            self._start_missing_workers()

    def _start_missing_workers(self) -> None:
        self._workers = [w for w in self._workers if not w.dead]
        while len(self._workers) < self.settings.workers:
            options = EngineOptions.from_settings(self.settings, self.choice.load)
            self._workers.append(_Worker(options, self._handle, self._worker_died))

    def _pick_worker(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise ServerDown("The local engine is shutting down.")
            self._start_missing_workers()
            worker = min(self._workers, key=lambda w: len(w.jobs))
        if not worker.ready.wait(timeout=120):
            worker.kill()
            raise ServerDown("The transcription worker did not start within 120 s.")
        if worker.fatal is not None or worker.dead:
            message = worker.fatal or "The transcription worker stopped while starting."
            worker.kill()
            raise ServerDown(message)
        return worker

    def _handle(self, worker: _Worker, message: WorkerMessage) -> None:
        """Act on one message from a worker (called on the worker's reader thread)."""
        if isinstance(message, Ready):
            self._worker_ready(worker, message)
            return
        if isinstance(message, Fatal):
            worker.fatal = message.message
            worker.ready.set()
            log.error("worker_failed_to_start", error=message.message)
            return
        slot = worker.jobs.get(message.job_id)
        if slot is None:
            return  # settled already (the worker was given up on)
        if isinstance(message, TrackChosen):
            # Worth a line when there was a choice to make (several tracks, a fallback).
            fields = message.fields
            level = log.info if fields["tracks"] != 1 or fields["fallback"] else log.debug
            level("audio_track", job=slot.job_id, **fields)
        elif isinstance(message, Started):
            worker.running.add(slot.job_id)
            slot.started = time.monotonic()
            slot.duration = message.duration
        elif isinstance(message, Progress):
            slot.position = message.seconds
        elif isinstance(message, Finished):
            self._log_finished(slot, message)
            self._settle(slot, Done(message.result))
        elif isinstance(message, JobFailed):
            kind = BadInput if message.bad_input else Retryable
            error = kind(message.message, message.detail)
            self._settle(slot, Failed(error))

    def _worker_ready(self, worker: _Worker, ready: Ready) -> None:
        worker.multilingual = ready.multilingual
        self.concurrency = self.settings.workers * (ready.parallel_decodes + 1)
        worker.ready.set()
        log.info(
            "worker_ready",
            pid=ready.pid,
            model=self.choice.description,
            parallel_decodes=ready.parallel_decodes,
            threads_per_decode=ready.threads_per_decode,
            memory_limit_mb=self.memory_limit_mb,
        )
        if not ready.multilingual:
            log.info(
                "english_only_model",
                model=self.model_name,
                note='language = "auto" means English with this model; use a multilingual '
                'model such as "small" for other languages',
            )

    def _log_finished(self, slot: _JobSlot, finished: Finished) -> None:
        result = finished.result
        log.info(
            "local_decoded",
            job=slot.job_id,
            decoding=finished.decoding,
            seconds=round(result.prediction_time_ms / 1000, 2),
        )
        if finished.coverage is not None:
            # Speech the decoder had left without words, decoded again (transcript/coverage.py).
            log.info("speech_recovered", job=slot.job_id, **finished.coverage)
        for warning in result.warnings:
            log.warning("transcript_warning", job=slot.job_id, warning=warning)

    def _settle(self, slot: _JobSlot, outcome: Outcome) -> None:
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
        code = worker.exit_code
        already_dead = worker.dead
        worker.dead = True
        if not worker.ready.is_set():
            # Died while loading: whoever waits for it must not wait for the full timeout.
            worker.fatal = worker.fatal or (
                f"The transcription worker exited while loading the model (exit code {code})."
            )
            worker.ready.set()
        if not already_dead:
            log.warning("worker_died", pid=worker.pid, exit_code=code)
        self._fail_jobs_of(
            worker, f"The transcription worker stopped unexpectedly (exit code {code})."
        )

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

    def _enforce_limits(self, slot: _JobSlot) -> None:
        worker = slot.worker
        local = self.settings
        breach = breached_limit(
            now=time.monotonic(),
            submitted=slot.submitted,
            started=slot.started,
            duration=slot.duration,
            worker_busy=bool(worker.running),
            timeout_seconds=local.timeout_seconds,
            memory_mb=worker.memory_mb(),
            max_memory_mb=self.memory_limit_mb,
        )
        if breach is None:
            return
        log.warning(breach.log_event, job=slot.job_id, pid=worker.pid)
        self._fail_jobs_of(
            worker, breach.reason, culprit=slot.job_id if breach.culprit_only else None
        )
        worker.kill()
