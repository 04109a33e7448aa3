"""Which found speaker is which enrolled person: a one-to-one assignment, or no name.

A speaker may take a person's name only when (a) that person is the speaker's
best match, with a similarity of at least ``NAME_SIMILARITY``, (b) the next
best person is at least ``NAME_MARGIN`` behind (two enrolled voices that the
speaker resembles alike name neither), and (c) the speaker said at least
``MIN_NAMED_SECONDS`` (a few words give a vector too rough to trust; counted
as the worker counts a speaker's speech, a quarter second per labelling
window, so 0.5 s is two windows), and (d) where the speaker's pieces of
speech are known, half of them are like the person: their median similarity,
weighted by length, is at least ``WINDOW_SUPPORT`` (a group that diarization
made of the person and a stranger half and half has a centre near the
person, but half its speech is not). Two speakers whose best match is the
same person: the closer one is named, the other stays ``SPEAKER_n``. So a
name is never given twice, and a stranger, whose voice lies below the
threshold, keeps a number.

The similarities are of CAM++ vectors (speakers/campplus.py). The threshold
is calibrated on real voices enrolled from some recordings and tested on
others, as recorded, on a telephone line and in a room (bench/README.md,
issue 22, "Calibration of the naming threshold"), on one split of the
recordings and checked on the other: the most alike stranger scored 0.608
(a woman against a man, over the line, whose match counts 0.02 less:
speakers/enrolment.py), genuine voices 0.63-0.97 (named speakers in
conversations 0.675 and more), and every threshold from 0.62 to 0.70 named
the same words of the calibration split. Below the
threshold a voice keeps its number: a voice enrolled from a few seconds may
stay unnamed; that is the side this errs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropscribe.speakers.vectors import Floats

NAME_SIMILARITY = 0.64
NAME_MARGIN = 0.05
#: Two labelling windows: one (0.25 s) would have named 3 more words of the calibration
#: split, too little to trust a voice on.
MIN_NAMED_SECONDS = 0.5
#: Between the lowest median of a named group of one voice (0.584) and what a stranger's
#: speech scores against an enrolled person (at most 0.558, mostly under 0.45); on the
#: benchmark it kept no group unnamed (bench/README.md, issue 22, "Names").
WINDOW_SUPPORT = 0.5


@dataclass(frozen=True)
class Match:
    """A speaker's enrolled name (None: not enrolled) and the similarity it was given on."""

    name: str | None
    score: float | None


def assign_names(
    scores: Floats,
    names: list[str],
    seconds: list[float],
    threshold: float = NAME_SIMILARITY,
    support: Floats | None = None,
) -> list[Match]:
    """Return one match per speaker (row of ``scores``: its similarity to each person;
    of ``support``, when given: its windows' median similarity to each person)."""
    matches = [Match(None, _best(row)) for row in scores]
    if not names:
        return [Match(None, None) for _ in scores]
    claims: dict[int, tuple[float, int]] = {}
    for speaker, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        best = float(row[order[0]])
        second = float(row[order[1]]) if len(order) > 1 else -1.0
        if best < threshold or best - second < NAME_MARGIN:
            continue
        person = int(order[0])
        if seconds[speaker] < MIN_NAMED_SECONDS:
            continue
        if support is not None and support[speaker, person] < WINDOW_SUPPORT:
            continue
        if person not in claims or claims[person][0] < best:
            claims[person] = (best, speaker)
    for person, (score, speaker) in claims.items():
        matches[speaker] = Match(names[person], round(score, 3))
    return matches


def _best(row: Floats) -> float | None:
    return round(float(row.max()), 3) if len(row) else None
