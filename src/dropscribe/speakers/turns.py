"""The found speakers' speech, cut into pieces, each with its naming vector.

Diarization gives every labelling window (every 0.25 s) a speaker. Each
window stands for the stretch nearest its centre (halfway to its neighbours'
centres; to its own edge at a region's ends), and adjacent stretches of one
speaker join into a *turn*. A turn is a piece of its speaker's speech, with
a CAM++ vector of its own (speakers/campplus.py; one longer than
``CHUNK_SECONDS`` is heard in equal chunks whose vectors are averaged); a
speaker's turns shorter than ``MIN_PIECE_SECONDS``, too short for a vector of
their own, are joined into one piece (one voice, heard at other moments). A
speaker's centre is the mean of its pieces' vectors, weighted by length, so
every second of speech counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.campgraph import EMBEDDING_SIZE
from dropscribe.speakers.campplus import NameEncoder
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


@dataclass(frozen=True)
class Turn:
    """Frames ``first`` to ``last`` of one speaker, and the labelling windows they hold."""

    first: int
    last: int
    speaker: int
    windows: list[int]


def speaker_turns(windows: list[Window], owners: Ints) -> list[Turn]:
    """Return the turns, in time order; windows whose owner is negative (nobody's) are
    left out."""
    turns: list[Turn] = []
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
        if turns and turns[-1].speaker == speaker and turns[-1].last == start:
            turns[-1].windows.append(index)
            turns[-1] = Turn(turns[-1].first, end, speaker, turns[-1].windows)
        else:
            turns.append(Turn(start, end, speaker, [index]))
    return turns


def _audio(audio: Floats, turn: Turn) -> Floats:
    return audio[turn.first * HOP : turn.last * HOP]


def speaker_pieces(
    audio: Floats, windows: list[Window], owners: Ints, count: int, encoder: NameEncoder
) -> Pieces:
    """Return the naming vectors of the ``count`` speakers' pieces of 16 kHz ``audio``
    (``owners``: each labelling window's speaker, negative for nobody) and their centres:
    a piece for each turn of ``MIN_PIECE_SECONDS`` or more, and one of each speaker's
    shorter turns joined."""
    turns = speaker_turns(windows, owners)
    vectors: list[Floats] = []
    speakers: list[int] = []
    seconds: list[float] = []
    short: list[list[Floats]] = [[] for _ in range(count)]
    for turn in turns:
        part = _audio(audio, turn)
        if len(part) < MIN_PIECE_SECONDS * SAMPLE_RATE:
            short[turn.speaker].append(part)
            continue
        _add(encoder.embed(part), turn.speaker, len(part), (vectors, speakers, seconds))
    for speaker, parts in enumerate(short):
        if parts:
            joined = np.concatenate(parts)
            _add(encoder.embed(joined), speaker, len(joined), (vectors, speakers, seconds))
    return _pieces(vectors, speakers, seconds, count)


def _add(
    vector: Floats | None,
    speaker: int,
    samples: int,
    into: tuple[list[Floats], list[int], list[float]],
) -> None:
    if vector is not None:
        into[0].append(vector)
        into[1].append(speaker)
        into[2].append(samples / SAMPLE_RATE)


def _pieces(vectors: list[Floats], speakers: list[int], seconds: list[float], count: int) -> Pieces:
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
