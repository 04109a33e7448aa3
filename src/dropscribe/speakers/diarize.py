"""From audio to a speaker number for every speech window.

The I/O-free core of diarization: speech regions ▸ windows ▸ voice vectors ▸
clusters. Decoding the file and applying labels to a transcript live
elsewhere (runner, labelling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.clustering import assign_speakers
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.features import mel_frames
from dropscribe.speakers.request import CountLimits
from dropscribe.speakers.windows import Window, batches_by_length, plan_windows, speech_regions

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SpeakerWindows:
    """Each window's speaker number (0, 1, … in order of first appearance)."""

    windows: list[Window]
    speakers: Ints

    @property
    def count(self) -> int:
        return int(self.speakers.max()) + 1 if len(self.speakers) else 0


def embed_windows(audio: Floats, encoder: VoiceEncoder) -> tuple[list[Window], Floats]:
    """Return the speech windows of 16 kHz ``audio`` and one voice vector for each."""
    mel = mel_frames(audio)
    windows = plan_windows(speech_regions(audio), len(mel))
    vectors = np.zeros((len(windows), 256), np.float32)
    for indices in batches_by_length(windows).values():
        for batch in _chunks(indices, 128):  # bounds the encoder's memory (~90 MB a batch)
            stack = np.stack([mel[windows[i].first : windows[i].last] for i in batch])
            vectors[batch] = encoder.embed(stack)
    return windows, vectors


def diarize(audio: Floats, encoder: VoiceEncoder, limits: CountLimits) -> SpeakerWindows:
    """Return who speaks in each speech window of 16 kHz ``audio``."""
    windows, vectors = embed_windows(audio, encoder)
    weights = np.array([window.frames for window in windows], dtype=np.float64)
    return SpeakerWindows(windows, assign_speakers(vectors, weights, limits))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
