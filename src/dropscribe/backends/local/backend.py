"""The embedded engine: faster-whisper in worker processes (DESIGN.md section 3).

Each worker loads the model once and keeps it warm (:mod:`.pool` runs them).
``submit`` hands a file to the least busy worker; ``poll`` blocks briefly on
the job's outcome. The contract's side lives here: what a transcript depends
on, what ``dropscribe check`` finds, the refusals before any work, and the
futures, which name this run of the engine (a restart makes them ``Gone``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from dropscribe.backends.base import Future, Gone, Outcome, Request
from dropscribe.backends.local.memory import machine_memory_mb, worker_memory_limit_mb
from dropscribe.backends.local.model import resolve_model
from dropscribe.backends.local.pool import WorkerPool
from dropscribe.backends.local.process import WORKER_TARGET
from dropscribe.backends.local.protocol import Job
from dropscribe.config import LocalSettings, Settings
from dropscribe.errors import Permanent
from dropscribe.languages import english_only_refusal


class LocalBackend:
    """faster-whisper in a small pool of worker processes."""

    name = "local"
    holds_work_in_process = True

    def __init__(self, settings: Settings, worker_target: str = WORKER_TARGET) -> None:
        self.settings: LocalSettings = settings.backends.local
        self.audio_track = settings.transcribe.audio_track
        self.memory_limit_mb = worker_memory_limit_mb(
            self.settings.max_memory_mb, self.settings.workers, machine_memory_mb()
        )
        self.choice = resolve_model(self.settings.model)
        self.model_name: str | None = self.settings.model
        self.fallback: str | None = self.settings.fallback
        self.max_upload_bytes: int | None = None
        self.instance = uuid.uuid4().hex
        #: ``worker_target`` is another program only for a test of a misbehaving worker.
        self.pool = WorkerPool(self.settings, self.choice, self.memory_limit_mb, worker_target)

    @property
    def concurrency(self) -> int:
        """Files in flight at once: one per parallel decode and one decoded ahead, per
        worker (known for certain once a worker has loaded: a GPU runs one decode)."""
        return self.pool.concurrency

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
            "respell_terms",
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
            term_list=request.words.terms,
            prompt=request.words.prompt,
        )
        slot = self.pool.submit(job)
        return Future(
            backend=self.name,
            remote_id=f"{self.instance}:{request.job_id}",
            submitted_at=time.time(),
            data={"instance": self.instance, "pid": slot.worker.pid},
        )

    def poll(self, future: Future, wait: float) -> Outcome:
        if future.data.get("instance") != self.instance:
            return Gone("the worker that held this job belongs to an earlier run")
        job_id = int(future.remote_id.rsplit(":", 1)[1])
        return self.pool.outcome(job_id, wait)

    def poll_delay(self, polls: int) -> float:
        return 0.0

    def close(self) -> None:
        self.pool.close()

    def warm_up(self) -> None:
        """Start the workers now, so the model loads while the daemon scans the inbox."""
        self.pool.warm_up()

    def _refuse_wrong_language(self, request: Request) -> None:
        multilingual = self.pool.multilingual()
        english_only = self.choice.english_only if multilingual is None else not multilingual
        if english_only:
            refusal = english_only_refusal(self.model_name, request.task, request.language)
            if refusal is not None:
                raise Permanent(refusal)
