"""Compact uploads, the daemon's side: what to send, and the worker that makes it.

The recording is decoded only in a worker process (:mod:`dropscribe.audio.compact`)
with a time limit and an address-space limit; the daemon reads back a small
manifest: the recording's duration and the files to upload, each with the span
of the recording it holds (:mod:`dropscribe.audio.compact_protocol`).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dropscribe.audio import cuts
from dropscribe.audio.compact_protocol import (
    ANSWERS,
    CompactAnswer,
    Compacted,
    CompactFailed,
    CompactRequest,
    Heard,
    HearRequest,
    PartFile,
    PartWritten,
    Place,
    planned_rate,
    upload_bit_rate,
)
from dropscribe.config import RemoteSettings
from dropscribe.config.backends import UploadFormat
from dropscribe.errors import BadInput, Retryable
from dropscribe.jobs.store.chunks import NewChunk
from dropscribe.workers.messages import MessageError, Ready
from dropscribe.workers.spawn import START_SECONDS, Worker

#: Room kept for the JSON or multipart around the audio in a request body.
BODY_OVERHEAD = 4096


@dataclass(frozen=True)
class Part(NewChunk):
    """One file to upload, the stretch of the recording it holds, and its place in the plan."""

    index: int


@dataclass(frozen=True)
class Manifest:
    duration: float
    format: str
    parts: list[Part]
    #: The audio track the worker chose, as log fields.
    track: dict[str, Any] | None = None


def seconds_within(limit: int, fmt: str, base64: bool) -> float:
    """The longest stretch of audio planned to fit in ``limit`` bytes of ``fmt`` at the
    protocol's bit rate (the byte limit a piece cut by seconds alone would not keep)."""
    return limit / planned_rate(fmt, upload_bit_rate(fmt, base64))


def choose_format(setting: str, accepted: tuple[UploadFormat, ...]) -> UploadFormat | None:
    """Return the compact format to upload, or None to send the original as it is.

    ``auto`` is the first (smallest) format the protocol reads.
    """
    if setting == "original":
        return None
    if setting == "auto":
        return accepted[0]
    assert setting in ("opus", "flac", "mp3")
    return setting  # type: ignore[return-value]


def audio_bytes_within(body_limit: int, base64: bool) -> int:
    """Return how many bytes of audio fit in a request body of ``body_limit`` bytes."""
    room = max(1, body_limit - BODY_OVERHEAD)
    return room * 3 // 4 if base64 else room


def plan_key(fmt: str, audio_limit: int, max_seconds: float) -> str:
    """What a plan of parts depends on: a plan made under other settings is made again."""
    return f"{fmt}:{audio_limit}:{max_seconds:g}"


#: Where a plan cut short by a restart goes on: the next part's audio start, its seam
#: and its index (the parts before it are in the store).
Resume = Place
#: What the worker runs, and what the sentences about it call it.
COMPACT_TARGET = "dropscribe.audio.compact:main"
WHAT = "worker preparing the upload"


def prepare(
    source: Path,
    workdir: Path,
    fmt: UploadFormat,
    *,
    audio_limit: int,
    section: RemoteSettings,
    max_duration: float,
    base64: bool = False,
    audio_track: int | str = "auto",
    parts: list[Part] | None = None,
    resume: Resume | None = None,
    on_part: Callable[[Part], None] | None = None,
    cancel: threading.Event | None = None,
    first_index: int = 0,
) -> Manifest:
    """Decode ``source`` in a worker and write its compact upload (in parts if needed).

    ``base64`` (the backend's ``upload_base64``) picks the Opus bit rate (``upload_bit_rate``).
    ``parts`` writes the parts of an earlier plan again (their files were lost), or the
    coverage pass's, named from ``first_index`` on; ``resume`` goes on with a plan cut
    short. ``on_part`` is called with each part as soon as the worker has written it,
    while it prepares the rest; ``cancel`` stops the worker (the manifest is an error).

    Raises:
        BadInput: the recording is unreadable, too long, or defeats the worker's limits.
        Retryable: the worker could not be started.
    """
    request = CompactRequest(
        source=str(source),
        workdir=str(workdir),
        format=fmt,
        max_bytes=audio_limit,
        max_seconds=section.max_chunk_seconds,
        max_duration=max_duration,
        audio_track=audio_track,
        concurrency=section.concurrency,
        parts=tuple(cuts.Part(p.start, p.end, p.keep_start, p.keep_end) for p in parts or []),
        resume=resume,
        # The coverage pass reads the speech heard beside each file (audio/speech_files.py).
        speech=section.recover_speech,
        first_index=first_index,
        bit_rate=upload_bit_rate(fmt, base64),
    )
    first = resume.index if resume else first_index
    streamed: list[Part] = []

    def heard(written: PartFile) -> None:
        streamed.append(part_from(first + len(streamed), written))
        if on_part is not None:
            on_part(streamed[-1])

    limits = (section.prepare_memory_mb, section.prepare_timeout_seconds)
    manifest = answered(run_worker(request, limits, heard, cancel), Compacted)
    return manifest_of(manifest, parts, first)


def hear_speech(
    source: Path, section: RemoteSettings, *, max_duration: float, audio_track: int | str
) -> Heard:
    """Have the worker hear the speech of ``source`` (a file uploaded as it is), under the
    limits of its preparation; raises as :func:`prepare` does."""
    request = HearRequest(str(source), max_duration, audio_track)
    limits = (section.prepare_memory_mb, section.prepare_timeout_seconds)
    return answered(run_worker(request, limits, lambda part: None, None), Heard)


A = TypeVar("A", Compacted, Heard)


def answered(answer: Compacted | Heard, kind: type[A]) -> A:
    """``answer`` when it is the ``kind`` asked for (a worker answering another request
    is confused, or taken over: the file is tried again)."""
    if not isinstance(answer, kind):
        raise Retryable(f"The {WHAT} answered another request than the one sent.")
    return answer


def run_worker(
    request: CompactRequest | HearRequest,
    limits: tuple[int, float],
    on_part: Callable[[PartFile], None],
    cancel: threading.Event | None,
    target: str = COMPACT_TARGET,
) -> Compacted | Heard:
    """Run the worker on ``request`` under ``limits`` (megabytes, seconds); hand each part
    it announces to ``on_part`` as it comes; return its manifest. ``target`` is another
    program only for a test of a misbehaving worker.

    Raises:
        BadInput: the worker said the recording is at fault, stopped on it, or ran past
            its time.
        Retryable: the worker could not start, or said what its protocol does not know.
    """
    memory_mb, timeout = limits
    with tempfile.TemporaryFile() as errors:
        try:
            worker = Worker(
                target,
                what=WHAT,
                ready=(Ready,),
                start_seconds=min(START_SECONDS, timeout),
                memory_mb=memory_mb,
                with_thread=True,  # this thread waits for it
                stderr=errors,
            )
        except OSError as exc:
            raise Retryable(f"The worker that prepares uploads could not start ({exc}).") from None
        watch = Watch(worker, timeout, cancel)
        try:
            answer = read_answers(worker, request, on_part)
        finally:
            watch.done()
            worker.close()
        errors.seek(0)
        written = errors.read().decode(errors="replace")
    if watch.expired:
        raise BadInput(
            f"Preparing the upload took longer than {timeout:.0f} s and was stopped "
            "(prepare_timeout_seconds); check the recording, or raise the limit."
        )
    return settled(answer, worker, written)


def read_answers(
    worker: Worker, request: CompactRequest | HearRequest, on_part: Callable[[PartFile], None]
) -> CompactAnswer | None:
    """Send the request; pass on each part as it comes; return the last answer (None
    when the worker ended without one)."""
    try:
        worker.send(request)
        while (answer := worker.receive(ANSWERS)) is not None:
            if isinstance(answer, PartWritten):
                on_part(answer.part)
            elif not isinstance(answer, Ready):
                return answer
    except OSError:  # the worker died at once: its exit status says why
        pass
    except MessageError:
        worker.stop_for(
            f"The {WHAT} sent a message that is not of its protocol and was stopped; "
            "the file is tried again."
        )
    return None


def settled(answer: CompactAnswer | None, worker: Worker, stderr: str) -> Compacted | Heard:
    """Return the manifest (or what it heard), or raise what the worker's end means
    (see run_worker)."""
    if isinstance(answer, Compacted | Heard):
        return answer
    if isinstance(answer, CompactFailed):
        raise BadInput(answer.message)
    if worker.failure is not None:
        raise Retryable(worker.failure)
    code = worker.exit_code or 0
    what = f"signal {-code}" if code < 0 else f"exit status {code}"
    tail = stderr.strip().splitlines()[-1][:200] if stderr.strip() else "no message"
    raise BadInput(
        f"The {WHAT} stopped on this file ({what}: {tail}); "
        "check that it is a complete recording in a supported format."
    )


class Watch:
    """Kills the worker past its time limit or when told to stop."""

    def __init__(self, worker: Worker, timeout: float, cancel: threading.Event | None) -> None:
        self.worker, self.expired = worker, False
        self.cancel = cancel or threading.Event()
        self.finished = threading.Event()
        self.deadline = time.monotonic() + timeout
        threading.Thread(target=self._watch, name="prepare-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self.finished.wait(0.1):
            if self.cancel.is_set() or time.monotonic() > self.deadline:
                self.expired = not self.cancel.is_set()
                self.worker.kill()
                return

    def done(self) -> None:
        self.finished.set()


def part_from(index: int, written: PartFile) -> Part:
    return Part(
        written.start,
        written.end,
        written.keep_start,
        written.keep_end,
        written.path,
        written.bytes,
        index=index,
    )


def manifest_of(answer: Compacted, earlier: list[Part] | None, first: int = 0) -> Manifest:
    """Return the daemon's manifest of the worker's (``earlier``: the parts were only
    written again, and the recording ends where the last of them does)."""
    parts = [part_from(first + index, p) for index, p in enumerate(answer.parts)]
    if earlier:
        return Manifest(earlier[-1].end, "", parts)
    duration = answer.duration if answer.duration is not None else 0.0
    return Manifest(duration, answer.format, parts, answer.track)
