"""Segments that look alike on every engine path, and speaker labels on them.

Sequential Whisper decoding gives about a sentence a segment (3 s and 57
characters at the median, 9 s and 101 characters at most, on the shared
recordings); batched decoding gives one segment per ~29 s window, 400
characters and more. :func:`tidy_segments` cuts every segment, using its
words, where a sentence ends, where a pause of ``LONG_PAUSE_SECONDS`` falls
and where the speaker changes, then cuts what is still longer than
``MAX_SEGMENT_SECONDS`` or ``MAX_SEGMENT_CHARS`` at its best clause break or
pause. It is applied once, in ``build_document``, to every engine's result,
so a consumer cannot tell the paths apart by segment length. Segments
without words are kept as they are: there is nothing to cut them by.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence

from dropscribe.transcript import Segment, SpeakerTime, Transcription, Word, make_segment
from dropscribe.transcript.wording import (
    display_words,
    ends_clause,
    ends_sentence,
    join_words,
    word_spans,
)

#: A silence this long always ends a segment (and puts a blank line in ``.txt``).
LONG_PAUSE_SECONDS = 2.0
#: Longer segments are cut again at clause punctuation or pauses: a little over the
#: longest sequential segment measured (9.0 s, 101 characters).
MAX_SEGMENT_SECONDS = 10.0
MAX_SEGMENT_CHARS = 110


def tidy_segments(segments: Sequence[Segment]) -> list[Segment]:
    """Return ``segments`` cut at sentence ends, long pauses and speaker changes, and
    what is still too long cut at its best clause break; the words are unchanged."""
    tidied: list[Segment] = []
    for segment in segments:
        words = segment["words"]
        shown = [text for text, _ in display_words(segment["text"], [w["word"] for w in words])]
        cuts = sorted(
            {
                *speaker_changes(words),
                *(i for i in range(1, len(words)) if _must_cut(words, shown, i)),
            }
        )
        for piece in _pieces(len(words), list(cuts)):
            cuts += _cuts_for_length(words, shown, piece)
        tidied += split_segment(segment, sorted(cuts))
    return tidied


def _must_cut(words: Sequence[Word], shown: Sequence[str], index: int) -> bool:
    return words[index]["start"] - words[index - 1]["end"] >= LONG_PAUSE_SECONDS or ends_sentence(
        shown[index - 1], shown[index]
    )


def speaker_changes(words: Sequence[Word]) -> list[int]:
    """Return the indices of the words where another speaker starts; unlabelled words
    belong with the speaker before them."""
    changes = []
    current: str | None = None
    for index, word in enumerate(words):
        label = word["speaker"]
        if label is not None and label != current:
            if current is not None:
                changes.append(index)
            current = label
    return changes


def _pieces(count: int, cuts: Sequence[int]) -> list[range]:
    bounds = [0, *cuts, count]
    return [range(start, end) for start, end in itertools.pairwise(bounds)]


def _cuts_for_length(words: Sequence[Word], shown: Sequence[str], piece: range) -> list[int]:
    """Return where to cut the words of ``piece`` (bisecting at the best break) until
    every part is short enough."""
    if len(piece) < 2:
        return []
    first, last = words[piece[0]], words[piece[-1]]
    chars = len(join_words([shown[index] for index in piece]))
    if last["end"] - first["start"] <= MAX_SEGMENT_SECONDS and chars <= MAX_SEGMENT_CHARS:
        return []
    best = max(piece[1:], key=lambda index: _break_score(words, shown, piece, index))
    return [
        *_cuts_for_length(words, shown, range(piece[0], best)),
        best,
        *_cuts_for_length(words, shown, range(best, piece[-1] + 1)),
    ]


def _break_score(words: Sequence[Word], shown: Sequence[str], piece: range, index: int) -> float:
    """How good a cut before word ``index`` is: clause punctuation and pauses first,
    then nearness to the middle of the piece."""
    pause = max(0.0, words[index]["start"] - words[index - 1]["end"])
    score = (3.0 if ends_clause(shown[index - 1]) else 0.0) + 4.0 * min(pause, 1.0)
    left = sum(len(shown[i]) + 1 for i in range(piece[0], index))
    right = sum(len(shown[i]) + 1 for i in range(index, piece[-1] + 1))
    return score - 2.0 * abs(left - right) / (left + right)


def split_segment(segment: Segment, cuts: Sequence[int]) -> list[Segment]:
    """Return ``segment`` cut before each word index in ``cuts`` (ascending).

    Each part's text is its share of the segment's text, so the parts read, joined,
    as the segment did; where the words do not align with the text, a part's text
    is its words joined.
    """
    if not cuts:
        return [segment]
    words = segment["words"]
    text = segment["text"]
    spans = word_spans(text, [word["word"] for word in words])
    parts = _pieces(len(words), cuts)
    starts = [_text_start(text, spans, part[0]) if spans else 0 for part in parts]
    pieces = []
    for number, part in enumerate(parts):
        part_words = [words[index] for index in part]
        if spans is not None:
            end = starts[number + 1] if number + 1 < len(parts) else len(text)
            part_text = text[starts[number] : end]
        else:
            part_text = " " + join_words([word["word"] for word in part_words])
        start = segment["start"] if number == 0 else part_words[0]["start"]
        finish = segment["end"] if number == len(parts) - 1 else part_words[-1]["end"]
        pieces.append(
            make_segment(
                part_text,
                min(start, finish),
                finish,
                part_words,
                majority_speaker(part_words) or segment["speaker"],
            )
        )
    return pieces


def _text_start(text: str, spans: Sequence[tuple[int, int]], index: int) -> int:
    """Where the part starting with word ``index`` begins in ``text``: before the
    spaces and opening punctuation in front of the word."""
    if index == 0:
        return 0
    position = spans[index][0]
    previous_end = spans[index - 1][1]
    while position > previous_end and not text[position - 1].isspace():
        position -= 1
    if position == previous_end:  # the opening punctuation touches the previous word
        return spans[index][0]
    while position > previous_end and text[position - 1].isspace():
        position -= 1
    return position


def majority_speaker(words: Sequence[Word]) -> str | None:
    """Return the label most of ``words`` carry (the earliest on a tie), or None."""
    counts = Counter(word["speaker"] for word in words if word["speaker"] is not None)
    return counts.most_common(1)[0][0] if counts else None


def label_speakers(
    transcription: Transcription, word_labels: Sequence[str | None]
) -> Transcription:
    """Return ``transcription`` with ``word_labels`` (one per word, in order: the
    labels ``SPEAKER_1``, ``SPEAKER_2``… or None) on its words, each segment cut
    where the speaker changes and labelled with the majority of its words, and the
    ``speakers`` summary filled.

    Raises:
        ValueError: when there is not one label per word.
    """
    count = sum(len(segment["words"]) for segment in transcription.segments)
    if len(word_labels) != count:
        raise ValueError(f"{len(word_labels)} speaker labels for {count} words.")
    labels = iter(word_labels)
    segments: list[Segment] = []
    for segment in transcription.segments:
        words: list[Word] = [{**word, "speaker": next(labels)} for word in segment["words"]]
        labelled: Segment = {**segment, "words": words, "speaker": majority_speaker(words)}
        segments += split_segment(labelled, speaker_changes(words))
    return dataclasses.replace(
        transcription,
        segments=segments,
        speakers=speaker_times([word for segment in segments for word in segment["words"]]),
    )


def speaker_times(words: Sequence[Word]) -> list[SpeakerTime]:
    """Return each speaker's total time, in order of first appearance: the sum of
    their turns, a turn running from its first word's start to its last word's end
    (a pause of ``LONG_PAUSE_SECONDS`` or more ends a turn)."""
    totals: dict[str, float] = {}
    turn: list[Word] = []
    for word in [*words, None]:
        if turn and (
            word is None
            or word["speaker"] != turn[-1]["speaker"]
            or word["start"] - turn[-1]["end"] >= LONG_PAUSE_SECONDS
        ):
            label = turn[0]["speaker"]
            if label is not None:
                totals[label] = totals.get(label, 0.0) + max(
                    0.0, turn[-1]["end"] - turn[0]["start"]
                )
            turn = []
        if word is not None:
            turn.append(word)
    return [{"label": label, "seconds": round(seconds, 3)} for label, seconds in totals.items()]
