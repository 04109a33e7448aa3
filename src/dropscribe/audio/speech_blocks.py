"""Speech spans of a stream of samples, found block by block (memory stays flat).

The voice detector sees blocks of ``BLOCK_SECONDS``; a span cut by a block's
edge becomes two spans with no gap between them, which is never a pause, so
no cut is planned there. Until the stream proves long enough to need cutting,
its first ``hold_seconds`` are only held (a short file never pays for the
detector); :meth:`SpeechFinder.finish` runs it on them when asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dropscribe.audio.cuts import Span

SAMPLE_RATE = 16000
BLOCK_SECONDS = 300.0

Samples = np.ndarray[Any, np.dtype[np.int16]]


class SpeechFinder:
    def __init__(self, hold_seconds: float, block_seconds: float = BLOCK_SECONDS) -> None:
        self.hold = int(hold_seconds * SAMPLE_RATE)
        self.block = int(block_seconds * SAMPLE_RATE)
        self.pending: list[Samples] = []
        self.pending_samples = 0
        self.offset = 0  # samples already through the detector
        self.spans: list[Span] = []
        self.active = False

    def feed(self, samples: Samples, *, needed: bool) -> None:
        """Take the next samples; ``needed`` says the stream is long enough to be cut."""
        self.pending.append(samples)
        self.pending_samples += len(samples)
        self.active = self.active or needed or self.pending_samples > self.hold
        while self.active and self.pending_samples >= self.block:
            self._detect(self.block)

    def finish(self) -> list[Span]:
        """Return every span of speech seen, in seconds."""
        while self.pending_samples:
            self._detect(min(self.block, self.pending_samples))
        return self.spans

    def _detect(self, count: int) -> None:
        from dropscribe.audio.speech import detect_speech

        joined = np.concatenate(self.pending)
        block, rest = joined[:count], joined[count:]
        self.pending = [rest] if len(rest) else []
        self.pending_samples = len(rest)
        audio = block.astype(np.float32) / 32768.0
        start = self.offset / SAMPLE_RATE
        self.spans.extend((start + a, start + b) for a, b in detect_speech(audio, SAMPLE_RATE))
        self.offset += count
