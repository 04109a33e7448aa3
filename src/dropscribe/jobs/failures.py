"""The end of a failed job: its state first, then the original and the error sidecar.

The store commits ``failed`` (with the error) together with a mark saying the
file system is still to be put in order; only then is the original moved to
the failed folder and ``<stem>.error.json`` written, and the mark cleared. A
crash in between leaves a failed job with its mark, which :meth:`Failures.recover`
finishes at the next start. (The other order sent such a job again: re-queued
by the crash, it was found in the failed folder and transcribed a second time.)
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from dropscribe.errors import BackendError, BadInput, DropscribeError
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.naming import display_path
from dropscribe.outbox.writer import Outbox, move_original
from dropscribe.transcript import iso_time

if TYPE_CHECKING:
    from dropscribe.config import PathsSettings

log = structlog.get_logger("dropscribe.jobs")


def retry_hint(config_path: Path | None, job_id: int, program: str = "dropscribe") -> str:
    """Return the command that puts this job back in the queue, as a user types it
    (``program``: the daemon's own command, as it was run)."""
    config = f" --config {shlex.quote(str(config_path))}" if config_path else ""
    return f"fix the cause, then run: {program} retry{config} {job_id}"


def where_is(paths: PathsSettings, job: Job) -> tuple[Path, Path]:
    """Return the folder ``job``'s original is in now (the inbox, or the failed folder
    after a failure) and its path there."""
    in_inbox = paths.inbox / job.path
    if not os.path.lexists(in_inbox):
        in_failed = paths.failed / job.path
        if os.path.lexists(in_failed):
            return paths.failed, in_failed
    return paths.inbox, in_inbox


class Failures:
    """Fails jobs for good: the store first, then the failed folder and the outbox."""

    def __init__(
        self,
        paths: PathsSettings,
        store: Store,
        outbox: Outbox,
        hooks: Hooks,
        announce: Callable[[Job], None],
        config_path: Path | None = None,
        program: str = "dropscribe",
    ) -> None:
        self.paths = paths
        self.program = program
        self.store = store
        self.outbox = outbox
        self.hooks = hooks
        self.announce = announce
        self.config_path = config_path

    def fail(self, job: Job, error: DropscribeError) -> Job:
        """Mark the job failed, then move its original to the failed folder and write
        ``<stem>.error.json`` saying where it is now.

        Raises:
            OSError: the file system step failed; the job stays failed and marked,
                and the next start does the step again.
        """
        detail = error.detail if isinstance(error, BackendError | BadInput) else None
        failed = self.store.fail_unsettled(job.id, error=str(error), error_detail=detail)
        self._settle(failed)
        return failed

    def recover(self) -> int:
        """After a restart: put in order the failed jobs a crash left marked; return how many."""
        unsettled = self.store.unsettled_failures()
        if unsettled:
            log.info("recovering_failures", jobs=len(unsettled))
        for job in unsettled:
            try:
                self._settle(job)
            except Exception:  # one file must not stop the others; tried again next start
                log.exception("failure_not_settled", job=job.id, file=job.path)
        return len(unsettled)

    def _settle(self, job: Job) -> None:
        """Move the original to the failed folder and write its error sidecar, each at
        most once however often this runs, then clear the job's mark and announce it."""
        root, source = where_is(self.paths, job)
        moved: Path | None = source
        real_directory = source.is_dir() and not source.is_symlink()
        if root == self.paths.inbox and os.path.lexists(source) and not real_directory:
            moved = move_original(source, self.paths.failed, job.path)
        report: dict[str, Any] = {
            "error": job.error,
            "detail": job.error_detail,
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
            "first_seen": iso_time(job.created_at),
            "failed_at": iso_time(job.finished_at),
            "retry": retry_hint(self.config_path, job.id, self.program),
        }
        error_path = self.outbox.write_error(job.output_name, report)
        self.store.settled(job.id)
        log.warning(
            "job_failed",
            job=job.id,
            file=job.path,
            original=report["original"],
            error=job.error,
            detail=job.error_detail,
            attempt=job.attempts,
        )
        self.hooks.failed(moved, error_path)
        self.announce(job)
