"""From audio to a speaker number for every speech window.

The I/O-free core of diarization: speech regions ▸ windows ▸ voice vectors ▸
clusters. Decoding the file and applying labels to a transcript live
elsewhere (runner, labelling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropscribe.speakers.clustering import assign_speakers
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.features import mel_frames
from dropscribe.speakers.request import CountLimits
from dropscribe.speakers.vectors import VECTOR_SIZE, Floats, Ints
from dropscribe.speakers.windows import (
    LABEL_STEP_FRAMES,
    Window,
    batches_by_length,
    plan_windows,
    speech_regions,
)


@dataclass(frozen=True)
class SpeakerWindows:
    """Each labelling window's speaker number (0, 1, … in order of first appearance),
    and its voice vector."""

    windows: list[Window]
    speakers: Ints
    vectors: Floats

    @property
    def count(self) -> int:
        return int(self.speakers.max()) + 1 if len(self.speakers) else 0

    def centres(self) -> Floats:
        """Return each speaker's unit mean voice vector, by speaker number."""
        from dropscribe.speakers.vectors import centres

        return centres(self.vectors, self.speakers, self.count)


def embed(mel: Floats, windows: list[Window], encoder: VoiceEncoder) -> Floats:
    """Return one voice vector for each of ``windows`` over the mel frames ``mel``."""
    vectors = np.zeros((len(windows), VECTOR_SIZE), np.float32)
    for indices in batches_by_length(windows).values():
        for batch in _chunks(indices, 128):  # bounds the encoder's memory (~90 MB a batch)
            stack = np.stack([mel[windows[i].first : windows[i].last] for i in batch])
            vectors[batch] = encoder.embed(stack)
    # NaN samples in a float recording make NaN vectors, and one NaN row makes the
    # recording's space (an SVD) fail, losing every label: such a window is like no one.
    return np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)


def embed_windows(
    audio: Floats, encoder: VoiceEncoder, step_frames: int = LABEL_STEP_FRAMES
) -> tuple[list[Window], Floats, Ints]:
    """Return the labelling windows of 16 kHz ``audio``, a voice vector for each, and
    the indices of the windows to cluster (those of a window every 0.75 s)."""
    mel = mel_frames(audio)
    regions = speech_regions(audio)
    windows = plan_windows(regions, len(mel), step_frames=step_frames)
    position = {window: index for index, window in enumerate(windows)}
    clustered = np.array(
        [position[window] for window in plan_windows(regions, len(mel)) if window in position],
        dtype=np.int64,
    )
    return windows, embed(mel, windows, encoder), clustered


def diarize(audio: Floats, encoder: VoiceEncoder, limits: CountLimits) -> SpeakerWindows:
    """Return who speaks in each labelling window of 16 kHz ``audio``."""
    windows, vectors, clustered = embed_windows(audio, encoder)
    if not windows:
        return SpeakerWindows([], np.zeros(0, np.int64), vectors)
    weights = np.array([windows[i].frames for i in clustered], dtype=np.float64)
    speakers = assign_speakers(vectors, weights, limits, clustered=clustered)
    return SpeakerWindows(windows, speakers, vectors)


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
