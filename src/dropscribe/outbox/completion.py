"""The end of a job: sidecars, the original's new place, the final state, the hooks."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.errors import BackendError, BadInput, DropscribeError
from dropscribe.inbox.sources import VANISHED, open_source
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.naming import display_path
from dropscribe.outbox.originals import archive_folder, originals_fate
from dropscribe.outbox.transcript import Transcription, build_document
from dropscribe.outbox.writer import Outbox, move_original
from dropscribe.service.hooks import Hooks

log = structlog.get_logger("dropscribe.jobs")


def retry_hint(config_path: Path | None, job_id: int) -> str:
    """Return the command that puts this job back in the queue, as a user types it."""
    config = f" --config {shlex.quote(str(config_path))}" if config_path else ""
    return f"fix the cause, then run: dropscribe retry{config} {job_id}"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Ticket:
    """One finished job on its way out, and what became of it."""

    job: Job
    result: Transcription
    final: JobState
    save: bool
    finished: bool = False
    error: BaseException | None = None
    sidecars: list[Path] = field(default_factory=list)
    kept: Path | None = None


class Finisher:
    """Writes what a finished job leaves behind; the store records it last."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        outbox: Outbox,
        hooks: Hooks,
        on_finish: Callable[[Job], None] | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.paths = settings.paths
        self.config_path = config_path
        self.store = store
        self.outbox = outbox
        self.hooks = hooks
        self.on_finish = on_finish
        self._waiting: list[_Ticket] = []
        self._waiting_lock = threading.Lock()
        self._writing = threading.Lock()

    def where_is(self, job: Job) -> tuple[Path, Path]:
        """Return the folder the original is in now (the inbox, or the failed folder after a
        failure) and its path there."""
        in_inbox = self.paths.inbox / job.path
        if not os.path.lexists(in_inbox):
            in_failed = self.paths.failed / job.path
            if os.path.lexists(in_failed):
                return self.paths.failed, in_failed
        return self.paths.inbox, in_inbox

    def source_of(self, job: Job) -> Path:
        """Return the original to read for ``job``, checked to be a regular file that is
        no link and lies below no linked folder.

        Raises:
            BadInput: the original is gone, a link, a directory, or not a regular file.
        """
        root, path = self.where_is(job)
        try:
            open_source(path, inside=root).close()
        except FileNotFoundError as exc:
            raise BadInput(VANISHED) from exc
        except PermissionError as exc:
            raise BadInput(
                f"The file {display_path(str(path))} cannot be read (permission denied); "
                "make it readable by the user dropscribe runs as."
            ) from exc
        return path

    def succeed(self, job: Job, result: Transcription, *, final: JobState = JobState.DONE) -> Job:
        """Write the sidecars, put the original away, then mark the job ``final``."""
        ticket = _Ticket(job, result, final, save=False)
        self._finish([ticket])
        return self._outcome(ticket)

    def succeed_together(self, job: Job, result: Transcription) -> Job:
        """Save the result, then finish the job as :meth:`succeed` does, together with
        the jobs of other threads finishing at the same time (a group commit).

        The first thread to arrive writes for all who wait; those arriving meanwhile
        are written by the next one. Each batch costs one store transaction for the
        results, one journal commit for the sidecars and one for the final states,
        instead of five flushes and two transactions per job: under load the batches
        grow by themselves, and a lone job is written at once.
        """
        ticket = _Ticket(job, result, JobState.DONE, save=True)
        with self._waiting_lock:
            self._waiting.append(ticket)
        with self._writing:
            if not ticket.finished:
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                self._finish(batch)
        return self._outcome(ticket)

    @staticmethod
    def _outcome(ticket: _Ticket) -> Job:
        if ticket.error is not None:
            raise ticket.error
        return ticket.job

    def _finish(self, batch: list[_Ticket]) -> None:
        try:
            self._save_results([t for t in batch if t.save])
            self._write_sidecars([t for t in batch if t.error is None])
            for ticket in batch:
                if ticket.error is None:
                    try:
                        ticket.kept = self._put_away(self.where_is(ticket.job)[1], ticket.job)
                    except Exception as exc:
                        ticket.error = exc
            self._mark_final([t for t in batch if t.error is None])
        except BaseException as exc:  # nothing may leave a waiting thread without an answer
            for ticket in batch:
                if not ticket.finished and ticket.error is None:
                    ticket.error = exc
            raise
        finally:
            for ticket in batch:
                ticket.finished = True
        for ticket in batch:
            if ticket.error is None:
                try:
                    self._announce(ticket)
                except Exception:  # the job is done; one hook's failure must not hide the rest
                    log.exception("announce_failed", job=ticket.job.id, file=ticket.job.path)

    def _save_results(self, tickets: list[_Ticket]) -> None:
        """Results first (state ``writing``): a crash from here on finds them stored."""
        if not tickets:
            return
        with self.store.batch():
            for ticket in tickets:
                try:
                    ticket.job = self.store.save_result(ticket.job.id, ticket.result.to_dict())
                except Exception as exc:
                    ticket.error = exc

    def _write_sidecars(self, tickets: list[_Ticket]) -> None:
        transcripts = []
        for ticket in tickets:
            job = ticket.job
            document = build_document(
                ticket.result,
                source_path=display_path(job.path),
                sha256=job.sha256,
                size=job.size,
                backend=job.backend,
            )
            transcripts.append((job.output_name, document))
        outcomes = self.outbox.write_transcripts(transcripts)
        for ticket, outcome in zip(tickets, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                ticket.error = outcome
            else:
                ticket.sidecars = outcome

    def _mark_final(self, tickets: list[_Ticket]) -> None:
        if not tickets:
            return
        with self.store.batch():
            for ticket in tickets:
                try:
                    ticket.job = self.store.move(ticket.job.id, ticket.final)
                except Exception as exc:
                    ticket.error = exc

    def _announce(self, ticket: _Ticket) -> None:
        job = ticket.job
        # The work, from the latest claim (a retry starts it again) or, for a duplicate,
        # from discovery.
        started = job.started_at if job.started_at is not None else job.created_at
        log.info(
            "job_done",
            job=job.id,
            file=job.path,
            state=str(ticket.final),
            seconds=round((job.finished_at or started) - started, 3),
            attempt=job.attempts,
        )
        self.hooks.done(ticket.kept, ticket.sidecars)
        if self.on_finish:
            self.on_finish(job)

    def _put_away(self, source: Path, job: Job) -> Path | None:
        if originals_fate(self.paths) == "delete":
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            return None
        archive = archive_folder(self.paths)
        if archive is None:
            return source  # kept in place
        return move_original(source, archive, job.path)

    def fail(self, job: Job, error: DropscribeError, *, gave_up: bool = False) -> Job:
        """Move the original to the failed folder, write ``<stem>.error.json`` saying where
        it is now, then mark the job failed (a crash between the steps is repaired by
        doing them again)."""
        detail = error.detail if isinstance(error, BackendError) else None
        message = str(error)
        if gave_up:
            message = f"Gave up after {job.attempts} attempts: {message}"
        root, source = self.where_is(job)
        moved: Path | None = source
        real_directory = source.is_dir() and not source.is_symlink()
        if root == self.paths.inbox and os.path.lexists(source) and not real_directory:
            moved = move_original(source, self.paths.failed, job.path)
        report: dict[str, Any] = {
            "error": message,
            "detail": detail,
            "source": {
                "path": display_path(job.path),
                # null when the content was never read (a link, a folder, too large)
                "sha256": job.sha256 or None,
                "bytes": job.size,
            },
            "original": display_path(str(moved)) if moved and os.path.lexists(moved) else None,
            "backend": job.backend,
            "attempts": job.attempts,
            "job": job.id,
            "first_seen": _iso(job.created_at),
            "failed_at": _iso(self.store.now()),
            "retry": retry_hint(self.config_path, job.id),
        }
        error_path = self.outbox.write_error(job.output_name, report)
        job = self.store.move(job.id, JobState.FAILED, error=message, error_detail=detail)
        log.warning(
            "job_failed",
            job=job.id,
            file=job.path,
            original=report["original"],
            error=message,
            attempt=job.attempts,
        )
        self.hooks.failed(moved, error_path)
        if self.on_finish:
            self.on_finish(job)
        return job
