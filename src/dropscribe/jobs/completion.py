"""The end of a job: sidecars, the original's new place, the final state, the hooks."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dropscribe.config import Settings
from dropscribe.config.originals import archive_folder, originals_fate
from dropscribe.errors import DropscribeError
from dropscribe.jobs.failures import Failures, where_is
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.document import build_document
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.naming import display_path
from dropscribe.outbox.writer import Outbox, move_original
from dropscribe.sources import open_source
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.jobs")


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
        program: str = "dropscribe",
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
        self.failures = Failures(
            self.paths, store, outbox, hooks, self._announced, config_path, program
        )

    def where_is(self, job: Job) -> tuple[Path, Path]:
        """Return the folder the original is in now (the inbox, or the failed folder after a
        failure) and its path there."""
        return where_is(self.paths, job)

    def source_of(self, job: Job) -> Path:
        """Return the original to read for ``job``, checked to be a regular file that is
        no link and lies below no linked folder.

        Raises:
            BadInput: the original is gone, a link, a directory, or not a regular file.
        """
        root, path = self.where_is(job)
        open_source(path, inside=root).close()
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
            self._put_originals_away([t for t in batch if t.error is None])
            self._mark_final([t for t in batch if t.error is None])
        except BaseException as exc:  # nothing may leave a waiting thread without an answer
            for ticket in batch:
                if not ticket.finished and ticket.error is None:
                    ticket.error = exc
            raise
        finally:
            for ticket in batch:
                ticket.finished = True
        self._announce_all([t for t in batch if t.error is None])

    def _put_originals_away(self, tickets: list[_Ticket]) -> None:
        for ticket in tickets:
            try:
                ticket.kept = self._put_away(self.where_is(ticket.job)[1], ticket.job)
            except Exception as exc:
                ticket.error = exc

    def _announce_all(self, tickets: list[_Ticket]) -> None:
        for ticket in tickets:
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
        self._announced(job)

    def _announced(self, job: Job) -> None:
        if self.on_finish:  # set after construction (the metrics)
            self.on_finish(job)

    def put_away(self, job: Job) -> Path | None:
        """Archive, keep or delete ``job``'s original now, as after its success."""
        return self._put_away(self.where_is(job)[1], job)

    def _put_away(self, source: Path, job: Job) -> Path | None:
        if originals_fate(self.paths) == "delete":
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            return None
        archive = archive_folder(self.paths)
        if archive is None:
            return source  # kept in place
        return move_original(source, archive, job.path)

    def recover(self) -> int:
        """After a restart: finish the failures a crash interrupted; return how many.

        (Interrupted successes are resumed by the dispatcher, from ``writing``.)
        """
        return self.failures.recover()

    def fail(self, job: Job, error: DropscribeError) -> Job:
        """Mark the job failed, then move the original to the failed folder and write
        ``<stem>.error.json`` (see :mod:`dropscribe.jobs.failures`)."""
        return self.failures.fail(job, error)
