"""The coverage pass on plain values: stretched words, missing speech, the splice, the warning.

The shape of the transcripts is the one measured (issue 25): Whisper's
sequential decoding stopped after "...for people to" in a 20 s clip, the word
"to" stretched over the rest of the window, and no word for 17 s of speech.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from dropscribe.backends.local.quality import SegmentScore, transcript_warnings
from dropscribe.outbox.cues import CueRules, build_cues, tokens_from_segments
from dropscribe.outbox.document import build_document
from dropscribe.transcript import Segment, Transcription, Word, make_segment, make_word
from dropscribe.transcript.coverage import (
    clip_stretched,
    missing_speech,
    missing_warning,
    recover,
    splice,
)
from dropscribe.transcript.segments import tidy_segments


def said(text: str, start: float, step: float = 0.4) -> Segment:
    """A segment of ``text``, one word every ``step`` seconds from ``start``."""
    words = [
        make_word(word, start + index * step, start + index * step + step * 0.8, 0.9)
        for index, word in enumerate(text.split())
    ]
    return make_segment(" " + text, words[0]["start"], words[-1]["end"], words)


HEAD = "how easy we want to make it for people to"
LATER = "because the easier it is the more people will come back and use it every day"


def stretched() -> list[Segment]:
    """Speech from 0 to 20 s; words up to "to" at 2.0 s, which is stretched to 19.5 s."""
    head = said(HEAD, 0.0, step=0.2)
    last = head["words"][-1]
    head["words"][-1] = {**last, "end": 19.5}
    head["end"] = 19.5
    return [head]


SPEECH = [(0.0, 20.0)]


def all_words(segments: Sequence[Segment]) -> list[Word]:
    return [word for segment in segments for word in segment["words"]]


def test_a_stretched_word_is_clipped_and_its_segment_follows() -> None:
    clipped = clip_stretched(stretched(), SPEECH)
    last = clipped[0]["words"][-1]
    assert last["word"] == "to" and last["start"] == 1.8
    assert last["end"] - last["start"] <= 0.5
    assert clipped[0]["end"] == last["end"]


def test_the_speech_after_the_stretched_word_is_found_missing() -> None:
    missing = missing_speech(clip_stretched(stretched(), SPEECH), SPEECH)
    assert len(missing) == 1
    start, end = missing[0]
    assert 2.0 < start < 2.5 and end == 20.0


def test_nothing_missing_decodes_nothing() -> None:
    calls: list[tuple[float, float]] = []

    def decode(start: float, end: float) -> list[Segment]:
        calls.append((start, end))
        return []

    segments = [said("one two three four", 0.0), said("five six seven", 2.0)]
    recovery = recover(segments, [(0.0, 3.0)], 3.0, decode)
    assert calls == [] and recovery.missing == [] and recovery.segments == segments


def redecode(start: float, end: float) -> list[Segment]:
    """What decoding the stretch alone gives: the stretched word heard again at the
    margin, then the lost sentence, the first word starting early over the margin."""
    again = said("to", 1.8)
    lost = said(LATER, 2.1, step=1.1)
    return [again, lost]


def test_the_splice_keeps_times_in_order_no_word_twice_and_cues_in_their_limits() -> None:
    recovery = recover(stretched(), SPEECH, 20.0, redecode)
    words = all_words(recovery.segments)
    texts = [word["word"] for word in words]
    assert texts == [*HEAD.split(), *LATER.split()]
    assert recovery.recovered_words == len(LATER.split())
    starts = [word["start"] for word in words]
    assert starts == sorted(starts)
    for before, after in itertools.pairwise(words):
        assert before["end"] <= after["start"] + 1e-6, (before, after)
    assert all(word["end"] - word["start"] <= 3.0 for word in words)
    assert recovery.missing == []
    tidied = tidy_segments(recovery.segments)
    for segment in tidied:
        assert segment["start"] >= segment["words"][0]["start"] - 3.0
        assert segment["end"] <= segment["words"][-1]["end"] + 3.0
    rules = CueRules()
    cues = build_cues(tokens_from_segments(tidied, rules), rules)
    assert " ".join(line for cue in cues for line in cue.lines).count("people") == 2
    for cue, following in itertools.pairwise(cues):
        assert cue.end <= following.start
    for cue in cues:
        assert cue.end - cue.start <= rules.max_seconds
        assert len(cue.lines) <= rules.lines
        assert all(len(line) <= rules.line_chars for line in cue.lines)


def test_a_stretch_inside_a_segment_cuts_it_there() -> None:
    before, after = said("one two three", 0.0), said("seven eight nine", 6.0)
    joined = make_segment(
        " one two three seven eight nine", 0.0, after["end"], before["words"] + after["words"]
    )
    spliced, added = splice([joined], (1.2, 5.9), [said("four five six", 2.0)])
    assert added == 3
    assert [segment["text"].split()[0] for segment in spliced] == ["one", "four", "seven"]


def test_when_decoding_again_finds_nothing_the_warning_names_the_stretch() -> None:
    calls: list[tuple[float, float]] = []

    def nothing(start: float, end: float) -> list[Segment]:
        calls.append((start, end))
        return []

    recovery = recover(stretched(), SPEECH, 20.0, nothing)
    assert len(calls) == 1  # the same stretch is not decoded twice for nothing
    assert calls[0][0] < 2.0 and calls[0][1] == 20.0
    assert len(recovery.missing) == 1
    last = all_words(recovery.segments)[-1]
    assert last["end"] - last["start"] <= 1.0  # clipped, not left spanning the gap
    warning = missing_warning(recovery.missing)
    assert warning is not None and warning.startswith("Speech at 0:02-0:20 has no transcript")
    scores = [SegmentScore(0.0, 2.8, -0.3, 1.2, 0.05)]
    warnings = transcript_warnings(recovery.segments, scores, SPEECH, 20.0, english_only=True)
    assert warnings == [warning]


def test_many_missing_stretches_are_named_three_and_counted() -> None:
    missing = [(float(at), at + 2.0) for at in range(0, 100, 10)]
    warning = missing_warning(missing)
    assert warning is not None
    assert warning.startswith("Speech at 0:00-0:02, 0:10-0:12, 0:20-0:22 and 7 more")
    assert "(20 s in all)" in warning


def test_segments_without_word_timings_cover_their_time() -> None:
    bare = make_segment(" words without timings", 0.0, 5.0, [])
    assert missing_speech([bare], [(0.0, 5.0)]) == []
    assert missing_speech([bare], [(0.0, 5.0), (7.0, 9.0)]) == [(7.0, 9.0)]


def test_every_engines_document_has_its_stretched_words_clipped() -> None:
    """A remote server's words go through build_document too (no detector there: the
    end that touches its neighbour is kept)."""
    result = Transcription(stretched(), "en", 20.0, 1.0)
    document = build_document(
        result, source_path="a.wav", sha256="0" * 64, size=1, backend="openai"
    )
    words = document["response"]["word_segments"]
    assert [w["word"] for w in words] == HEAD.split()
    assert all(w["end"] - w["start"] <= 1.0 for w in words)
    for segment in document["response"]["segments"]:
        assert segment["end"] <= segment["words"][-1]["end"] + 1.0


def test_holes_with_only_silence_between_are_one_stretch_and_a_word_keeps_them_apart() -> None:
    speech = [(0.0, 2.0), (3.0, 5.0), (6.0, 8.0)]
    assert missing_speech([], speech) == [(0.0, 8.0)]
    word = said("hello", 5.2)  # a word between the second span and the third
    assert missing_speech([word], speech) == [(0.0, 5.0), (6.0, 8.0)]


def test_a_long_recording_is_checked_in_one_sweep() -> None:
    """Five and a half hours of words and speech: comparing each of the 40,000 words with
    each of the 8,000 spans would be 320 million steps; one sweep is a fraction of a second."""
    segments = [said("one two three four five", at * 2.5) for at in range(8000)]
    speech = [(at * 2.5, at * 2.5 + 2.0) for at in range(8000)]
    started = time.process_time()
    assert missing_speech(segments, speech) == []
    assert time.process_time() - started < 20.0


def test_without_word_timings_a_found_segment_is_spliced_whole() -> None:
    bare = make_segment(" before the gap", 0.0, 2.0, [])
    found = [make_segment(" lost words", 3.0, 5.0, []), make_segment(" again", 0.5, 1.5, [])]
    recovery = recover([bare], [(0.0, 2.0), (3.0, 5.0)], 6.0, lambda start, end: found)
    assert [segment["text"] for segment in recovery.segments] == [" before the gap", " lost words"]
    assert recovery.missing == []
