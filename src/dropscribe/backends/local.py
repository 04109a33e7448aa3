"""The embedded engine: faster-whisper in worker processes (DESIGN.md section 3).

Each worker loads the model once and keeps it warm. ``submit`` hands a file
to the least busy worker; a reader thread per worker collects its messages;
``poll`` blocks briefly on the job's outcome. A worker that dies, hangs past
its time limit or grows past its memory limit is killed and replaced: the
file it was transcribing is retried, files merely waiting on it are handed
back without counting an attempt.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import structlog

from dropscribe.backends.base import (
    Done,
    Failed,
    Future,
    Gone,
    Outcome,
    Pending,
    ProgressCallback,
    Request,
)
from dropscribe.backends.local_memory import machine_memory_mb, worker_memory_limit_mb
from dropscribe.backends.local_model import resolve_model
from dropscribe.backends.local_threads import plan_threads
from dropscribe.backends.local_worker import main as worker_main
from dropscribe.config import LocalSettings, Settings
from dropscribe.errors import BadInput, Permanent, Retryable, ServerDown
from dropscribe.outbox.transcript import Transcription

log = structlog.get_logger("dropscribe.local")

#: Time allowed to decode one file before the worker counts as hung.
DECODE_LIMIT_SECONDS = 300.0


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


class _Worker:
    """One worker process and the thread that reads its messages."""

    def __init__(self, backend: LocalBackend, options: dict[str, Any]) -> None:
        self.backend = backend
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.connection: Connection = parent
        self.process: BaseProcess = context.Process(
            target=worker_main, args=(child, options), daemon=True, name="dropscribe-worker"
        )
        self.process.start()
        child.close()
        self.ready = threading.Event()
        self.fatal: str | None = None
        self.multilingual: bool | None = None
        self.jobs: dict[int, _JobSlot] = {}
        #: Jobs being transcribed now (one per parallel decode).
        self.running: set[int] = set()
        self.dead = False
        assert self.process.pid is not None
        self.pid: int = self.process.pid
        self.exited = threading.Event()
        threading.Thread(target=self._read, daemon=True, name="dropscribe-worker-reader").start()

    def _read(self) -> None:
        while True:
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                break
            self.backend._handle(self, message)
        # Only this thread reaps the process: two threads joining it race on waitpid.
        self.process.join(timeout=10)
        self.exited.set()
        self.backend._worker_died(self)

    def send(self, payload: dict[str, Any]) -> None:
        self.connection.send(payload)

    def kill(self) -> None:
        self.dead = True
        if not self.exited.is_set():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        self.exited.wait(timeout=10)
        self.connection.close()

    def stop(self, grace: float = 2.0) -> None:
        """Ask the worker to exit by itself (cleaning up after itself); kill it if it does not.

        An explicit message, because closing our end while the reader thread is blocked
        in recv() on it does not deliver end-of-file to the worker.
        """
        self.dead = True
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(None)
        if not self.exited.wait(timeout=grace):
            log.warning("worker_killed", pid=self.pid, reason="did not exit in time")
        self.kill()

    def memory_mb(self) -> float:
        """Return the worker's resident memory in MiB (0 when unknown)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as stream:
                pages = int(stream.read().split()[1])
        except (OSError, ValueError, IndexError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class LocalBackend:
    """faster-whisper in a small pool of worker processes."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings: LocalSettings = settings.backends.local
        self.max_duration = settings.transcribe.max_duration_seconds
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
        self.progress_callback: ProgressCallback | None = None

    # --- the contract ---------------------------------------------------------

    def settings_fingerprint(self) -> dict[str, Any]:
        keep = (
            "model",
            "compute_type",
            "beam_size",
            "vad_filter",
            "word_timestamps",
            "initial_prompt",
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
        payload = {
            "job_id": request.job_id,
            "path": str(request.path),
            "language": request.language,
            "task": request.task,
            "max_duration": self.max_duration,
            "audio_track": self.audio_track,
        }
        try:
            worker.send(payload)
        except (OSError, ValueError) as exc:
            self._forget(request.job_id)
            raise Retryable("The transcription worker could not take the file.") from exc
        return Future(
            backend=self.name,
            remote_id=f"{self.instance}:{request.job_id}",
            submitted_at=time.time(),
            data={"instance": self.instance, "pid": worker.process.pid},
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
        if not english_only:
            return
        if request.task == "translate":
            raise Permanent(
                f"The model {self.model_name} only transcribes English and cannot translate; "
                'set task = "transcribe" or use a multilingual model such as "small".'
            )
        if request.language not in ("auto", "en"):
            raise Permanent(
                f"The model {self.model_name} only knows English but language "
                f'"{request.language}" was asked for; use a multilingual model such as '
                '"small" for this folder.'
            )

    # --- workers --------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "model_load": self.choice.load,
            "model_name": settings.model,
            "device": settings.device,
            "compute_type": settings.compute_type,
            "cpu_threads": settings.cpu_threads,
            "parallel_decodes": settings.parallel_decodes,
            "workers": settings.workers,
            "beam_size": settings.beam_size,
            "vad_filter": settings.vad_filter,
            "word_timestamps": settings.word_timestamps,
            "initial_prompt": settings.initial_prompt,
            "batched": settings.batched,
            "batch_size": settings.batch_size,
        }

    def warm_up(self) -> None:
        """Start the workers now, so the model loads while the daemon scans the inbox."""
        with self._lock:
            self._start_missing_workers()

    def _start_missing_workers(self) -> None:
        self._workers = [w for w in self._workers if not w.dead]
        while len(self._workers) < self.settings.workers:
            self._workers.append(_Worker(self, self._options()))

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

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.multilingual = bool(message[1]["multilingual"])
            self.concurrency = self.settings.workers * (int(message[1]["parallel"]) + 1)
            worker.ready.set()
            log.info(
                "worker_ready",
                pid=message[1]["pid"],
                model=self.choice.description,
                parallel_decodes=message[1]["parallel"],
                threads_per_decode=message[1]["threads"],
                memory_limit_mb=self.memory_limit_mb,
            )
            return
        if kind == "fatal":
            worker.fatal = message[1]
            worker.ready.set()
            log.error("worker_failed_to_start", error=message[1])
            return
        slot = worker.jobs.get(message[1])
        if slot is None:
            return
        if kind == "audio":
            track = message[2]
            # Worth a line when there was a choice to make (several tracks, a fallback).
            level = log.info if track["tracks"] > 1 or track["fallback"] else log.debug
            level("audio_track", job=slot.job_id, **track)
        elif kind == "started":
            worker.running.add(slot.job_id)
            slot.started = time.monotonic()
            slot.duration = float(message[2])
        elif kind == "progress":
            slot.position = float(message[2])
            if self.progress_callback is not None:
                self.progress_callback(slot.position, slot.duration)
        elif kind == "done":
            self._settle(slot, Done(Transcription.from_dict(message[2])))
        elif kind == "error":
            error = BadInput(message[3]) if message[2] == "bad_input" else Retryable(message[3])
            self._settle(slot, Failed(error))

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
        code = worker.process.exitcode
        already_dead = worker.dead
        worker.dead = True
        if not worker.ready.is_set():
            # Died while loading: whoever waits for it must not wait for the full timeout.
            worker.fatal = worker.fatal or (
                f"The transcription worker exited while loading the model (exit code {code})."
            )
            worker.ready.set()
        if not already_dead:
            log.warning("worker_died", pid=worker.process.pid, exit_code=code)
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
        now = time.monotonic()
        limit = self.settings.timeout_seconds
        if slot.started is not None:
            allowed = limit or 3 * (slot.duration or 0) + 60
            if now - slot.started > allowed:
                log.warning("worker_timeout", job=slot.job_id, seconds=round(allowed))
                self._fail_jobs_of(
                    worker,
                    f"Transcription took longer than {allowed:.0f} s; "
                    "the worker was stopped (raise backends.local.timeout_seconds "
                    "for very slow machines).",
                    culprit=slot.job_id,
                )
                worker.kill()
                return
        elif not worker.running and now - slot.submitted > DECODE_LIMIT_SECONDS:
            self._fail_jobs_of(
                worker,
                "Decoding the file took longer than "
                f"{DECODE_LIMIT_SECONDS:.0f} s; the worker was stopped.",
            )
            worker.kill()
            return
        limit_mb = self.memory_limit_mb
        if worker.memory_mb() > limit_mb:
            log.warning("worker_memory_limit", job=slot.job_id, limit_mb=limit_mb)
            self._fail_jobs_of(
                worker,
                f"The worker used more than {limit_mb} MB of memory "
                "(backends.local.max_memory_mb) and was stopped.",
            )
            worker.kill()
