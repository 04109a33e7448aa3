"""Where to cut a long recording into parts: at real pauses, never inside speech.

Both the local engine (parts decoded side by side) and the remote backends
(chunks under an upload limit) cut here, and put the transcripts back together
with :mod:`dropscribe.audio.stitch`. Everything is in seconds and pure: the
speech spans come from a voice-activity detector (for example
:func:`dropscribe.audio.speech.detect_speech`, which wraps faster-whisper's
``get_speech_timestamps``), the rest is arithmetic on plain values::

    spans = detect_speech(audio, 16000)             # [(0.3, 4.1), (5.7, 9.9), ...]
    parts = plan_parts(spans, duration, parts=2)    # balanced halves, cut at a pause
    parts = plan_parts(spans, duration, max_seconds=600)  # none longer than 10 min

A cut at a pause (a gap of at least ``min_pause`` between two spans) lies in
the middle of the pause, and the parts on either side meet there exactly. Only
where the audio offers no pause within reach (continuous speech longer than
``max_seconds``) is a part cut elsewhere, at the widest gap the detector left
(else anywhere), and then the two parts overlap by ``overlap`` seconds around
the cut so that a word cut in two is heard whole by one of them; the stitcher
keeps each word once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

Span = tuple[float, float]

#: The shortest silence treated as a pause between phrases (a breath between
#: words is 0.1-0.3 s; a speaker's pause between sentences 0.5 s and more).
MIN_PAUSE_SECONDS = 0.6
#: How much two parts share around a cut that is not at a pause.
OVERLAP_SECONDS = 1.0
#: How far from the ideal place a balanced cut may move to find a pause, as a
#: share of the ideal part length (0.25: parts of 75-125 % of the ideal).
BALANCE_SLACK = 0.25
#: Under a length cap, balanced parts aim at this share of the cap.
CAP_FILL = 0.9


@dataclass(frozen=True)
class Part:
    """One part of the recording to transcribe on its own: the one time span type.

    ``start``/``end`` is the audio to decode. ``keep_start``/``keep_end`` are
    the seams: the stitcher keeps the words of this part whose middle lies in
    ``[keep_start, keep_end)``. At a pause the seams equal the audio's edges;
    at a forced cut the audio reaches ``overlap / 2`` past the seam on each side.
    Everything that holds such a span is one (the compaction's ``PartFile``, the
    uploads' parts, the store's chunks), so any of them can be stitched or labelled.
    """

    start: float
    end: float
    keep_start: float
    keep_end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def at_pauses(self) -> bool:
        """Whether both ends of the part lie at pauses (no overlap with a neighbour)."""
        return self.start == self.keep_start and self.end == self.keep_end

    def label(self) -> str:
        """The part's time range as people read it: "10:00-20:00"."""
        from dropscribe.transcript import clock_time  # not at import: the workers load cuts

        return f"{clock_time(self.start)}-{clock_time(self.end)}"


@dataclass(frozen=True)
class _Cut:
    at: float
    overlap: float  # 0 at a pause


def pauses(speech: Sequence[Span], min_pause: float = MIN_PAUSE_SECONDS) -> list[Span]:
    """Return the silences of at least ``min_pause`` seconds between spans of speech.

    Silence before the first span and after the last is no pause *between*
    speech, so it is not returned (a cut there would make a part of silence).
    """
    ordered = sorted(speech)
    return [
        (earlier[1], later[0])
        for earlier, later in itertools.pairwise(ordered)
        if later[0] - earlier[1] >= min_pause
    ]


def plan_parts(
    speech: Sequence[Span],
    duration: float,
    *,
    parts: int = 1,
    max_seconds: float | None = None,
    min_pause: float = MIN_PAUSE_SECONDS,
    overlap: float = OVERLAP_SECONDS,
    slack: float = BALANCE_SLACK,
) -> list[Part]:
    """Return the parts to cut ``[0, duration)`` into, in order, covering all of it.

    ``parts`` asks for that many parts of about equal duration, each cut at the
    pause nearest its ideal place; where no pause lies within ``slack`` of a
    part's length from it, that cut is left out (fewer, longer parts: a cut
    inside speech costs accuracy, which balance is not worth). ``max_seconds``
    asks for enough balanced parts to stay under it, then splits any part still
    longer, at the latest pause that keeps it under the limit, or failing that
    at a forced cut with ``overlap``. Without speech or pauses (and without a
    cap) the result is the one part ``[0, duration)``.

    Raises ValueError for a non-positive ``parts`` or a ``max_seconds`` shorter
    than twice the overlap.
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    if max_seconds is not None and max_seconds < 2 * overlap:
        raise ValueError("max_seconds must be at least twice the overlap")
    ordered = sorted(speech)
    if max_seconds is not None:
        # Balanced parts a little under the cap first, so that capping rarely adds
        # a short part at the end.
        parts = max(parts, math.ceil(duration / (CAP_FILL * max_seconds)))
    cuts = [_Cut(at, 0.0) for at in _balanced_cuts(ordered, duration, parts, min_pause, slack)]
    if max_seconds is not None:
        cuts = _cap_lengths(ordered, duration, cuts, max_seconds, min_pause, overlap)
    return _parts_from_cuts(cuts, duration)


def _balanced_cuts(
    speech: list[Span], duration: float, parts: int, min_pause: float, slack: float
) -> list[float]:
    candidates = [(start + end) / 2 for start, end in pauses(speech, min_pause)]
    ideal = duration / parts
    chosen: list[float] = []
    for index in range(1, parts):
        target = index * ideal
        later = [at for at in candidates if not chosen or at > chosen[-1]]
        if not later:
            break
        nearest = min(later, key=lambda at: abs(at - target))
        if abs(nearest - target) <= slack * ideal:
            chosen.append(nearest)
    return chosen


def _cap_lengths(
    speech: list[Span],
    duration: float,
    cuts: list[_Cut],
    max_seconds: float,
    min_pause: float,
    overlap: float,
) -> list[_Cut]:
    """Add cuts until no part is longer than ``max_seconds`` (its overlap included),
    except by silence at the recording's ends (a cut there would make a part of silence)."""
    candidates = [(start + end) / 2 for start, end in pauses(speech, min_pause)]
    result: list[_Cut] = []
    start = 0.0
    for boundary in [*cuts, _Cut(duration, 0.0)]:
        while _part_end(boundary, duration) - start > max_seconds:
            # Room for half an overlap past a forced cut; a pause needs none.
            reach = start + max_seconds
            if not any(end > reach - overlap / 2 and begin < boundary.at for begin, end in speech):
                break  # only silence lies past the cap: nothing to cut apart
            fitting = [at for at in candidates if start < at <= reach and at < boundary.at]
            if fitting:
                cut = _Cut(fitting[-1], 0.0)
            else:
                cut = _Cut(_forced_cut(speech, start, reach - overlap / 2), overlap)
            result.append(cut)
            start = cut.at - cut.overlap / 2
        if boundary.at < duration:
            result.append(boundary)
            start = boundary.at - boundary.overlap / 2
    return result


def _part_end(cut: _Cut, duration: float) -> float:
    return min(duration, cut.at + cut.overlap / 2)


def _forced_cut(speech: list[Span], start: float, reach: float) -> float:
    """Return where to cut between ``start`` and ``reach`` without a pause: in the
    widest gap the detector left in the second half of that stretch, else at ``reach``."""
    low = start + (reach - start) / 2
    gaps = [
        (later[0] - earlier[1], (earlier[1] + later[0]) / 2)
        for earlier, later in itertools.pairwise(speech)
        if low <= (earlier[1] + later[0]) / 2 <= reach and later[0] > earlier[1]
    ]
    if gaps:
        return max(gaps)[1]
    return reach


def _parts_from_cuts(cuts: list[_Cut], duration: float) -> list[Part]:
    parts: list[Part] = []
    start, keep_start = 0.0, 0.0
    for cut in cuts:
        end = min(duration, cut.at + cut.overlap / 2)
        parts.append(Part(round(start, 3), round(end, 3), round(keep_start, 3), round(cut.at, 3)))
        start, keep_start = max(0.0, cut.at - cut.overlap / 2), cut.at
    parts.append(
        Part(round(start, 3), round(duration, 3), round(keep_start, 3), round(duration, 3))
    )
    return parts
