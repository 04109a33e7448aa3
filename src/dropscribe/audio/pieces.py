"""Decoded audio in bounded pieces: resampling a piece at a time, and the growing sample array.

A low input rate multiplies the samples (8 Hz to 16 kHz is 2,000 times), so
input is gathered into pieces by the *output* length they make, whatever the
input's rate, and each piece is resampled on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dropscribe.audio import SAMPLE_RATE

#: The most audio resampled at once, in seconds of output (1.9 MB of samples).
PIECE_SECONDS = 30.0

Samples = NDArray[np.float32]


class Resampling:
    """Input frames gathered into pieces of bounded output length, then resampled.

    A new FIFO and resampler start whenever the input's format changes (some
    streams change sample rate midway).
    """

    def __init__(self) -> None:
        self._key: tuple[str, str, int] | None = None
        self._fifo: Any = None
        self._resampler: Any = None
        self._piece_samples = 0

    def feed(self, frame: Any) -> Iterator[Samples]:
        import av

        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._key:
            yield from self.flush()
            self._key = key
            self._fifo = av.AudioFifo()
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            # Input samples giving PIECE_SECONDS of output, whatever the input's rate.
            self._piece_samples = max(1, int(PIECE_SECONDS * frame.sample_rate))
        frame.pts = None  # the FIFO checks timestamps; damaged files have gaps
        self._fifo.write(frame)
        while self._fifo.samples >= self._piece_samples:
            yield from self._resample(self._fifo.read(self._piece_samples))

    def flush(self) -> Iterator[Samples]:
        if self._fifo is None:
            return
        if self._fifo.samples:
            yield from self._resample(self._fifo.read())
        yield from self._resample(None)
        self._fifo = self._resampler = self._key = None

    def _resample(self, frame: Any) -> Iterator[Samples]:
        for out in self._resampler.resample(frame):
            # s16 then scaled, as faster-whisper decodes: the same samples, the same words.
            yield out.to_ndarray().reshape(-1).astype(np.float32) / np.float32(32768.0)


class SampleBuffer:
    """Samples in one array that doubles as it fills, never past ``limit`` samples."""

    def __init__(self, expected: int, limit: int) -> None:
        self._limit = limit
        self._array: Samples = np.empty(max(1, min(expected, limit)), dtype=np.float32)
        self._size = 0

    def append(self, piece: Samples) -> None:
        end = self._size + len(piece)
        if end > self._limit:
            raise ValueError("the buffer is full; the reader stops at the limit")
        if end > len(self._array):
            grown = np.empty(min(max(end, 2 * len(self._array)), self._limit), dtype=np.float32)
            grown[: self._size] = self._array[: self._size]
            self._array = grown
        self._array[self._size : end] = piece
        self._size = end

    def samples(self) -> Samples:
        """Return the samples; a copy when most of the room was never used."""
        if self._size < len(self._array) // 2:
            return self._array[: self._size].copy()
        return self._array[: self._size]
