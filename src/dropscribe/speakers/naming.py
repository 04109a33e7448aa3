"""Which found speaker is which enrolled person: a one-to-one assignment, or no name.

A speaker may take a person's name only when (a) that person is the speaker's
best match, with a similarity of at least ``NAME_SIMILARITY``, (b) the next
best person is at least ``NAME_MARGIN`` behind (two enrolled voices that the
speaker resembles alike name neither), and (c) the speaker said at least
``MIN_NAMED_SECONDS`` (a few words give a vector too rough to trust; counted
as the worker counts a speaker's speech, a quarter second per labelling
window, so 1 s is four windows), and (d) where the speaker's windows are
known, half of them are like the person: their median similarity is at
least ``WINDOW_SUPPORT`` (a group that diarization made of the person and a
stranger half and half has a centre near the person, but half its windows
are not). Two speakers whose best match is the same
person: the closer one is named, the other stays ``SPEAKER_n``. So a name is
never given twice, and a stranger, whose voice lies below the threshold,
keeps a number.

The threshold is calibrated on real voices enrolled from some recordings and
tested on others, as recorded, on a telephone line and in a room
(bench/README.md, issue 22, "Calibration of the naming threshold"): the most
alike stranger scored 0.837 (two women of one telephone call, over the line
again; a match on the line's vector counts 0.02 less, on the room's 0.04
more: speakers/enrolment.py), genuine voices 0.75-0.97. Below the threshold
a voice keeps its number: a voice enrolled from a few seconds, or heard in a
reverberant room, may stay unnamed; that is the side this errs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropscribe.speakers.vectors import Floats

NAME_SIMILARITY = 0.85
NAME_MARGIN = 0.05
MIN_NAMED_SECONDS = 1.0
#: Named groups of one voice had window medians of 0.763 and more; a group half the
#: enrolled voice and half a stranger's, 0.694 (bench/README.md, issue 22, "Names").
WINDOW_SUPPORT = 0.74


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
