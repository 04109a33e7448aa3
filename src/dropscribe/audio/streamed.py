"""A long recording cut into chunks as it is decoded, each written as soon as its audio is in.

The worker (:mod:`dropscribe.audio.compact`) feeds :class:`StreamedParts` the
decoded samples in order. Once the audio reaches the end of the window around
the next cut's target (:class:`dropscribe.audio.chunk_plan.ChunkPlanner`), the
voice detector looks at that window only, the cut goes at the nearest pause,
and the chunk's samples go to an encoder thread; the next chunk is being
decoded meanwhile. Finished chunks are handed to ``emit`` in order, each the
moment it and the ones before it are written, so the daemon can send the first
chunks while the last are still being prepared.

Encoding runs on ``encoders`` threads (libopus and the voice detector release
the GIL, so each uses a core of its own). At most one chunk more than there are
encoders waits in memory: a slow encoder holds the decoding back, not the
memory limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.chunk_plan import ChunkPlanner, next_start, part_before
from dropscribe.audio.compact_protocol import PartFile, Place
from dropscribe.audio.cuts import Part, plan_parts
from dropscribe.audio.speech_blocks import find_speech
from dropscribe.audio.speech_files import rename_with_speech, speech_path
from dropscribe.errors import BadInput

Samples = np.ndarray[Any, np.dtype[np.int16]]


#: Writes ``samples`` to ``path`` in the compact format; returns the file's size.
EncodeFile = Callable[[Path, Samples], int]


class StreamedParts:
    """Chunks cut and encoded as the samples come (see the module docstring)."""

    def __init__(
        self,
        workdir: Path,
        suffix: str,
        encode: EncodeFile,
        planner: ChunkPlanner,
        *,
        max_bytes: int,
        emit: Callable[[PartFile], None],
        encoders: int = 1,
        place: Place | None = None,
    ) -> None:
        place = place or Place()
        self.workdir, self.suffix, self.encode = workdir, suffix, encode
        self.planner, self.max_bytes, self.emit = planner, max_bytes, emit
        self.pool = ThreadPoolExecutor(max(1, encoders), thread_name_prefix="encode")
        self.waiting_room = max(1, encoders) + 1
        self.written: list[Future[list[PartFile]]] = []
        self.emitted: list[PartFile] = []
        self.start, self.keep_start = place.start, place.keep_start
        self.sequence = place.index
        self.aim = planner.aim(self.start)
        #: Decoded samples from ``self.start`` on (earlier ones are dropped as they come).
        self.held: list[Samples] = []
        self.held_from = round(self.start * SAMPLE_RATE)
        self.position = 0  # samples decoded so far

    def feed(self, block: Samples) -> None:
        """Take the next decoded samples; cut and hand out every chunk they complete."""
        begin = self.position
        self.position += len(block)
        skip = self.held_from - begin
        if skip >= len(block):
            return
        self.held.append(block[max(0, skip) :])
        while self.position / SAMPLE_RATE >= self.aim.decide_at:
            self._cut_here()

    def finish(self) -> list[PartFile]:
        """Write the last chunk, wait for every encoder, return the chunks written."""
        try:
            end = self.position / SAMPLE_RATE
            if end > self.start:
                last = Part(round(self.start, 3), round(end, 3), self.keep_start, round(end, 3))
                self._write(last, self._held_until(end))
            self._emit_ready(wait_for=0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return self.emitted

    def _cut_here(self) -> None:
        low, high = self.planner.window(self.aim.target)
        window = self._held_between(max(low, self.start), high)
        offset = max(low, self.start)
        speech = [(offset + a, offset + b) for a, b in find_speech(to_float(window))]
        cut = self.planner.cut(speech, self.start, self.aim.target)
        part = part_before(cut, self.start, self.keep_start, self.position / SAMPLE_RATE)
        self._write(part, self._held_until(part.end))
        self.start, self.keep_start = next_start(cut), cut.at
        self._drop_before(self.start)
        self.aim = self.planner.aim(self.start)

    def _write(self, part: Part, samples: Samples) -> None:
        self.written.append(self.pool.submit(self._encoded, part, samples, self.sequence))
        self.sequence += 1
        self._emit_ready(wait_for=self.waiting_room)

    def _emit_ready(self, wait_for: int) -> None:
        """Hand out the written chunks in order; block while more than ``wait_for`` wait."""
        while self.written and (self.written[0].done() or len(self.written) > wait_for):
            for written in self.written.pop(0).result():
                self.emitted.append(written)
                self.emit(written)

    def _encoded(self, part: Part, samples: Samples, sequence: int) -> list[PartFile]:
        """Encode one chunk; one that comes out over the byte limit is split at a pause."""
        name = f"part-{sequence:04d}{self.suffix}"
        size = self.encode(self.workdir / name, samples)
        if size <= self.max_bytes:
            return [PartFile(part.start, part.end, part.keep_start, part.keep_end, name, size)]
        (self.workdir / name).unlink(missing_ok=True)
        speech_path(self.workdir / name).unlink(missing_ok=True)
        seconds = len(samples) / SAMPLE_RATE
        if seconds < 4.0:
            raise BadInput(
                f"The recording could not be cut into parts under {self.max_bytes} bytes; "
                "raise the backend's max_upload_bytes or choose a smaller upload_format."
            )
        halves = plan_parts(find_speech(to_float(samples)), seconds, max_seconds=seconds * 0.6)
        written: list[PartFile] = []
        for index, half in enumerate(halves):
            inner = samples[round(half.start * SAMPLE_RATE) : round(half.end * SAMPLE_RATE)]
            inner_part = shifted(half, part, first=index == 0, last=index == len(halves) - 1)
            for piece in self._encoded(inner_part, inner, sequence):
                renamed = piece.path.replace(self.suffix, f".{index}{self.suffix}")
                rename_with_speech(self.workdir / piece.path, self.workdir / renamed)
                written.append(dataclasses.replace(piece, path=renamed))
        return written

    def _held_between(self, start: float, end: float) -> Samples:
        joined = np.concatenate(self.held) if self.held else np.zeros(0, np.int16)
        self.held = [joined]
        first = max(0, round(start * SAMPLE_RATE) - self.held_from)
        return joined[first : max(first, round(end * SAMPLE_RATE) - self.held_from)]

    def _held_until(self, end: float) -> Samples:
        return self._held_between(self.start, end).copy()

    def _drop_before(self, start: float) -> None:
        kept = self._held_between(start, self.position / SAMPLE_RATE + 1)
        self.held = [kept.copy()]
        self.held_from = round(start * SAMPLE_RATE)


def shifted(inner: Part, outer: Part, *, first: bool, last: bool) -> Part:
    """Return ``inner`` (seconds within ``outer``'s audio) on the recording's clock,
    keeping ``outer``'s seams at its ends."""
    base = outer.start
    return Part(
        round(base + inner.start, 3),
        round(base + inner.end, 3),
        outer.keep_start if first else round(base + inner.keep_start, 3),
        outer.keep_end if last else round(base + inner.keep_end, 3),
    )


def to_float(samples: Samples) -> np.ndarray[Any, np.dtype[np.float32]]:
    return samples.astype(np.float32) / np.float32(32768.0)
