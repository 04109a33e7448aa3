"""What diarization is asked: how many speakers, and the words' times.

No numpy here, nor in what imports it before the worker starts: the worker
process sets its thread limits before numpy loads (see runner).
"""

from __future__ import annotations

from dataclasses import dataclass

from dropscribe.transcript import Segment

Span = tuple[float, float]


@dataclass(frozen=True)
class CountLimits:
    """How speakers are labelled: ``speakers`` forces a count when above 0; otherwise it
    lies in [minimum, maximum]; ``voices``, when set, is the folder that names them.

    All of it is part of the key under which a labelled result is reused."""

    speakers: int = 0
    minimum: int = 1
    maximum: int = 8
    voices: str = ""


def word_times(segments: list[Segment]) -> list[Span]:
    """Return the (start, end) of every word of ``segments``, in order."""
    return [(float(w["start"]), float(w["end"])) for s in segments for w in s["words"]]
