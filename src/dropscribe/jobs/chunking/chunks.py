"""Remote jobs sent as compact chunks: each chunk a future of its own, saved in the store.

A remote job (``upload_format`` other than ``original``) is prepared in a worker
process (:func:`dropscribe.jobs.chunking.uploads.prepare`): 16 kHz mono in a compact
codec, cut at pauses into chunks when it is over the upload limit or longer
than ``max_chunk_seconds``. The chunks are the job's children in the store
(:mod:`dropscribe.jobs.store.chunks`): each one's future and result is saved as
it arrives, so after kill -9 finished chunks are not sent again and chunks in
flight are polled. A chunk that fails for good fails the file with a sentence
naming its time range; ``dropscribe retry`` sends only the chunks that failed.

Fairness: a job holds one slot of its backend's ``concurrency`` like any job;
its further chunks only *borrow* idle slots (:class:`SlotLender`), one chunk at
a time, and a slot is lent only while no other file of that backend is due in
the queue. A finished chunk gives its slot back before the next is asked for,
so a file dropped behind a long recording waits at most one chunk's time.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from dropscribe.audio.stitch import PartTranscript, stitch
from dropscribe.backends.base import Backend, CompactUploads, Done, Future, Outcome
from dropscribe.config import RemoteSettings, Settings
from dropscribe.jobs.chunking.coverage import SpeechCoverage, plan_chunks
from dropscribe.jobs.chunking.feed import UNFINISHED, Preparation
from dropscribe.jobs.chunking.run import ChunkProgress, ChunkRun, SlotLender
from dropscribe.jobs.chunking.uploads import (
    Manifest,
    Part,
    Resume,
    audio_bytes_within,
    choose_format,
    plan_key,
    prepare,
)
from dropscribe.jobs.states import ChunkState, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import Chunk
from dropscribe.transcript import Transcription, clock_time

log = structlog.get_logger("dropscribe.jobs.chunks")


def sends_chunks(settings: Settings, backend: Backend, size: int) -> bool:
    """Return whether a file of ``size`` bytes goes to ``backend`` as compact chunks.

    Remote backends only, unless ``upload_format = "original"``; a file under
    ``compact_above_bytes`` goes as it is: compacting it (a worker process) would
    cost more than the bytes it saves.
    """
    section = settings.backend_settings(backend.name)
    return (
        isinstance(section, RemoteSettings)
        and section.upload_format != "original"
        and size > section.compact_above_bytes
        and isinstance(backend, CompactUploads)
    )


class ChunkedUploads:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], float],
        stopping: threading.Event,
        lender: SlotLender,
        workroot: Path | None = None,
        *,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.stopping = stopping
        self.lender = lender
        self.workroot = workroot or settings.paths.state.parent / "uploads"

    def applies(self, job: Job, backend: Backend) -> bool:
        """Return whether ``job`` goes to ``backend`` as compact chunks."""
        return sends_chunks(self.settings, backend, job.size)

    def workdir(self, job: Job) -> Path:
        return self.workroot / f"job-{job.id}"

    def finished(self, job: Job) -> None:
        """Drop the job's chunks and files once its whole result is saved."""
        self.store.chunks.forget(job.id)
        shutil.rmtree(self.workdir(job), ignore_errors=True)

    # --- one job ---------------------------------------------------------------

    def run(
        self, job: Job, backend: Backend, source: Path, progress: ChunkProgress | None = None
    ) -> Outcome | None:
        """Drive ``job`` (submitting or running) to one outcome; None when told to stop.

        The chunks go out as the worker writes them (:mod:`dropscribe.jobs.chunking.feed`).

        Raises:
            BadInput: the recording cannot be prepared. Retryable: the worker did not start.
        """
        section = self.settings.backend_settings(job.backend)
        assert isinstance(section, RemoteSettings)
        chunks, preparation = self._chunks(job, backend, section, source)
        if job.state == JobState.SUBMITTING:
            future = Future(
                backend=job.backend,
                remote_id="chunks",
                submitted_at=self.clock(),
                data={"chunks": len(chunks)},
            )
            job = self.store.move(
                job.id, JobState.RUNNING, future=future.to_dict(), count_submission=True
            )
        try:
            outcome = ChunkRun(
                self.store,
                self.clock,
                self.stopping,
                self.lender,
                self.settings.transcribe,
                job,
                backend,
                section,
                self.workdir(job),
                chunks,
                progress,
                sleep=self.sleep,
                words=self.settings.words_for(job.path),
                feed=preparation.feed if preparation else None,
            ).run()
        finally:
            if preparation is not None:
                preparation.stop()
        if isinstance(outcome, Done):
            # Speech no word covers goes once more, as chunks of its own (coverage.py).
            stitched = self._stitched(job, backend, section)
            covered = SpeechCoverage(self, job, backend, source).run(stitched)
            return Done(covered) if isinstance(covered, Transcription) else covered
        return outcome

    def _chunks(
        self, job: Job, backend: Backend, section: RemoteSettings, source: Path
    ) -> tuple[list[Chunk], Preparation | None]:
        """Return the job's chunks saved so far, and the preparation making the rest
        (None when the plan is whole); the lost files of saved chunks are written again."""
        key, prepared = self._preparer(job, backend, section, source)
        chunks = self.store.chunks.for_job(job.id)
        self.store.chunks.resume(job.id, fresh_attempts=job.state == JobState.SUBMITTING)
        workdir = self.workdir(job)
        if not chunks or chunks[0].plan not in (key, UNFINISHED + key):
            shutil.rmtree(workdir, ignore_errors=True)
            self.store.chunks.replace_plan(job.id, UNFINISHED + key, [])
            return [], self._preparation(job, key, prepared, None)
        missing = [
            c for c in chunks if c.state != ChunkState.DONE and not (workdir / c.path).exists()
        ]
        if missing:
            earlier = [
                Part(c.start, c.end, c.keep_start, c.keep_end, c.path, 0, index=c.idx)
                for c in chunks
            ]
            self.store.chunks.update_files(job.id, prepared(earlier).parts)
        chunks = self.store.chunks.for_job(job.id)
        if chunks[0].plan == key:
            return chunks, None
        last = chunks[-1]  # the plan was cut short: the worker goes on after its last chunk
        resume = Resume(last.keep_end - (last.end - last.keep_end), last.keep_end, last.idx + 1)
        return chunks, self._preparation(job, key, prepared, resume)

    def _preparer(
        self, job: Job, backend: Backend, section: RemoteSettings, source: Path
    ) -> tuple[str, Callable[..., Manifest]]:
        """Return the key of the plan the settings make for ``job``, and a function that
        runs the worker on its recording (:func:`prepare`, the job's settings filled in)."""
        assert isinstance(backend, CompactUploads)  # only they are sent chunks
        fmt = choose_format(section.upload_format, backend.upload_formats)
        assert fmt is not None  # only compacted uploads are cut into chunks
        limit = audio_bytes_within(section.max_upload_bytes, backend.upload_base64)
        workdir = self.workdir(job)

        def prepared(
            earlier: list[Part] | None = None,
            resume: Resume | None = None,
            on_part: Callable[[Part], None] | None = None,
            cancel: threading.Event | None = None,
        ) -> Manifest:
            return prepare(
                source,
                workdir,
                fmt,
                audio_limit=limit,
                section=section,
                base64=backend.upload_base64,
                max_duration=self.settings.transcribe.max_duration_seconds,
                audio_track=self.settings.transcribe.audio_track,
                parts=earlier,
                resume=resume,
                on_part=on_part,
                cancel=cancel,
            )

        return plan_key(fmt, limit, section.max_chunk_seconds), prepared

    def _preparation(
        self, job: Job, key: str, prepared: Callable[..., Manifest], resume: Resume | None
    ) -> Preparation:
        def logged(manifest: Manifest, count: int) -> None:
            log.info(
                "upload_prepared",
                job=job.id,
                file=job.path,
                format=manifest.format,
                chunks=count,
                bytes=sum(c.bytes for c in self.store.chunks.for_job(job.id)),
                original_bytes=job.size,
                seconds=round(manifest.duration, 1),
                **(manifest.track or {}),
            )

        def run_worker(
            resume: Resume | None, on_part: Callable[[Part], None], cancel: threading.Event
        ) -> Manifest:
            return prepared(resume=resume, on_part=on_part, cancel=cancel)

        return Preparation(self.store, job.id, key, run_worker, resume, logged).start()

    def _stitched(self, job: Job, backend: Backend, section: RemoteSettings) -> Transcription:
        chunks = plan_chunks(self.store.chunks.for_job(job.id))
        results = [Transcription.from_dict(c.result or {"segments": []}) for c in chunks]
        joined = stitch(
            [
                PartTranscript(c, r.segments, r.language)
                for c, r in zip(chunks, results, strict=True)
            ]
        )
        assert isinstance(backend, CompactUploads)  # only they are sent chunks
        fmt = choose_format(section.upload_format, backend.upload_formats)
        assert fmt is not None  # only compacted uploads are cut into chunks
        transcription = Transcription(
            segments=joined.segments,
            language=joined.language,
            duration=chunks[-1].end if chunks else None,
            prediction_time_ms=sum(r.prediction_time_ms for r in results),
            model=backend.model_name,
            upload={"format": fmt, "bytes": sum(c.bytes for c in chunks), "chunks": len(chunks)},
            warnings=chunk_warnings(chunks, results),
        )
        return transcription


def chunk_warnings(chunks: list[Chunk], results: list[Transcription]) -> list[str]:
    """Each chunk's warnings (judged on its own scores), saying which part of the
    recording each is about when there are several chunks."""
    if len(chunks) == 1:
        return list(results[0].warnings)
    return [
        f"From {clock_time(chunk.start)} to {clock_time(chunk.end)}: {warning}"
        for chunk, result in zip(chunks, results, strict=True)
        for warning in result.warnings
    ]
