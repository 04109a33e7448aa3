"""How long each chunk of a recording for a serverless engine is, and where it is cut.

A serverless engine runs ``concurrency`` chunks side by side. The plan gives
it whole rounds of that many chunks (at least two rounds: the first chunks
then leave sooner, while the rest is still being prepared) and makes the
lengths shrink from the first chunk to the last (the last is half the
first): the last chunks start last, so the work ends together instead of a
lone long chunk waiting a round. Every chunk stays under the cap (the upload
limit, ``max_chunk_seconds``), no chunk is planned shorter than a minute, and
each cut lies at the pause nearest its target within :data:`SEARCH_SECONDS`,
else at a forced cut with an overlap (see :mod:`dropscribe.audio.cuts`)::

    planner = ChunkPlanner(duration=2570, concurrency=4, cap=600)
    planner.lengths        # [428, 397, 367, 336, 306, 275, 245, 214]
    cut = planner.cut(speech, start=0.0, target=planner.aim(0.0).target)

Everything here is pure arithmetic on seconds; the speech spans come from the
voice detector, either over the whole recording or only around each target
(the streamed preparation looks only there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dropscribe.audio.cuts import (
    CAP_FILL,
    MIN_PAUSE_SECONDS,
    OVERLAP_SECONDS,
    Part,
    Span,
    _forced_cut,
    pauses,
)

#: The last chunk's length as a share of the first's.
LAST_SHARE = 0.5
#: At least this many rounds of ``concurrency`` chunks.
MIN_ROUNDS = 2
#: No chunk is planned shorter (a request costs more than so little audio saves).
MIN_CHUNK_SECONDS = 60.0
#: How far from its target a cut may move to find a pause, either side (speech
#: rarely goes 15 s without a pause of 0.6 s; the detector runs only on this window).
SEARCH_SECONDS = 15.0


@dataclass(frozen=True)
class Aim:
    """Where a cut is aimed, and how far the audio must go for it to be made."""

    target: float
    decide_at: float


@dataclass(frozen=True)
class Cut:
    at: float
    overlap: float  # 0 at a pause


def chunk_lengths(duration: float, concurrency: int, cap: float) -> list[float]:
    """Return the planned length of each chunk, first to last (they add up to ``duration``).

    One chunk when the recording fits under ``cap``; else whole rounds of
    ``concurrency`` chunks, shrinking linearly to :data:`LAST_SHARE` of the first,
    the first under ``CAP_FILL * cap``.
    """
    room = CAP_FILL * cap
    if duration <= cap:
        return [duration]
    rounds = max(MIN_ROUNDS, math.ceil(duration / (max(1, concurrency) * room)))
    wanted = min(rounds * max(1, concurrency), int(duration // MIN_CHUNK_SECONDS))
    count = max(2, math.ceil(duration / room), wanted)
    while True:
        weights = [1 - (1 - LAST_SHARE) * i / (count - 1) for i in range(count)]
        lengths = [duration * w / sum(weights) for w in weights]
        if lengths[0] <= room:
            return lengths
        count += concurrency if count % max(1, concurrency) == 0 else 1  # whole rounds


class ChunkPlanner:
    """The targets of a recording's cuts, and the cut chosen near each one.

    ``duration`` may be what the header claims: when the audio goes on past it,
    further chunks of ``CAP_FILL * cap`` follow; when it ends sooner, the last
    chunk is simply shorter.
    """

    def __init__(
        self, duration: float, concurrency: int, cap: float, search: float = SEARCH_SECONDS
    ) -> None:
        if cap < 2 * OVERLAP_SECONDS:
            raise ValueError("cap must be at least twice the overlap")
        self.cap = cap
        self.lengths = chunk_lengths(duration, concurrency, cap)
        self.search = min(search, (1 - CAP_FILL) * cap, min(self.lengths) / 4)
        ends = [sum(self.lengths[: i + 1]) for i in range(len(self.lengths) - 1)]
        self.targets = ends

    def aim(self, start: float) -> Aim:
        """Return where to aim the cut of the chunk beginning at ``start`` (seconds).

        The first planned target far enough past ``start``, decided once the audio
        reaches the end of its window (a recording ending sooner is not cut there).
        Past the plan, one chunk of about ``CAP_FILL * cap`` on, cut only when the
        audio goes on past the cap. Never so far that the chunk passes the cap.
        """
        limit = start + self.cap - self.search - OVERLAP_SECONDS
        later = [at for at in self.targets if at - self.search > start + OVERLAP_SECONDS]
        if later:
            target = min(later[0], limit)
            return Aim(target, target + self.search)
        return Aim(min(start + CAP_FILL * self.cap, limit), start + self.cap)

    def window(self, target: float) -> tuple[float, float]:
        """Return the stretch whose speech :meth:`cut` needs to place a cut at ``target``."""
        return target - self.search, target + self.search

    def cut(
        self,
        speech: Sequence[Span],
        start: float,
        target: float,
        min_pause: float = MIN_PAUSE_SECONDS,
    ) -> Cut:
        """Return the cut for the chunk from ``start`` aimed at ``target``: at the pause
        nearest it within the window, at ``target`` itself if the window holds no
        speech, else forced (with an overlap) at the widest gap the detector left."""
        low, high = self.window(target)
        high = min(high, start + self.cap)
        ordered = sorted(speech)
        middles = [(a + b) / 2 for a, b in pauses(ordered, min_pause)]
        fitting = [at for at in middles if low <= at <= high]
        if fitting:
            nearest: float = min(fitting, key=lambda at: abs(at - target))
            return Cut(round(nearest, 3), 0.0)
        if not any(end > low and begin < high for begin, end in ordered):
            return Cut(round(target, 3), 0.0)
        reach = high - OVERLAP_SECONDS / 2
        return Cut(round(_forced_cut(ordered, low, reach), 3), OVERLAP_SECONDS)


def part_before(cut: Cut, start: float, keep_start: float, duration: float) -> Part:
    """Return the part from ``start`` that ends at ``cut`` (past it by half an overlap)."""
    end = min(duration, cut.at + cut.overlap / 2)
    return Part(round(start, 3), round(end, 3), round(keep_start, 3), cut.at)


def next_start(cut: Cut) -> float:
    """Where the audio of the part after ``cut`` begins (before it by half an overlap)."""
    return round(max(0.0, cut.at - cut.overlap / 2), 3)


def plan_chunks(
    speech: Sequence[Span], duration: float, concurrency: int, cap: float
) -> list[Part]:
    """Return the chunks of ``[0, duration)`` for ``concurrency`` side by side, in order,
    cut at pauses of ``speech`` (the spans of the whole recording)."""
    planner = ChunkPlanner(duration, concurrency, cap)
    parts: list[Part] = []
    start = keep_start = 0.0
    while (aim := planner.aim(start)).decide_at < duration:
        cut = planner.cut(speech, start, aim.target)
        parts.append(part_before(cut, start, keep_start, duration))
        start, keep_start = next_start(cut), cut.at
    parts.append(
        Part(round(start, 3), round(duration, 3), round(keep_start, 3), round(duration, 3))
    )
    return parts
