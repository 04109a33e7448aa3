"""No speech left behind: the words of a transcript against the speech the detector heard.

Whisper's long-form decoding sometimes emits its end of text early in a
window and moves on: the rest of the window gets no words, and the last word
is stretched over it (measured: "to" from 62.1 s to 79.5 s, 17 words lost,
no warning). So after decoding, on every engine path:

1. :func:`clip_stretched`: a word longer than ``MAX_WORD_SECONDS`` keeps
   ``PLAUSIBLE_WORD_SECONDS`` at the end that holds speech (or touches its
   neighbour); a segment's bounds come back to its words.
2. :func:`missing_speech`: the stretches of detected speech that no word
   covers, at least ``MIN_MISSING_SECONDS`` of speech each (stretches with no
   word between them count as one).
3. :func:`recover`: each stretch is decoded again alone (with margins, by a
   ``decode`` the engine supplies: no prompt of the words before), and
   :func:`splice` puts the new words in at their times, never over a word
   already there. What is still missing is named by :func:`missing_warning`.

A segment without word timings (some servers give none: faster-whisper-server
0.0.3 ignores ``timestamp_granularities[]``) counts as covering its whole time,
and Whisper stretches one over the sentence it skipped. So
:func:`sparse_segments` names those with far too few words for the speech heard
inside them; the remote pass sends that speech again and
:func:`replace_sparse` puts the new words in place of the segment's, when they
are more.

Those segments' times (whole seconds) end a second or more before their speech,
or run seconds early after a skipped sentence, so the speech "after" one is
often its own, and its decode says it again. So the decode of speech between
segments, without word timings, keeps only the words the segments within
``CONTEXT_SECONDS`` around its stretch do not already say
(:mod:`dropscribe.transcript.repeats`), and the neighbour said again reaches over
its speech. A sparse segment's decode keeps what it says again (the sentence
Whisper skipped is often the one before said again), and a decode with word
timings is spliced by its times alone (they are good: a sentence there again was
said again).

Pure: segments are the transcript dicts, speech spans are seconds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dropscribe.transcript import Segment, Word, clock_time, make_segment
from dropscribe.transcript.repeats import repeated_ends
from dropscribe.transcript.segments import split_segment
from dropscribe.transcript.wording import join_words, unspaced

Span = tuple[float, float]
#: Decodes the audio of ``[start, end)`` alone; returns segments on the recording's clock.
Decode = Callable[[float, float], list[Segment]]

#: Less uncovered speech than this is the pause between words, not a lost phrase.
MIN_MISSING_SECONDS = 1.0
#: Longer "words" are stretched over speech or silence (the longest real word
#: measured on the shared recordings, a sentence's last, held: 1.9 s).
MAX_WORD_SECONDS = 2.5
#: What a stretched word is clipped to: about what its letters take to say (the
#: shared recordings: 0.06 s a character and a little), at most a second. Short, so
#: that the words after it, lost under it, are found and not taken for it.
PLAUSIBLE_WORD_SECONDS = 1.0
SECONDS_PER_CHARACTER = 0.06
WORD_BASE_SECONDS = 0.2
#: A segment reaching further than this past its first or last word is cut back to them.
SEGMENT_SLACK_SECONDS = 1.0
#: Audio decoded on each side of a missing stretch, so its edge words are heard whole.
MARGIN_SECONDS = 0.5
#: A word's timing is this loose at each edge.
WORD_TOLERANCE = 0.15
#: Stretches still missing after a decode are decoded once more, shorter (measured:
#: a second round found a digit string the first, 15 s long, skipped again).
ROUNDS = 2
#: A segment without word timings is a hole when the speech heard inside it is at least
#: SPARSE_MIN_SECONDS and it has fewer than SPARSE_WORDS_PER_SECOND words a second of
#: it. Measured (faster-whisper-server 0.0.3, tiny.en, temperature 0; the voice
#: detector's speech within each segment; 464 segments: a 15-minute recording of the
#: shared English clips as Opus and as FLAC chunks of 404/308/202 s and as one FLAC,
#: a 4.6-minute one as 60 s chunks, each clip alone): every normal segment with 2.5 s
#: of heard speech or more has 2.22 words a second or more (median of all 2.74); the
#: seven stretched over a skipped sentence have 0.87-1.60, with 7.4-17.3 s heard.
#: The threshold lies between. Under 2.1 s heard a slow "1, 2, 3." has 1.46, so
#: short segments never count.
SPARSE_WORDS_PER_SECOND = 1.9
SPARSE_MIN_SECONDS = 4.0
#: The segments whose text a decode without word timings is compared with, for the words
#: it says again (:func:`splice`): those ending or starting within this of the stretch.
#: Measured (faster-whisper-server 0.0.3, tiny.en): a stretch's decode said again the
#: sentences of the 17 s before it, their segments' times that early.
CONTEXT_SECONDS = 20.0
#: At most this many stretches are named in the warning.
NAMED_STRETCHES = 3


@dataclass
class Recovery:
    """What the coverage pass did: the segments after it, and the stretches concerned."""

    segments: list[Segment]
    #: The stretches found without words, before any was decoded again.
    stretches: list[Span] = field(default_factory=list)
    #: The stretches still without words afterwards.
    missing: list[Span] = field(default_factory=list)
    #: The heard speech of segments with far too few words (:func:`sparse_segments`).
    sparse: list[Span] = field(default_factory=list)
    #: Those still with far too few words afterwards.
    still_sparse: list[Span] = field(default_factory=list)
    recovered_words: int = 0
    decoded_seconds: float = 0.0

    def log_fields(self) -> dict[str, object]:
        def shown(spans: Sequence[Span]) -> list[str]:
            return [f"{clock_time(start)}-{clock_time(math.ceil(end))}" for start, end in spans]

        return {
            "stretches": shown(self.stretches),
            "sparse_segments": shown(self.sparse),
            "recovered_words": self.recovered_words,
            "decoded_seconds": round(self.decoded_seconds, 1),
            "still_missing": shown(self.missing),
            "still_sparse": shown(self.still_sparse),
        }


def _overlap(a: Span, b: Span) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _speech_in(speech: Sequence[Span], span: Span) -> float:
    return sum(_overlap(span, heard) for heard in speech)


def _clip_word(word: Word, before: Word | None, after: Word | None, speech: Sequence[Span]) -> Word:
    """Return ``word`` clipped to a plausible length when it is stretched: its head or
    its tail, whichever holds more speech (the detector's), else the one that touches
    its neighbour, else the head (Whisper stretches the last word before a jump)."""
    start, end = word["start"], word["end"]
    if end - start <= MAX_WORD_SECONDS:
        return word
    length = plausible_length(word["word"])
    head = (start, start + length)
    tail = (end - length, end)
    in_head, in_tail = _speech_in(speech, head), _speech_in(speech, tail)
    if abs(in_head - in_tail) >= 0.1:
        keep = head if in_head > in_tail else tail
    else:
        gap_before = start - before["end"] if before else float("inf")
        gap_after = after["start"] - end if after else float("inf")
        keep = tail if gap_after < gap_before else head
    return {**word, "start": round(keep[0], 3), "end": round(keep[1], 3)}


def plausible_length(text: str) -> float:
    """How long a word that reads ``text`` plausibly lasts, in seconds."""
    return min(PLAUSIBLE_WORD_SECONDS, WORD_BASE_SECONDS + SECONDS_PER_CHARACTER * len(text))


def clip_stretched(segments: Sequence[Segment], speech: Sequence[Span]) -> list[Segment]:
    """Return ``segments`` with stretched words clipped and each segment's bounds no
    further than ``SEGMENT_SLACK_SECONDS`` from its words."""
    words = [word for segment in segments for word in segment["words"]]
    clipped = [
        _clip_word(
            word,
            words[index - 1] if index else None,
            words[index + 1] if index + 1 < len(words) else None,
            speech,
        )
        for index, word in enumerate(words)
    ]
    result: list[Segment] = []
    position = 0
    for segment in segments:
        own = clipped[position : position + len(segment["words"])]
        position += len(own)
        result.append(_fit_segment({**segment, "words": own}))
    return result


def _fit_segment(segment: Segment) -> Segment:
    words = segment["words"]
    if not words:
        return segment
    start, end = segment["start"], segment["end"]
    if words[0]["start"] - start > SEGMENT_SLACK_SECONDS:
        start = words[0]["start"]
    if end - words[-1]["end"] > SEGMENT_SLACK_SECONDS:
        end = words[-1]["end"]
    return {**segment, "start": start, "end": max(start, end)}


def _covered(segments: Sequence[Segment]) -> list[Span]:
    """What the transcript covers: its words (a little wider), or a segment's time
    where it has no word timings."""
    spans: list[Span] = []
    for segment in segments:
        if segment["words"]:
            spans += [
                (word["start"] - WORD_TOLERANCE, word["end"] + WORD_TOLERANCE)
                for word in segment["words"]
            ]
        else:
            spans.append((segment["start"], segment["end"]))
    return sorted(spans)


def _union(spans: Sequence[Span]) -> list[Span]:
    """Return sorted ``spans`` with the overlapping ones joined: disjoint, in order."""
    joined: list[Span] = []
    for low, high in spans:
        if joined and low <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        else:
            joined.append((low, high))
    return joined


def _holes(speech: Sequence[Span], covered: Sequence[Span]) -> list[Span]:
    """Return the parts of ``speech`` outside ``covered`` (disjoint, in order), in one
    sweep: a long recording has thousands of both."""
    holes: list[Span] = []
    first = 0
    for start, end in sorted(speech):
        while first < len(covered) and covered[first][1] <= start:
            first += 1
        cursor, index = start, first
        while index < len(covered) and covered[index][0] < end:
            low, high = covered[index]
            if low > cursor:
                holes.append((cursor, low))
            cursor = max(cursor, high)
            index += 1
        if cursor < end:
            holes.append((cursor, end))
    return holes


def missing_speech(
    segments: Sequence[Segment],
    speech: Sequence[Span],
    min_seconds: float = MIN_MISSING_SECONDS,
) -> list[Span]:
    """Return the stretches of ``speech`` that no word covers, each holding at least
    ``min_seconds`` of speech; neighbouring holes with no word between them are one."""
    covered = _union(_covered(segments))
    lows = [low for low, _ in covered]
    merged: list[tuple[float, float, float]] = []
    for start, end in _holes(speech, covered):
        previous = merged[-1] if merged else None
        # No word between the two holes (only silence): one stretch, decoded together.
        if previous and bisect.bisect_left(lows, previous[1]) == bisect.bisect_left(lows, start):
            merged[-1] = (previous[0], end, previous[2] + end - start)
        else:
            merged.append((start, end, end - start))
    return [(round(s, 3), round(e, 3)) for s, e, heard in merged if heard >= min_seconds]


def said(segments: Sequence[Segment]) -> int:
    """How many words ``segments`` say: their timed words, or their text's."""
    return sum(len(segment["words"]) or len(segment["text"].split()) for segment in segments)


def _heard_within(speech: Sequence[Span], ends: Sequence[float], span: Span) -> list[Span]:
    """The parts of sorted, disjoint ``speech`` (``ends``: their ends) inside ``span``."""
    inside: list[Span] = []
    index = bisect.bisect_right(ends, span[0])
    while index < len(speech) and speech[index][0] < span[1]:
        inside.append((max(speech[index][0], span[0]), min(speech[index][1], span[1])))
        index += 1
    return inside


def sparse_segments(
    segments: Sequence[Segment],
    speech: Sequence[Span],
    per_second: float = SPARSE_WORDS_PER_SECOND,
    min_seconds: float = SPARSE_MIN_SECONDS,
) -> list[Span]:
    """Return, for each segment without word timings that has fewer than ``per_second``
    words a second of the speech heard inside it (``min_seconds`` of it or more), that
    speech: from the first heard in the segment to the last. Text in a script without
    spaces is not judged: its words cannot be counted by its spaces (a Chinese
    sentence is one), and the rate was measured on English."""
    heard = _union(sorted(speech))
    ends = [end for _, end in heard]
    found: list[Span] = []
    for segment in segments:
        if segment["words"] or unspaced(segment["text"]):
            continue
        inside = _heard_within(heard, ends, (segment["start"], segment["end"]))
        seconds = sum(end - start for start, end in inside)
        if seconds >= min_seconds and said([segment]) < per_second * seconds:
            found.append((round(inside[0][0], 3), round(inside[-1][1], 3)))
    return found


def replace_sparse(
    segments: Sequence[Segment], stretch: Span, found: Sequence[Segment]
) -> tuple[list[Segment], int]:
    """Return ``segments`` with the segment without word timings that holds ``stretch``
    (one of :func:`sparse_segments`) replaced by the words of ``found`` (a decode of
    ``stretch``) that lie in it, when those are more than the segment's; and how many
    words more (0: ``segments`` as they were)."""
    owners = [
        index
        for index, segment in enumerate(segments)
        if not segment["words"]
        and segment["start"] - WORD_TOLERANCE <= stretch[0]
        and stretch[1] <= segment["end"] + WORD_TOLERANCE
    ]
    if not owners:
        return list(segments), 0
    owner = segments[owners[0]]
    without = [segment for index, segment in enumerate(segments) if index != owners[0]]
    # A sentence Whisper skipped is often the one before said again (measured: the
    # second of two alike, the segment stretched over it), so nothing is left out.
    spliced, _ = splice(without, stretch, found, beside=False)
    gained = said(spliced) - said(without) - said([owner])
    if gained <= 0:  # the decode skipped as much again: the segment's words stay
        return list(segments), 0
    # The decode's margins reach into the neighbours' time: the segments taken whole
    # keep within the one they replace, not over the sentences either side.
    whole = {id(segment) for segment in found if not segment["words"]}
    bounds = (owner["start"], owner["end"])
    inside = [_inside(s, bounds) if id(s) in whole else s for s in spliced]
    return sorted(inside, key=_start_of), gained


def _inside(segment: Segment, bounds: Span) -> Segment:
    start, end = max(segment["start"], bounds[0]), min(segment["end"], bounds[1])
    return {**segment, "start": start, "end": max(start, end)}


def put_back(recovery: Recovery, decoded: Sequence[tuple[Span, list[Segment] | None]]) -> None:
    """Put the words of the stretches ``decoded`` again (each a piece of one of
    ``recovery.stretches`` and its segments, None where it was not decoded) into
    ``recovery.segments``: in place of a sparse segment's words (all the pieces of its
    stretch together) when they are more, then beside the words there elsewhere."""
    replacing: dict[Span, list[Segment]] = {span: [] for span in recovery.sparse}
    beside: list[tuple[Span, list[Segment]]] = []
    for piece, found in decoded:
        # The latest that started: segments kept whole at a seam overlap, and a piece
        # of the later one's speech starts inside the earlier one's too.
        owner = max((s for s in recovery.sparse if s[0] - 1e-3 <= piece[0] < s[1]), default=None)
        if owner is None:
            beside += [(piece, found)] if found is not None else []
        elif found is None:
            # Not all of it heard again: half its words would take the place of all.
            replacing.pop(owner, None)
        elif owner in replacing:
            replacing[owner] += found
    # The sparse segments first, while the segments are those sparse_segments read.
    for span, found in replacing.items():
        recovery.segments, gained = replace_sparse(recovery.segments, span, found)
        recovery.recovered_words += gained
    for piece, found in beside:
        recovery.segments, added = splice(recovery.segments, piece, found)
        recovery.recovered_words += added


def _fitting_words(found: Segment, stretch: Span, old: Sequence[Span]) -> list[Word]:
    """The words of ``found`` whose middle lies in ``stretch``, trimmed off the words
    already there; a word lying mostly over one of them is that word heard again."""
    kept: list[Word] = []
    for word in found["words"]:
        middle = (word["start"] + word["end"]) / 2
        span = (word["start"], word["end"])
        length = max(span[1] - span[0], 0.01)
        if not stretch[0] - WORD_TOLERANCE <= middle <= stretch[1] + WORD_TOLERANCE:
            continue
        if any(_overlap(span, there) > 0.5 * length for there in old):
            continue
        start, end = span
        for low, high in old:
            if _overlap((start, end), (low, high)) > 0:
                if (low + high) / 2 < middle:
                    start = min(high, end)
                else:
                    end = max(low, start)
        kept.append({**word, "start": round(start, 3), "end": round(end, 3)})
    return kept


def _fits_whole(segment: Segment, stretch: Span, segments: Sequence[Segment]) -> bool:
    """Whether a segment without words lies in ``stretch`` and mostly over nothing there."""
    span = (segment["start"], segment["end"])
    if not stretch[0] <= (span[0] + span[1]) / 2 <= stretch[1]:
        return False
    length = max(span[1] - span[0], 0.01)
    return sum(_overlap(span, there) for there in _covered(segments)) <= 0.5 * length


def _around(segments: Sequence[Segment], stretch: Span) -> tuple[list[str], list[str]]:
    """The texts of the segments within ``CONTEXT_SECONDS`` before ``stretch`` (by their
    middles), and of those within it after, in order."""
    middle = (stretch[0] + stretch[1]) / 2
    before: list[str] = []
    after: list[str] = []
    for segment in segments:
        if segment["end"] > stretch[0] - CONTEXT_SECONDS and _middle(segment) < middle:
            before.append(segment["text"])
        elif segment["start"] < stretch[1] + CONTEXT_SECONDS and _middle(segment) >= middle:
            after.append(segment["text"])
    return before, after


def _middle(segment: Segment) -> float:
    return (segment["start"] + segment["end"]) / 2


def _not_said_around(
    found: Sequence[Segment], stretch: Span, segments: Sequence[Segment]
) -> tuple[list[Segment], list[Segment]]:
    """``found`` (segments without word timings, in order) less the words at its start
    that the segments before ``stretch`` say again, and at its end those after it
    (:func:`~dropscribe.transcript.repeats.repeated_ends`); a segment left with no word
    is dropped, one cut keeps its times (they were never good to a word). Returned
    with ``segments``, the neighbour said again reaching over its speech in the
    stretch: that speech was its own, which its times ended before."""
    texts = [segment["text"].split() for segment in found]
    count = sum(len(text) for text in texts)
    head, tail = repeated_ends([w for text in texts for w in text], *_around(segments, stretch))
    kept: list[Segment] = []
    position = 0
    for segment, text in zip(found, texts, strict=True):
        first, last = max(head - position, 0), min(count - tail - position, len(text))
        position += len(text)
        if first < last:
            whole = first == 0 and last == len(text)
            kept.append(segment if whole else {**segment, "text": " " + " ".join(text[first:last])})
    middle = (stretch[0] + stretch[1]) / 2
    reached = list(segments)
    if head:
        until = kept[0]["start"] if kept else (middle if tail else stretch[1])
        reached = _reach(reached, middle, until, before=True)
    if tail:
        since = kept[-1]["end"] if kept else (middle if head else stretch[0])
        reached = _reach(reached, middle, since, before=False)
    return reached, kept


def _reach(segments: list[Segment], middle: float, to: float, before: bool) -> list[Segment]:
    """``segments`` with the last segment without word timings before ``middle`` ending
    no earlier than ``to`` (``before``), or the first after it starting no later."""
    sides = [i for i, s in enumerate(segments) if (_middle(s) < middle) == before]
    if not sides or segments[sides[-1 if before else 0]]["words"]:
        return segments  # timed words cover their own speech
    index = sides[-1 if before else 0]
    segment = segments[index]
    if before:
        segment = {**segment, "end": max(segment["end"], round(to, 3))}
    else:
        segment = {**segment, "start": min(segment["start"], round(to, 3))}
    return [*segments[:index], segment, *segments[index + 1 :]]


def _split_around(segments: Sequence[Segment], stretch: Span) -> list[Segment]:
    """Cut a segment whose words lie on both sides of ``stretch`` there."""
    result: list[Segment] = []
    for segment in segments:
        words = segment["words"]
        cuts = [
            index
            for index in range(1, len(words))
            if words[index - 1]["end"] <= stretch[0] + WORD_TOLERANCE
            and words[index]["start"] >= stretch[1] - WORD_TOLERANCE
        ]
        result += split_segment(segment, cuts[:1]) if cuts else [segment]
    return result


def _start_of(segment: Segment) -> float:
    return segment["words"][0]["start"] if segment["words"] else segment["start"]


def splice(
    segments: Sequence[Segment],
    stretch: Span,
    found: Sequence[Segment],
    beside: bool = True,
) -> tuple[list[Segment], int]:
    """Return ``segments`` with the words of ``found`` (a decode of ``stretch``) that
    lie in it and over no word already there, as segments of their own, in time order;
    and how many words were added. ``beside``: the stretch is speech between segments
    (not a segment's, :func:`replace_sparse`), so what its decode without word timings
    says again of theirs is theirs (:func:`_not_said_around`)."""
    # Only the words near the stretch can meet the new ones (a long file has thousands).
    reach = (stretch[0] - 2 * MARGIN_SECONDS, stretch[1] + 2 * MARGIN_SECONDS)
    old = [
        (word["start"], word["end"])
        for segment in segments
        for word in segment["words"]
        if word["end"] > reach[0] and word["start"] < reach[1]
    ]
    # No word timings (word_timestamps off, or a server without them): whole or not at
    # all, and beside segments only the words they do not already say.
    added = [s for s in found if not s["words"] and _fits_whole(s, stretch, segments)]
    if added and beside:
        segments, added = _not_said_around(added, stretch, segments)
    for segment in found:
        if not segment["words"]:
            continue
        words = _fitting_words(segment, stretch, old)
        if not words:
            continue
        whole = len(words) == len(segment["words"])
        text = segment["text"] if whole else " " + join_words([w["word"] for w in words])
        added.append(make_segment(text, words[0]["start"], words[-1]["end"], words))
    if not added:
        return list(segments), 0
    joined = _split_around(segments, stretch) + added
    joined.sort(key=_start_of)
    return joined, said(added)


def recover(
    segments: Sequence[Segment],
    speech: Sequence[Span],
    duration: float,
    decode: Decode,
    rounds: int = ROUNDS,
) -> Recovery:
    """Run the coverage pass: clip, find what is missing, decode it again, splice."""
    recovery = Recovery(clip_stretched(segments, speech))
    stretches = missing_speech(recovery.segments, speech)
    recovery.stretches = stretches
    for _ in range(rounds):
        if not stretches:
            break
        for stretch in stretches:
            start = max(0.0, stretch[0] - MARGIN_SECONDS)
            end = min(duration, stretch[1] + MARGIN_SECONDS)
            recovery.decoded_seconds += end - start
            found = clip_stretched(decode(start, end), speech)
            recovery.segments, added = splice(recovery.segments, stretch, found)
            recovery.recovered_words += added
        again = missing_speech(recovery.segments, speech)
        if again == stretches:
            break
        stretches = again
    recovery.missing = stretches
    return recovery


def _named_stretches(spans: Sequence[Span]) -> str:
    named = ", ".join(
        f"{clock_time(start)}-{clock_time(max(math.ceil(end), int(start) + 1))}"
        for start, end in spans[:NAMED_STRETCHES]
    )
    more = len(spans) - NAMED_STRETCHES
    if more > 0:
        total = sum(end - start for start, end in spans)
        named += f" and {more} more stretch{'es' if more > 1 else ''} ({total:.0f} s in all)"
    return named


def missing_warning(missing: Sequence[Span]) -> str | None:
    """The sentence for ``warnings`` naming where speech still has no words, or None."""
    if not missing:
        return None
    return (
        f"Speech at {_named_stretches(missing)} has no transcript: the voice detector heard "
        "speech there but the engine gave no words (another language, music or noise?); "
        "check that part against the audio."
    )


def sparse_warning(sparse: Sequence[Span]) -> str | None:
    """The sentence for ``warnings`` naming speech whose words are still far too few for
    it after it was sent again (:func:`sparse_segments`), or None."""
    if not sparse:
        return None
    return (
        f"Speech at {_named_stretches(sparse)} may be missing words: the engine gave far "
        "fewer words than that much speech holds, even when it was sent again (a skipped "
        "sentence?); check that part against the audio."
    )
