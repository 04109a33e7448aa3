"""Jobs held back by the machine's own trouble, waiting for the disk to be tried again.

A job whose sidecars, archive move or store update met a disk fault keeps what
it has: a job in ``writing`` has its result in the store; one whose result could
not even be saved keeps it here, in memory. Either is taken up again when the
fault's next try is due (:meth:`Readiness.may_write`), and only the write is done
again: never a second decode. A restart meanwhile resumes ``writing`` jobs from the
store as after any crash.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from dropscribe.config import PathsSettings
from dropscribe.errors import local_fault
from dropscribe.jobs.readiness import Readiness
from dropscribe.transcript import Transcription


def where_it_failed(exc: BaseException, paths: PathsSettings) -> str:
    """Return which of dropscribe's folders ``exc`` failed to write, as a user names it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.Error):
            return "the job store"
        filename = getattr(seen, "filename", None)
        if isinstance(filename, str | bytes):
            path = Path(os.fsdecode(filename))
            for name, folder in (
                ("the outbox", paths.outbox),
                ("the archive", paths.archive),
                ("the failed folder", paths.failed),
                ("the job store", paths.state.parent),
            ):
                if folder is not None and path.is_relative_to(folder):
                    return name
        seen = seen.__cause__ or seen.__context__
    return "dropscribe's folders"


class HeldWork:
    """Job ids (with a result not yet saved, if any) held until the disk is tried again."""

    def __init__(self, readiness: Readiness, paths: PathsSettings) -> None:
        self.readiness = readiness
        self.paths = paths
        self._lock = threading.Lock()
        self._held: dict[int, Transcription | None] = {}

    def hold(self, job_id: int, result: Transcription | None, exc: BaseException) -> None:
        """Hold ``job_id`` after the disk fault ``exc``; a result kept earlier stays kept."""
        fault = local_fault(exc) or "an I/O error"
        self.readiness.disk_failed(where_it_failed(exc, self.paths), fault)
        with self._lock:
            self._held[job_id] = result if result is not None else self._held.get(job_id)

    def due(self, now: float) -> list[tuple[int, Transcription | None]]:
        """Return (and let go of) every held job when the disk's next try is due."""
        if not self._held or not self.readiness.may_write(now):
            return []
        with self._lock:
            taken, self._held = list(self._held.items()), {}
        return taken

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)
