"""Join the transcripts of a recording's parts into one (see :mod:`dropscribe.audio.cuts`).

Each part's transcript has times relative to the part's own audio, as an
engine returns them. :func:`stitch` moves them to the recording's clock, keeps
each word on one side of each seam (the part whose ``[keep_start, keep_end)``
holds the word's middle), removes a word or phrase both sides heard at a forced
cut, and settles on one language::

    results = [PartTranscript(part, transcript.segments, transcript.language)
               for part, transcript in zip(parts, transcripts)]
    joined = stitch(results)        # joined.segments, joined.language

Segments are the transcript dicts of :mod:`dropscribe.transcript`; a
segment without word timings is kept or dropped whole by its middle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dropscribe.audio.cuts import Part
from dropscribe.transcript import Segment, Word

#: The longest phrase looked for on both sides of a forced cut.
MAX_DOUBLED_WORDS = 4
#: Words on both sides of a seam are the same word heard twice only if their
#: times lie this close (seconds); the same word said twice in a row is further apart.
DOUBLE_TOLERANCE = 0.5


@dataclass(frozen=True)
class PartTranscript:
    """What an engine returned for one part, times relative to ``part.start``."""

    part: Part
    segments: list[Segment]
    language: str | None = None


@dataclass
class Stitched:
    """The recording's transcript: segments on its clock, in order, and one language."""

    segments: list[Segment] = field(default_factory=list)
    language: str | None = None


def stitch(results: Sequence[PartTranscript]) -> Stitched:
    """Return the parts' transcripts joined into one, in the order of the parts.

    The language is the one most of the transcribed speech was in (by the
    duration of the parts' segments), so a part that is mostly silence or
    music cannot decide it; ties go to the earliest part.
    """
    joined: list[Segment] = []
    for result in sorted(results, key=lambda r: r.part.start):
        kept = [_shifted_and_kept(segment, result.part) for segment in result.segments]
        incoming = [segment for segment in kept if segment is not None]
        if result.part.start < result.part.keep_start and joined:
            incoming = _drop_doubled(joined, incoming)
        joined.extend(incoming)
    return Stitched(joined, _language(results))


def _shifted_and_kept(segment: Segment, part: Part) -> Segment | None:
    offset = part.start
    words: list[Word] = [
        {**word, "start": _at(word["start"], offset), "end": _at(word["end"], offset)}
        for word in segment.get("words") or []
    ]
    start, end = _at(segment["start"], offset), _at(segment["end"], offset)
    if not words:
        return _segment_like(segment, start, end, []) if _kept(start, end, part) else None
    kept = [word for word in words if _kept(word["start"], word["end"], part)]
    if not kept:
        return None
    if len(kept) == len(words):
        return _segment_like(segment, start, end, kept)
    return _with_words(segment, kept)


def _kept(start: float, end: float, part: Part) -> bool:
    middle = (start + end) / 2
    # Where the part's audio ends at its seam (a pause, or the recording's end), a
    # timestamp a little past it still belongs here: no other part decoded that audio.
    after_start = middle >= part.keep_start or part.keep_start == part.start
    before_end = middle < part.keep_end or part.keep_end == part.end
    return after_start and before_end


def _at(seconds: float, offset: float) -> float:
    return round(float(seconds) + offset, 3)


def _segment_like(segment: Segment, start: float, end: float, words: list[Word]) -> Segment:
    return {**segment, "start": start, "end": end, "words": words}


def _with_words(segment: Segment, words: list[Word]) -> Segment:
    """The segment cut down to ``words``: its text and times follow them."""
    text = " " + " ".join(word["word"] for word in words)
    return {
        **segment,
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "text": text,
        "words": words,
    }


def _drop_doubled(before: list[Segment], after: list[Segment]) -> list[Segment]:
    """Remove from the start of ``after`` the words that end ``before`` already has."""
    tail = [word for segment in before[-2:] for word in segment["words"]][-MAX_DOUBLED_WORDS:]
    head = [word for segment in after[:2] for word in segment["words"]][:MAX_DOUBLED_WORDS]
    doubled = 0
    for length in range(min(len(tail), len(head)), 0, -1):
        if all(_same_word(a, b) for a, b in zip(tail[-length:], head[:length], strict=True)):
            doubled = length
            break
    if not doubled:
        return after
    return _without_first_words(after, doubled)


def _same_word(earlier: Word, later: Word) -> bool:
    return _normal(earlier["word"]) == _normal(later["word"]) and (
        abs(float(earlier["start"]) - float(later["start"])) <= DOUBLE_TOLERANCE
    )


def _normal(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def _without_first_words(segments: list[Segment], count: int) -> list[Segment]:
    result: list[Segment] = []
    for segment in segments:
        words = segment["words"]
        if count >= len(words) and count:
            count -= len(words)
            continue
        if count:
            segment = _with_words(segment, words[count:])
            count = 0
        result.append(segment)
    return result


def _language(results: Sequence[PartTranscript]) -> str | None:
    weights: dict[str, float] = {}
    first: list[str] = []
    for result in sorted(results, key=lambda r: r.part.start):
        if result.language is None:
            continue
        first.append(result.language)
        speech = sum(float(s["end"]) - float(s["start"]) for s in result.segments)
        weights[result.language] = weights.get(result.language, 0.0) + speech
    if not weights:
        return None
    best = max(weights.values())
    return next(language for language in first if weights[language] == best)
