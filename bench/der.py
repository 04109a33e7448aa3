"""Scoring speaker labels: diarization error rate, and words with the right speaker.

DER as pyannote.metrics computes it with its defaults for published figures
(no forgiveness collar, overlapped speech scored): over 10 ms frames, missed
speech + false alarm + confusion, divided by the reference speech (a frame
where two talk counts twice), with labels mapped to the reference speakers
one-to-one at best. Our labels come one per frame (the voice of the labelling
window centred nearest, inside the voice detector's speech), so in an
overlap one of the two speakers is always missed: that is part of the figure.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.conversations import Turn
from dropscribe.speakers.diarize import SpeakerWindows

STEP = 0.01
Grid = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Der:
    missed: float
    false_alarm: float
    confusion: float
    reference: float  # seconds of reference speech

    @property
    def rate(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / max(self.reference, 1e-9)

    def __add__(self, other: Der) -> Der:
        return Der(
            self.missed + other.missed,
            self.false_alarm + other.false_alarm,
            self.confusion + other.confusion,
            self.reference + other.reference,
        )


def reference_grid(turns: list[Turn], seconds: float) -> Grid:
    names = sorted({turn.voice for turn in turns})
    grid = np.zeros((int(np.ceil(seconds / STEP)), len(names)), bool)
    for turn in turns:
        grid[int(turn.start / STEP) : int(turn.end / STEP), names.index(turn.voice)] = True
    return grid


def hypothesis_grid(
    result: SpeakerWindows, regions: list[tuple[float, float]], seconds: float
) -> Grid:
    frames = int(np.ceil(seconds / STEP))
    grid = np.zeros((frames, max(result.count, 1)), bool)
    if not result.windows:
        return grid
    middles = np.array([(w.start + w.end) / 2 for w in result.windows])
    for start, end in regions:
        index = np.arange(int(start / STEP), min(frames, int(end / STEP)))
        nearest = np.abs(middles[None, :] - ((index + 0.5) * STEP)[:, None]).argmin(axis=1)
        grid[index, result.speakers[nearest]] = True
    return grid


def der(reference: Grid, hypothesis: Grid) -> Der:
    """Return the DER parts (seconds) with the best one-to-one mapping of labels."""
    ref_count, hyp_count = reference.sum(axis=1), hypothesis.sum(axis=1)
    missed = float(np.maximum(ref_count - hyp_count, 0).sum())
    false_alarm = float(np.maximum(hyp_count - ref_count, 0).sum())
    overlap = reference.T.astype(np.int64) @ hypothesis.astype(np.int64)  # (ref, hyp) frames
    speakers, labels = overlap.shape
    best = 0
    for chosen in itertools.permutations(range(max(speakers, labels)), labels):
        best = max(best, sum(int(overlap[r, h]) for h, r in enumerate(chosen) if r < speakers))
    confusion = float(np.minimum(ref_count, hyp_count).sum()) - best
    return Der(missed * STEP, false_alarm * STEP, confusion * STEP, float(ref_count.sum()) * STEP)


def truth_at(turns: list[Turn], moment: float) -> str | None:
    """Return the voice speaking at ``moment``; None in silence or where two overlap."""
    voices = {turn.voice for turn in turns if turn.start <= moment < turn.end}
    return voices.pop() if len(voices) == 1 else None


def words_right(truth: list[str | None], found: list[int | None]) -> tuple[int, int]:
    """Return (words right, words scored) after mapping labels to voices at best."""
    scored = [(t, f) for t, f in zip(truth, found, strict=True) if t is not None]
    voices = sorted({t for t, _ in scored})
    labels = sorted({f for _, f in scored if f is not None})
    best = 0
    for chosen in itertools.permutations(voices + [None] * len(labels), len(labels)):
        mapping = dict(zip(labels, chosen, strict=True))
        best = max(best, sum(1 for t, f in scored if f is not None and mapping[f] == t))
    return best, len(scored)
