"""The coverage pass of remote engines: speech no word covers is sent once more as a chunk.

A remote Whisper skips speech as the local one does (it ends a window early and
moves on), and says nothing. Once every chunk's words are in and stitched:

1. the speech the upload worker heard while it compacted the recording (kept
   beside each chunk's file, :mod:`dropscribe.audio.speech_files`; no second pass
   of the voice detector) is laid against the words
   (:func:`dropscribe.transcript.coverage.missing_speech`: 1 s of speech or more);
2. each such stretch, with :data:`~dropscribe.transcript.coverage.MARGIN_SECONDS`
   each side, is written by the worker to a file of its own and saved in the store
   as one more chunk of the job (plan ``coverage:...``, index after the plan's
   chunks), then sent by :class:`~dropscribe.jobs.chunking.run.ChunkRun` like any
   chunk: its future and result saved, polled after a restart, never sent twice;
3. its words are spliced in at their times (the local pass's
   :func:`~dropscribe.transcript.coverage.splice`); the document tidies segments and
   cues afterwards. Speech still without words is named in ``warnings`` and the log.

A segment without word timings counts as covering its time; one with far too few
words for the speech heard inside it
(:func:`~dropscribe.transcript.coverage.sparse_segments`: Whisper stretched it over
a sentence it skipped) has that speech sent as a coverage chunk too, and the words
that come back replace the segment's when they are more
(:func:`~dropscribe.transcript.coverage.replace_sparse`), never beside them; not when
a piece of that speech failed. The words of a decode of speech between segments,
without word timings, that the segments around its stretch already say are left
out (their times are not good enough to tell; :mod:`dropscribe.transcript.repeats`).

The stretches are worked out again from the saved results after a restart (the
same inputs give the same stretches), so a daemon killed while adding them adds
the rest and keeps the ones it saved. ``recover_speech = false`` turns it off.
A file uploaded as it is comes here too, once its words leave a gap and the
worker has heard it (:mod:`dropscribe.jobs.chunking.as_is`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import structlog

from dropscribe.audio.speech_files import read_speech
from dropscribe.backends.base import Backend, CompactUploads, Failed
from dropscribe.config import RemoteSettings, Settings
from dropscribe.config.backends import UploadFormat
from dropscribe.jobs.chunking.run import ChunkRun, SlotLender
from dropscribe.jobs.chunking.uploads import (
    Part,
    audio_bytes_within,
    choose_format,
    prepare,
    seconds_within,
)
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import COVERAGE_PLAN, Chunk, NewChunk
from dropscribe.transcript import Segment, Transcription
from dropscribe.transcript.coverage import (
    MARGIN_SECONDS,
    Recovery,
    Span,
    clip_stretched,
    missing_speech,
    missing_warning,
    put_back,
    sparse_segments,
    sparse_warning,
)

log = structlog.get_logger("dropscribe.jobs.chunks")

#: What :meth:`SpeechCoverage._send` says once the coverage chunks have their results.
SENT: Literal["sent"] = "sent"


def plan_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """The chunks of the job's plan, without the coverage pass's."""
    return [chunk for chunk in chunks if not chunk.is_coverage]


def heard_speech(workdir: Path, chunks: list[Chunk]) -> list[Span]:
    """The speech the worker heard in the recording, from beside each chunk's file, on
    the recording's clock; each chunk counts between its seams (they overlap)."""
    spans: list[Span] = []
    for chunk in chunks:
        own = read_speech(workdir / chunk.path)
        for start, end in own or []:
            low = max(chunk.start + start, chunk.keep_start)
            high = min(chunk.start + end, chunk.keep_end)
            if high > low:
                spans.append((low, high))
    return sorted(spans)


def pieces(stretch: Span, duration: float, cap: float) -> list[NewChunk]:
    """The chunk(s) to send for ``stretch``: with margins, each at most ``cap`` seconds."""
    count = max(1, int((stretch[1] - stretch[0] + 2 * MARGIN_SECONDS) // cap) + 1)
    step = (stretch[1] - stretch[0]) / count
    made = []
    for index in range(count):
        keep = (stretch[0] + index * step, stretch[0] + (index + 1) * step)
        start, end = max(0.0, keep[0] - MARGIN_SECONDS), min(duration, keep[1] + MARGIN_SECONDS)
        made.append(NewChunk(round(start, 3), round(end, 3), keep[0], keep[1], "", 0))
    return made


def shifted(segments: list[Segment], offset: float) -> list[Segment]:
    """``segments`` of a chunk's audio on the recording's clock."""

    def at(seconds: float) -> float:
        return round(seconds + offset, 3)

    return [
        {
            **segment,
            "start": at(segment["start"]),
            "end": at(segment["end"]),
            "words": [
                {**word, "start": at(word["start"]), "end": at(word["end"])}
                for word in segment["words"]
            ],
        }
        for segment in segments
    ]


class Uploads(Protocol):
    """What the pass borrows from :class:`~dropscribe.jobs.chunking.chunks.ChunkedUploads`."""

    settings: Settings
    store: Store
    clock: Callable[[], float]
    stopping: threading.Event
    lender: SlotLender
    sleep: Callable[[float], bool] | None

    def workdir(self, job: Job) -> Path: ...


class SpeechCoverage:
    """The coverage pass of one job whose chunks are all done (see the module docstring)."""

    def __init__(self, uploads: Uploads, job: Job, backend: Backend, source: Path) -> None:
        self.settings, self.store, self.clock = uploads.settings, uploads.store, uploads.clock
        self.stopping, self.lender, self.sleep = uploads.stopping, uploads.lender, uploads.sleep
        self.job, self.backend, self.source = job, backend, source
        self.workdir = uploads.workdir(job)
        section = self.settings.backend_settings(job.backend)
        assert isinstance(section, RemoteSettings)
        self.section = section

    def run(self, stitched: Transcription) -> Failed | Transcription | None:
        """Return ``stitched`` with the missing speech's words spliced in (and a warning
        for what is still missing), a failure, or None when told to stop."""
        chunks = self.store.chunks.for_job(self.job.id)
        planned = plan_chunks(chunks)
        speech = heard_speech(self.workdir, planned) if self.section.recover_speech else []
        if not speech:
            return stitched  # nothing heard kept (turned off, or an older plan)
        recovery = Recovery(clip_stretched(stitched.segments, speech))
        recovery.sparse = sparse_segments(recovery.segments, speech)
        # Worked out the same after a restart, so the saved coverage chunks keep their
        # indexes; the sparse segments' last, so a job an older daemon began keeps its.
        recovery.stretches = missing_speech(recovery.segments, speech) + recovery.sparse
        if not recovery.stretches:  # the words, stretched ones clipped where the speech is
            return dataclasses.replace(stitched, segments=recovery.segments)
        sent = self._send(self._saved(chunks, planned, recovery.stretches))
        if sent != SENT:
            return sent
        self._splice(recovery, speech)
        recovery.missing = missing_speech(recovery.segments, speech)
        if recovery.sparse:  # judged again only where it was judged before: no new stretch
            recovery.still_sparse = sparse_segments(recovery.segments, speech)
        return self._finished(stitched, recovery)

    def _splice(self, recovery: Recovery, speech: list[Span]) -> None:
        """Put the coverage chunks' words into ``recovery.segments`` (:func:`put_back`)."""
        decoded: list[tuple[Span, list[Segment] | None]] = []
        for chunk in self.store.chunks.for_job(self.job.id):
            if not chunk.is_coverage:
                continue
            found = None
            if chunk.state == ChunkState.DONE:
                heard = Transcription.from_dict(chunk.result or {"segments": []})
                found = clip_stretched(shifted(heard.segments, chunk.start), speech)
                recovery.decoded_seconds += chunk.end - chunk.start
            decoded.append(((chunk.keep_start, chunk.keep_end), found))
        put_back(recovery, decoded)

    def _finished(self, stitched: Transcription, recovery: Recovery) -> Transcription:
        chunks = self.store.chunks.for_job(self.job.id)
        sent = sum(chunk.bytes for chunk in chunks if chunk.is_coverage)
        fields = recovery.log_fields()
        log.info("speech_recovered", job=self.job.id, file=self.job.path, bytes=sent, **fields)
        warnings = list(stitched.warnings)
        for warning in (missing_warning(recovery.missing), sparse_warning(recovery.still_sparse)):
            if warning is not None:
                warnings.append(warning)
                log.warning(
                    "transcript_warning", job=self.job.id, file=self.job.path, warning=warning
                )
        return dataclasses.replace(stitched, segments=recovery.segments, warnings=warnings)

    def _saved(
        self, chunks: list[Chunk], planned: list[Chunk], stretches: list[Span]
    ) -> list[Chunk]:
        """The coverage chunks of ``stretches`` not done yet, saved in the store (those a
        run before a restart saved are kept), their files written where they are missing."""
        duration = planned[-1].end
        # Within the upload limit as well as the chunk length: a stretch longer than a
        # FLAC chunk on octoai (about 245 s) would otherwise go as one piece over it.
        base64 = self._uploads().upload_base64
        limit = audio_bytes_within(self.section.max_upload_bytes, base64)
        cap = min(self.section.max_chunk_seconds, seconds_within(limit, self._format(), base64))
        wanted = [piece for stretch in stretches for piece in pieces(stretch, duration, cap)]
        first = len(planned)
        saved = {chunk.idx: chunk for chunk in chunks if chunk.is_coverage}
        plan = COVERAGE_PLAN + planned[0].plan
        unsent = [
            (first + i, piece)
            for i, piece in enumerate(wanted)
            if first + i not in saved or saved[first + i].state != ChunkState.DONE
        ]
        lost = [
            (idx, piece)
            for idx, piece in unsent
            if idx not in saved or not (self.workdir / saved[idx].path).exists()
        ]
        if lost:
            # Written again under the same names (part-<index>) when a restart lost them.
            for idx, written in zip([idx for idx, _ in lost], self._worker(lost), strict=True):
                if idx not in saved:
                    saved[idx] = self.store.chunks.add(self.job.id, idx, plan, written)
        return [saved[idx] for idx, _ in unsent]

    def _worker(self, wanted: list[tuple[int, NewChunk]]) -> list[NewChunk]:
        """Have the worker write the files of ``wanted``, one request (one decode of the
        recording, stopped after the last); each file named by its chunk's index."""
        runs: list[list[tuple[int, NewChunk]]] = []
        for idx, piece in wanted:  # indexes that run on go in one request
            if runs and runs[-1][-1][0] == idx - 1:
                runs[-1].append((idx, piece))
            else:
                runs.append([(idx, piece)])
        return [made for run in runs for made in self._write([p for _, p in run], run[0][0])]

    def _uploads(self) -> CompactUploads:
        assert isinstance(self.backend, CompactUploads)  # only they are sent chunks
        return self.backend

    def _format(self) -> UploadFormat:
        """The compact format the stretches go in."""
        formats = self._uploads().upload_formats
        # A file uploaded as it is ("original") still has its stretches sent compact.
        return choose_format(self.section.upload_format, formats) or formats[0]

    def _write(self, wanted: list[NewChunk], first: int) -> list[NewChunk]:
        section = self.section
        fmt = self._format()
        base64 = self._uploads().upload_base64
        asked = [
            Part(p.start, p.end, p.keep_start, p.keep_end, "", 0, index=first + i)
            for i, p in enumerate(wanted)
        ]
        manifest = prepare(
            self.source,
            self.workdir,
            fmt,
            audio_limit=audio_bytes_within(section.max_upload_bytes, base64),
            section=section,
            base64=base64,
            max_duration=self.settings.transcribe.max_duration_seconds,
            audio_track=self.settings.transcribe.audio_track,
            parts=asked,
            first_index=first,
        )
        return [
            NewChunk(p.start, p.end, p.keep_start, p.keep_end, p.path, p.bytes)
            for p in manifest.parts
        ]

    def _send(self, cover: list[Chunk]) -> Failed | Literal["sent"] | None:
        """Send the coverage chunks: SENT once their results are saved (or one failed
        for good: its stretch stays missing), else the failure, or None on a stop."""
        if not cover:
            return SENT
        outcome = ChunkRun(
            self.store,
            self.clock,
            self.stopping,
            self.lender,
            self.settings.transcribe,
            self.job,
            self.backend,
            self.section,
            self.workdir,
            cover,
            None,
            sleep=self.sleep,
            words=self.settings.words_for(self.job.path),
        ).run()
        if outcome is None:
            return None
        if isinstance(outcome, Failed):
            states = [c.state for c in self.store.chunks.for_job(self.job.id) if c.is_coverage]
            if ChunkState.FAILED not in states:
                return outcome  # the server is down: the job waits, its chunks kept
            log.warning("coverage_chunk_failed", job=self.job.id, error=str(outcome.error))
        return SENT
