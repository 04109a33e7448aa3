"""Stitching parts' transcripts: offsets, one copy of every word at a seam, one language."""

from __future__ import annotations

from dropscribe.audio.cuts import Part
from dropscribe.audio.stitch import PartTranscript, stitch
from dropscribe.transcript import Segment, make_segment, make_word


def segment(*words: tuple[str, float, float]) -> Segment:
    made = [make_word(text, start, end, 0.9) for text, start, end in words]
    text = " " + " ".join(text for text, _, _ in words)
    return make_segment(text, words[0][1], words[-1][2], made)


def texts(segments: list[Segment]) -> list[str]:
    return [word["word"] for s in segments for word in s["words"]]


def test_parts_cut_at_a_pause_are_moved_onto_the_recordings_clock() -> None:
    first = PartTranscript(
        Part(0.0, 20.0, 0.0, 20.0), [segment(("Hello", 1.0, 1.5), ("there.", 1.6, 2.0))], "en"
    )
    second = PartTranscript(
        Part(20.0, 40.0, 20.0, 40.0), [segment(("General", 0.5, 1.0), ("Kenobi.", 1.1, 1.8))], "en"
    )
    joined = stitch([second, first])  # order of completion does not matter
    assert texts(joined.segments) == ["Hello", "there.", "General", "Kenobi."]
    assert joined.segments[1]["start"] == 20.5 and joined.segments[1]["end"] == 21.8
    assert joined.segments[1]["words"][1] == {
        "word": "Kenobi.",
        "start": 21.1,
        "end": 21.8,
        "score": 0.9,
        "speaker": None,
    }
    assert joined.language == "en"


def test_a_word_heard_by_both_parts_at_a_forced_cut_is_kept_once() -> None:
    # Forced cut at 10.0 with 1 s of overlap: the first part decodes to 10.5, the second from 9.5.
    first = PartTranscript(
        Part(0.0, 10.5, 0.0, 10.0),
        [segment(("one", 8.0, 8.4), ("two", 8.9, 9.3), ("three", 9.8, 10.4))],
        "en",
    )
    second = PartTranscript(
        Part(9.5, 20.0, 10.0, 20.0),
        [segment(("three", 0.2, 0.9), ("four", 1.2, 1.6))],  # 9.7-10.4 and 10.7-11.1
        "en",
    )
    joined = stitch([first, second])
    assert texts(joined.segments) == ["one", "two", "three", "four"]


def test_a_word_timed_on_both_sides_of_the_seam_is_removed_by_its_text() -> None:
    # Each part timed "three" on its own side of the seam; the words match, so one goes.
    first = PartTranscript(
        Part(0.0, 10.5, 0.0, 10.0), [segment(("two", 8.9, 9.3), ("three", 9.5, 9.9))], "en"
    )
    second = PartTranscript(
        Part(9.5, 20.0, 10.0, 20.0), [segment(("Three,", 0.4, 0.9), ("four", 1.2, 1.6))], "en"
    )
    joined = stitch([first, second])
    assert texts(joined.segments) == ["two", "three", "four"]
    assert joined.segments[1]["text"] == " four" and joined.segments[1]["start"] == 10.7


def test_the_same_word_said_twice_in_a_row_is_not_taken_for_a_double() -> None:
    first = PartTranscript(Part(0.0, 10.5, 0.0, 10.0), [segment(("no", 8.0, 8.3))], "en")
    second = PartTranscript(
        Part(9.5, 20.0, 10.0, 20.0), [segment(("no", 1.0, 1.3), ("way", 1.5, 1.8))], "en"
    )
    assert texts(stitch([first, second]).segments) == ["no", "no", "way"]


def test_segments_without_word_timings_are_kept_by_their_middle() -> None:
    first = PartTranscript(
        Part(0.0, 10.5, 0.0, 10.0),
        [make_segment(" a b", 0.0, 4.0, []), make_segment(" c", 9.6, 10.5, [])],
        "en",
    )
    second = PartTranscript(Part(9.5, 20.0, 10.0, 20.0), [make_segment(" c d", 0.0, 3.0, [])], "en")
    joined = stitch([first, second])
    assert [s["text"] for s in joined.segments] == [" a b", " c d"]


def test_the_language_is_the_one_most_speech_was_in() -> None:
    parts = [Part(0.0, 10.0, 0.0, 10.0), Part(10.0, 40.0, 10.0, 40.0)]
    joined = stitch(
        [
            PartTranscript(parts[0], [segment(("Merci", 0.0, 2.0))], "fr"),
            PartTranscript(parts[1], [segment(("Thanks", 0.0, 9.0))], "en"),
        ]
    )
    assert joined.language == "en"


def test_nothing_to_stitch_gives_an_empty_transcript() -> None:
    joined = stitch([PartTranscript(Part(0.0, 10.0, 0.0, 10.0), [], None)])
    assert joined.segments == [] and joined.language is None
