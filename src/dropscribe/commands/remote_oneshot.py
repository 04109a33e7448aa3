"""``dropscribe transcribe`` on a remote engine: the daemon's compact chunks, with progress.

The file goes exactly as the daemon would send it (compacted in a worker,
cut at pauses, chunks side by side within ``concurrency``), through a store
in a temporary directory that lasts as long as the command. The progress bar
shows the bytes going out, then "waiting" with the time since the upload
ended and the chunks done.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from dropscribe.backends.base import Backend, Done, Failed, Outcome
from dropscribe.commands.progress import bar_size
from dropscribe.config import RemoteSettings, Settings
from dropscribe.errors import Retryable
from dropscribe.jobs.chunking.as_is import cover_as_is
from dropscribe.jobs.chunking.chunks import ChunkedUploads
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.transcript import Transcription


class UploadBar:
    """Bytes uploaded, then "waiting N s" with the chunks done: a :class:`ChunkProgress`."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.clock = clock
        self.bar: tqdm[Any] | None = None
        self.chunks = 0
        self.done = 0
        self.total = 0
        self.sent = 0
        self.uploaded_at: float | None = None
        self._lock = threading.Lock()

    def planned(self, chunks: int, upload_bytes: int) -> None:
        with self._lock:
            self.chunks, self.total = chunks, upload_bytes
            columns, rows = bar_size()
            self.bar = tqdm(
                total=upload_bytes,
                desc=f"{self.label}: uploading",
                unit="B",
                unit_scale=True,
                leave=False,
                file=self.stream,
                ncols=columns,
                nrows=rows,
            )

    def uploaded(self, size: int) -> None:
        with self._lock:
            self.sent += size
            if self.bar is not None:
                self.bar.update(size)
            if self.sent >= self.total and self.uploaded_at is None:
                self.uploaded_at = self.clock()
                self._show_waiting()

    def waiting(self) -> None:
        with self._lock:
            self._show_waiting()

    def chunk_done(self) -> None:
        with self._lock:
            self.done += 1
            self._show_waiting()

    def status(self) -> str:
        """The line shown once everything is uploaded."""
        elapsed = self.clock() - (self.uploaded_at or self.clock())
        chunks = f", {self.done}/{self.chunks} chunks done" if self.chunks > 1 else ""
        return f"{self.label}: waiting {elapsed:.0f} s{chunks}"

    def _show_waiting(self) -> None:
        if self.uploaded_at is None or self.bar is None:
            return
        self.bar.set_description_str(self.status(), refresh=True)

    def close(self) -> None:
        with self._lock:
            if self.bar is not None:
                self.bar.close()


class OwnSlots:
    """The slots of a backend used by this command alone: chunks take any free one."""

    def __init__(self, concurrency: int) -> None:
        self.free = concurrency - 1  # the file itself holds one
        self._lock = threading.Lock()

    def borrow_slot(self, backend: str) -> bool:
        with self._lock:
            if self.free <= 0:
                return False
            self.free -= 1
            return True

    def return_slot(self, backend: str) -> None:
        with self._lock:
            self.free += 1


@contextlib.contextmanager
def one_job(
    settings: Settings, backend: Backend, path: Path, sha256: str
) -> Iterator[tuple[ChunkedUploads, Job]]:
    """The file as a claimed job of a store in a temporary directory, and the chunk
    machinery over it, for as long as the command needs them."""
    transcribe = settings.transcribe
    with tempfile.TemporaryDirectory(prefix="dropscribe-transcribe-") as scratch:
        store = Store(Path(scratch) / "chunks.sqlite3")
        try:
            job = store.add_job(
                path=path.name,
                sha256=sha256,
                size=path.stat().st_size,
                mtime=path.stat().st_mtime,
                output_name=path.stem,
                backend=backend.name,
                language=transcribe.language,
                task=transcribe.task,
                settings_key="transcribe",
            )
            store.move(job.id, JobState.QUEUED, next_attempt_at=0.0)
            [job] = store.claim(backend.name, 1, store.now())
            uploads = ChunkedUploads(
                settings,
                store,
                time.time,
                threading.Event(),
                OwnSlots(backend.concurrency),
                workroot=Path(scratch) / "uploads",
            )
            yield uploads, job
        finally:
            store.close()


def transcribe_remote(
    settings: Settings, backend: Backend, path: Path, sha256: str, bar: UploadBar | None
) -> Transcription:
    """Send ``path`` as the daemon would and return its stitched transcript.

    Raises:
        BadInput, Permanent, ServerDown, Retryable: as the daemon's job would fail.
    """
    try:
        with one_job(settings, backend, path, sha256) as (uploads, job):
            outcome = uploads.run(job, backend, path.resolve(), bar)
    finally:
        if bar is not None:
            bar.close()
    return settled(outcome)


def cover_remote(
    settings: Settings, backend: Backend, path: Path, sha256: str, result: Transcription
) -> Transcription:
    """``result`` of ``path`` sent as it is, after the daemon's coverage pass for such
    files (:mod:`dropscribe.jobs.chunking.as_is`: nothing runs without a gap).

    Raises:
        BadInput, Permanent, ServerDown, Retryable: as the daemon's job would fail.
    """
    if not isinstance(settings.backend_settings(backend.name), RemoteSettings):
        return result
    with one_job(settings, backend, path, sha256) as (uploads, job):
        covered = cover_as_is(uploads, job, backend, path.resolve(), result)
    return settled(Done(covered) if isinstance(covered, Transcription) else covered)


def settled(outcome: Outcome | None) -> Transcription:
    if isinstance(outcome, Done):
        return outcome.result
    if isinstance(outcome, Failed):
        raise outcome.error
    raise Retryable("The transcription was interrupted.")
