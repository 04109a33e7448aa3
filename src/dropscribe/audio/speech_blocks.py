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

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.cuts import Span

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
        joined = np.concatenate(self.pending)
        block, rest = joined[:count], joined[count:]
        self.pending = [rest] if len(rest) else []
        self.pending_samples = len(rest)
        audio = block.astype(np.float32) / 32768.0
        start = self.offset / SAMPLE_RATE
        self.spans.extend((start + a, start + b) for a, b in find_speech(audio))
        self.offset += count


def find_speech(audio: np.ndarray[Any, np.dtype[np.float32]]) -> list[Span]:
    """Silero (faster-whisper's detector) where it is installed, else :func:`loud_spans`."""
    try:
        from dropscribe.audio.speech import detect_speech

        return detect_speech(audio, SAMPLE_RATE)
    except ImportError:  # a remote-only install, without the 'local' extra
        return loud_spans(audio)


#: Frames of the energy detector, and how far above the noise floor speech is.
FRAME_SECONDS = 0.03
ABOVE_FLOOR_DB = 12.0
#: Never call anything quieter than this speech, however quiet the room.
SILENCE_DBFS = -50.0


def loud_spans(audio: np.ndarray[Any, np.dtype[np.float32]]) -> list[Span]:
    """Return the spans louder than the noise floor: a plain energy detector.

    Coarser than Silero (a cough is "speech"), but its gaps are real silences,
    which is all a cut needs: it never puts a cut inside a loud stretch.
    """
    size = int(FRAME_SECONDS * SAMPLE_RATE)
    frames = len(audio) // size
    if frames == 0:
        return []
    power = np.mean(audio[: frames * size].reshape(frames, size) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    floor = float(np.percentile(level, 10))
    loud = level > max(SILENCE_DBFS, floor + ABOVE_FLOOR_DB)
    spans: list[Span] = []
    start: int | None = None
    for index, is_loud in enumerate([*loud.tolist(), False]):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            spans.append((start * FRAME_SECONDS, index * FRAME_SECONDS))
            start = None
    return spans
