"""The found speakers' speech, cut into pieces, each with its naming vector.

Diarization gives every labelling window (every 0.25 s) a speaker. Each
window stands for the stretch nearest its centre (halfway to its neighbours'
centres; to its own edge at a region's ends), and adjacent stretches of one
speaker join into a *turn*. A turn is a piece of its speaker's speech, cut in
equal parts when longer than ``CHUNK_SECONDS``; a speaker's turns shorter
than ``MIN_PIECE_SECONDS``, too short for a vector of their own, are joined
into pieces of their own (one voice, heard at other moments). Each piece gets
a CAM++ vector (speakers/campplus.py); a speaker's centre is their mean,
weighted by length, so every second of speech counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.campgraph import EMBEDDING_SIZE
from dropscribe.speakers.campplus import CHUNK_SECONDS, NameEncoder
from dropscribe.speakers.features import HOP
from dropscribe.speakers.vectors import Floats, Ints, unit
from dropscribe.speakers.windows import Window

#: A turn shorter than this is joined with the speaker's other short turns.
MIN_PIECE_SECONDS = 1.0


@dataclass(frozen=True)
class Pieces:
    """The pieces' vectors, their speakers and seconds, and each speaker's centre."""

    vectors: Floats
    owners: Ints
    seconds: Floats
    centres: Floats


def speaker_turns(windows: list[Window], owners: Ints) -> list[tuple[int, int, int]]:
    """Return the (first frame, last frame, speaker) of each turn, in time order; windows
    whose owner is negative (nobody's) are left out."""
    turns: list[tuple[int, int, int]] = []
    for index, window in enumerate(windows):
        before = windows[index - 1] if index else None
        after = windows[index + 1] if index + 1 < len(windows) else None
        centre = (window.first + window.last) // 2
        start = window.first
        if before is not None and before.last > window.first:  # the same region
            start = max(window.first, ((before.first + before.last) // 2 + centre) // 2)
        end = window.last
        if after is not None and after.first < window.last:
            end = min(window.last, (centre + (after.first + after.last) // 2) // 2)
        speaker = int(owners[index])
        if speaker < 0 or end <= start:
            continue
        if turns and turns[-1][2] == speaker and turns[-1][1] == start:
            turns[-1] = (turns[-1][0], end, speaker)
        else:
            turns.append((start, end, speaker))
    return turns


def _cut(audio: Floats, turns: list[tuple[int, int, int]], count: int) -> list[tuple[Floats, int]]:
    """Return the pieces of audio (and their speakers) to embed."""
    pieces: list[tuple[Floats, int]] = []
    short: list[list[Floats]] = [[] for _ in range(count)]
    for first, last, speaker in turns:
        part = audio[first * HOP : last * HOP]
        if len(part) < MIN_PIECE_SECONDS * SAMPLE_RATE:
            short[speaker].append(part)
            continue
        splits = max(1, int(np.ceil(len(part) / (CHUNK_SECONDS * SAMPLE_RATE))))
        pieces.extend((chunk, speaker) for chunk in np.array_split(part, splits))
    for speaker, parts in enumerate(short):
        if parts:
            joined = np.concatenate(parts)
            splits = max(1, int(np.ceil(len(joined) / (CHUNK_SECONDS * SAMPLE_RATE))))
            pieces.extend((chunk, speaker) for chunk in np.array_split(joined, splits))
    return pieces


def speaker_pieces(
    audio: Floats, windows: list[Window], owners: Ints, count: int, encoder: NameEncoder
) -> Pieces:
    """Return the naming vectors of the ``count`` speakers' pieces of 16 kHz ``audio``
    (``owners``: each labelling window's speaker, negative for nobody) and their centres."""
    vectors, speakers, seconds = [], [], []
    for part, speaker in _cut(audio, speaker_turns(windows, owners), count):
        vector = encoder.embed(part)
        if vector is not None:
            vectors.append(vector)
            speakers.append(speaker)
            seconds.append(len(part) / (SAMPLE_RATE))
    if not vectors:
        empty = np.zeros((0, EMBEDDING_SIZE), np.float32)
        return Pieces(empty, np.zeros(0, np.int64), np.zeros(0, np.float32), _zeros(count))
    stack = np.stack(vectors).astype(np.float32)
    owner = np.array(speakers, np.int64)
    length = np.array(seconds, np.float32)
    sums = np.zeros((count, EMBEDDING_SIZE), np.float64)
    np.add.at(sums, owner, stack * length[:, None])
    return Pieces(stack, owner, length, unit(sums))


def _zeros(count: int) -> Floats:
    return np.zeros((count, EMBEDDING_SIZE), np.float32)
