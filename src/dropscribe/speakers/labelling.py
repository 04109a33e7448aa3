"""Speaker labels for the words of a transcript, from the speakers of the windows.

Each word takes the speaker of the labelling window whose centre is nearest to
the word's middle. The windows overlap every 0.25 s, so the nearest centre is
at most an eighth of a second away inside speech; a majority over every
window touching the word (the rule before) let a window that is mostly the
previous turn outvote the one centred on the word. A word outside every
window (the voice detector heard no speech there) takes the nearest window's
speaker too. Where two people talk at once, the word takes the voice that
dominates the window there: one of the speakers found, never a third (the
guarded cut leaves no cluster for overlaps). Labels are ``SPEAKER_1``,
``SPEAKER_2``… in the order the speakers first speak a word.
"""

from __future__ import annotations

import numpy as np

from dropscribe.speakers.diarize import SpeakerWindows
from dropscribe.speakers.request import Span


def word_speakers(spans: list[Span], result: SpeakerWindows) -> list[int | None]:
    """Return the speaker number of each (start, end) word span; None when there is no speech."""
    if not result.windows:
        return [None] * len(spans)
    middles = np.array([(window.start + window.end) / 2 for window in result.windows])
    order = np.argsort(middles, kind="stable")
    sorted_middles = middles[order]
    speakers: list[int | None] = []
    for start, end in spans:
        moment = (start + end) / 2
        right = int(np.searchsorted(sorted_middles, moment))
        candidates = [i for i in (right - 1, right) if 0 <= i < len(order)]
        best = min(candidates, key=lambda i: abs(sorted_middles[i] - moment))
        speakers.append(int(result.speakers[order[best]]))
    return speakers


def speaker_labels(numbers: list[int | None]) -> list[str | None]:
    """Return ``SPEAKER_n`` labels, numbered by first appearance in ``numbers``."""
    order: dict[int, int] = {}
    for number in numbers:
        if number is not None:
            order.setdefault(number, len(order) + 1)
    return [None if number is None else f"SPEAKER_{order[number]}" for number in numbers]
