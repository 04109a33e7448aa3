"""Where the voice vectors are taken: speech regions cut into overlapping windows.

Windows stay inside one speech region, so a pause, where turns usually
change, is never inside a window; turns that change without a pause are found
by the labelling windows, which overlap densely inside a region. A region
shorter than a window gets one window of its own length (rounded down to a
multiple of ``LENGTH_QUANTUM`` frames, so that windows batch together by
length); regions too short to say anything about a voice get none, and their
words borrow their neighbours'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.features import FRAMES_PER_SECOND, HOP

WINDOW_FRAMES = 160  # 1.6 s: the length the encoder was trained on
STEP_FRAMES = 75  # a new window every 0.75 s: the windows that are clustered
#: Labelling windows, every 0.25 s: a word takes the voice of the window centred
#: nearest to it, so a turn change is placed to about an eighth of a second. The
#: clustered windows are every third of them (the same start, the same tail).
LABEL_STEP_FRAMES = 25
MIN_FRAMES = 50  # 0.5 s: shorter regions get no window of their own
LENGTH_QUANTUM = 10

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Window:
    """Frames ``first`` (included) to ``last`` (excluded) of the mel frames."""

    first: int
    last: int

    @property
    def start(self) -> float:
        return self.first / FRAMES_PER_SECOND

    @property
    def end(self) -> float:
        return self.last / FRAMES_PER_SECOND

    @property
    def frames(self) -> int:
        return self.last - self.first


def speech_regions(audio: Floats) -> list[tuple[float, float]]:
    """Return the (start, end) seconds of speech in 16 kHz ``audio`` (Silero VAD)."""
    from dropscribe.audio.speech import detect_speech

    # A pause of 300 ms ends a region: turns often change after one that short,
    # while the pauses between one speaker's words are mostly shorter.
    return detect_speech(audio, SAMPLE_RATE, min_silence_ms=300, speech_pad_ms=100)


def plan_windows(
    regions: list[tuple[float, float]],
    total_frames: int,
    *,
    window_frames: int = WINDOW_FRAMES,
    step_frames: int = STEP_FRAMES,
) -> list[Window]:
    """Return the windows covering ``regions`` (seconds), in time order."""
    windows: list[Window] = []
    for start, end in regions:
        first = max(0, round(start * SAMPLE_RATE / HOP))
        last = min(total_frames, round(end * SAMPLE_RATE / HOP))
        length = last - first
        if length < MIN_FRAMES:
            continue
        if length <= window_frames:
            usable = length - length % LENGTH_QUANTUM
            offset = first + (length - usable) // 2
            windows.append(Window(offset, offset + usable))
            continue
        starts = list(range(first, last - window_frames + 1, step_frames))
        if starts[-1] + window_frames < last:
            starts.append(last - window_frames)  # the region's tail gets a window too
        windows.extend(Window(begin, begin + window_frames) for begin in starts)
    return windows


def batches_by_length(windows: list[Window]) -> dict[int, list[int]]:
    """Return the indices of ``windows`` grouped by their length in frames."""
    groups: dict[int, list[int]] = {}
    for index, window in enumerate(windows):
        groups.setdefault(window.frames, []).append(index)
    return groups
