"""Speaker labels for the words of a transcript, from the speakers of the windows.

Each word takes the speaker who holds most of its time among the windows
that overlap it; a word outside every window (the voice detector heard no
speech there) takes the nearest window's. Labels are ``SPEAKER_1``,
``SPEAKER_2``… in the order the speakers first speak a word.
"""

from __future__ import annotations

import numpy as np

from dropscribe.speakers.diarize import SpeakerWindows
from dropscribe.speakers.request import Span

MAX_WINDOW_SECONDS = 1.6


def word_speakers(spans: list[Span], result: SpeakerWindows) -> list[int | None]:
    """Return the speaker number of each (start, end) word span; None when there is no speech."""
    if not result.windows:
        return [None] * len(spans)
    starts = np.array([window.start for window in result.windows])
    ends = np.array([window.end for window in result.windows])
    speakers: list[int | None] = []
    for start, end in spans:
        first = int(np.searchsorted(starts, start - MAX_WINDOW_SECONDS, side="left"))
        last = int(np.searchsorted(starts, end, side="right"))
        overlap = np.minimum(ends[first:last], end) - np.maximum(starts[first:last], start)
        if last > first and overlap.max() > 0:
            held = np.bincount(
                result.speakers[first:last], weights=np.maximum(overlap, 0), minlength=result.count
            )
            speakers.append(int(np.argmax(held)))
        else:
            distance = np.maximum(starts - end, 0) + np.maximum(start - ends, 0)
            speakers.append(int(result.speakers[int(np.argmin(distance))]))
    return speakers


def speaker_labels(numbers: list[int | None]) -> list[str | None]:
    """Return ``SPEAKER_n`` labels, numbered by first appearance in ``numbers``."""
    order: dict[int, int] = {}
    for number in numbers:
        if number is not None:
            order.setdefault(number, len(order) + 1)
    return [None if number is None else f"SPEAKER_{order[number]}" for number in numbers]
