"""The coverage pass on the local engine: speech no word covers is decoded again alone.

:mod:`dropscribe.transcript.coverage` finds the stretches and splices the
words in; this supplies the decode (the loaded model on that stretch of the
audio, no prompt of the words before) and keeps the decoder's scores of what
was added, for the warnings. It runs after every path (sequential, batched,
parts); the voice detector already ran, so where nothing is missing it costs
only arithmetic.
"""

from __future__ import annotations

from typing import Any

from dropscribe.audio import SAMPLE_RATE
from dropscribe.backends.local.decoding import Decoded, Keep, decode_stretch
from dropscribe.backends.local.quality import SegmentScore
from dropscribe.transcript import Segment
from dropscribe.transcript.coverage import Recovery, Span, recover


def recover_speech(
    model: Any,
    audio: Any,
    decoded: Decoded,
    speech: list[Span],
    options: dict[str, Any],
    keep: Keep,
) -> tuple[Decoded, Recovery]:
    """Return ``decoded`` after the coverage pass, and what the pass did."""
    scores: list[SegmentScore] = []

    def decode(start: float, end: float) -> list[Segment]:
        found = decode_stretch(model, audio, start, end, options, keep)
        scores.extend(found.scores)
        return found.segments

    duration = len(audio) / SAMPLE_RATE
    recovery = recover(decoded.segments, speech, duration, decode)
    # The scores of the stretches' segments that gave words count with the rest.
    added = [
        score
        for score in scores
        if any(s <= (score.start + score.end) / 2 <= e for s, e in recovery.stretches)
    ]
    repaired = Decoded(recovery.segments, decoded.scores + added, decoded.language, decoded.raw)
    return repaired, recovery
