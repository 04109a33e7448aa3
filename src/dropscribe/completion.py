"""The end of a job: sidecars, the original's new place, the final state, the hooks."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.errors import BackendError, DropscribeError
from dropscribe.hooks import Hooks
from dropscribe.states import JobState
from dropscribe.store import Job, Store
from dropscribe.transcript import Transcription, build_document
from dropscribe.writer import Outbox, move_original

log = structlog.get_logger("dropscribe.jobs")


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Finisher:
    """Writes what a finished job leaves behind; the store records it last."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        outbox: Outbox,
        hooks: Hooks,
        on_finish: Callable[[Job], None] | None = None,
    ) -> None:
        self.paths = settings.paths
        self.store = store
        self.outbox = outbox
        self.hooks = hooks
        self.on_finish = on_finish

    def source_of(self, job: Job) -> Path:
        """Return where the original is now: in the inbox, or in the failed directory."""
        in_inbox = self.paths.inbox / job.path
        if not os.path.lexists(in_inbox):
            in_failed = self.paths.failed / job.path
            if os.path.lexists(in_failed):
                return in_failed
        return in_inbox

    def succeed(self, job: Job, result: Transcription, *, final: JobState = JobState.DONE) -> Job:
        """Write the sidecars, put the original away, then mark the job ``final``."""
        document = build_document(
            result, source_path=job.path, sha256=job.sha256, size=job.size, backend=job.backend
        )
        sidecars = self.outbox.write_transcript(job.output_name, document)
        source = self.source_of(job)
        kept = self._put_away(source, job)
        job = self.store.move(job.id, final)
        log.info(
            "job_done",
            job=job.id,
            file=job.path,
            state=str(final),
            seconds=round((job.finished_at or 0) - job.created_at, 3),
            attempt=job.attempts,
        )
        self.hooks.done(kept, sidecars)
        if self.on_finish:
            self.on_finish(job)
        return job

    def _put_away(self, source: Path, job: Job) -> Path | None:
        mode = self.paths.originals
        if mode == "keep" or (mode == "archive" and self.paths.archive is None):
            return source
        if mode == "delete":
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            return None
        assert self.paths.archive is not None
        return move_original(source, self.paths.archive, job.path)

    def fail(self, job: Job, error: DropscribeError, *, gave_up: bool = False) -> Job:
        """Write ``<stem>.error.json``, move the original to the failed directory, mark failed."""
        detail = error.detail if isinstance(error, BackendError) else None
        message = str(error)
        if gave_up:
            message = f"Gave up after {job.attempts} attempts: {message}"
        report: dict[str, Any] = {
            "error": message,
            "detail": detail,
            "source": {"path": job.path, "sha256": job.sha256 or None, "bytes": job.size},
            "backend": job.backend,
            "attempts": job.attempts,
            "job": job.id,
            "first_seen": _iso(job.created_at),
            "failed_at": _iso(self.store.now()),
            "retry": "fix the cause, then run: dropscribe retry --failed",
        }
        error_path = self.outbox.write_error(job.output_name, report)
        source = self.source_of(job)
        moved: Path | None = source
        in_inbox = self.paths.inbox / job.path
        real_directory = in_inbox.is_dir() and not in_inbox.is_symlink()
        if source == in_inbox and os.path.lexists(in_inbox) and not real_directory:
            moved = move_original(in_inbox, self.paths.failed, job.path)
        job = self.store.move(job.id, JobState.FAILED, error=message, error_detail=detail)
        log.warning("job_failed", job=job.id, file=job.path, error=message, attempt=job.attempts)
        self.hooks.failed(moved, error_path)
        if self.on_finish:
            self.on_finish(job)
        return job
