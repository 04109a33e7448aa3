"""Segments look alike on every engine path; speaker labels cut and name them."""

from __future__ import annotations

import hypothesis.strategies as st
import jsonschema
import pytest
from hypothesis import given, settings

from dropscribe.outbox.document import build_document, load_schema
from dropscribe.outbox.formats import to_srt, to_txt, to_vtt
from dropscribe.transcript import (
    Document,
    Segment,
    Transcription,
    Word,
    make_segment,
    make_word,
)
from dropscribe.transcript.segments import (
    MAX_SEGMENT_CHARS,
    MAX_SEGMENT_SECONDS,
    label_speakers,
    tidy_segments,
)

READING = (
    "The town library opens at nine in the morning and closes at six in the evening. "
    "On most days a small line of readers waits at the door before the first bell. "
    "The head librarian keeps a notebook of every question she cannot answer at once, "
    "and she finds the answer before the end of the week. Mr. Dashwood and John F. "
    "Kennedy read there."
)


def window(text: str, start: float = 0.0, pauses: dict[int, float] | None = None) -> Segment:
    """One segment of ``text`` as batched decoding gives it: 0.3 s a word, one span."""
    words: list[Word] = []
    clock = start
    for index, word in enumerate(text.split()):
        clock += (pauses or {}).get(index, 0.0)
        words.append(make_word(word, clock, clock + 0.3, 0.9))
        clock += 0.3
    return make_segment(" " + text, start, clock, words)


def document_of(result: Transcription) -> Document:
    return build_document(result, source_path="a.wav", sha256="0" * 64, size=1, backend="local")


def test_a_batched_window_is_cut_into_sentences_like_sequential_output() -> None:
    segment = window(READING)
    tidied = tidy_segments([segment])
    assert [piece["text"] for piece in tidied] == [
        " The town library opens at nine in the morning and closes at six in the evening.",
        " On most days a small line of readers waits at the door before the first bell.",
        " The head librarian keeps a notebook of every question she cannot answer at once,",
        " and she finds the answer before the end of the week.",
        " Mr. Dashwood and John F. Kennedy read there.",
    ]
    assert [w for piece in tidied for w in piece["words"]] == segment["words"]
    assert tidied[0]["start"] == segment["start"] and tidied[-1]["end"] == segment["end"]
    assert all(
        piece["end"] - piece["start"] <= MAX_SEGMENT_SECONDS
        and len(piece["text"]) <= MAX_SEGMENT_CHARS
        for piece in tidied
    )
    assert tidy_segments(tidied) == tidied  # sequential-looking output is left as it is


def test_the_json_keeps_the_whole_text_while_its_segments_are_cut() -> None:
    document = document_of(Transcription([window(READING)], "en", 40.0, 5.0, "tiny.en"))
    jsonschema.validate(document, load_schema())
    assert document["transcription"] == " " + READING
    assert len(document["response"]["segments"]) == 5
    assert document["warnings"] == []
    assert "speakers" not in document


def test_a_pause_of_two_seconds_cuts_a_segment_and_leaves_a_blank_line_in_the_text() -> None:
    segment = window("Well I think so we will see", pauses={3: 2.5})
    document = document_of(Transcription([segment], "en", 10.0, 5.0))
    assert [piece["text"] for piece in document["response"]["segments"]] == [
        " Well I think",
        " so we will see",
    ]
    assert to_txt(document) == "Well I think\n\nso we will see\n"


def test_a_short_pause_keeps_the_text_on_consecutive_lines() -> None:
    segments = [window("It rained."), window("We stayed in.", start=2.0)]
    assert to_txt(document_of(Transcription(segments, "en", 6.0, 1.0))) == (
        "It rained.\nWe stayed in.\n"
    )


def test_words_without_punctuation_still_cut_at_the_sentence_ends_of_the_text() -> None:
    segment = window(READING.replace(".", "").replace(",", ""))
    segment["text"] = " " + READING  # OpenAI-style: punctuation in the text only
    tidied = tidy_segments([segment])
    assert "".join(piece["text"] for piece in tidied) == segment["text"]
    assert len(tidied) == 5


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text("abcdef", min_size=1, max_size=10),
            st.sampled_from(["", "", ".", ",", "?"]),
            st.sampled_from([0.0, 0.0, 0.1, 0.8, 2.5]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_cutting_keeps_every_word_and_the_text_and_bounds_the_length(
    stream: list[tuple[str, str, float]],
) -> None:
    text = " ".join(word + mark for word, mark, _ in stream)
    segment = window(text, pauses={index: pause for index, (_, _, pause) in enumerate(stream)})
    tidied = tidy_segments([segment])
    assert "".join(piece["text"] for piece in tidied) == segment["text"]
    assert [w for piece in tidied for w in piece["words"]] == segment["words"]
    for piece in tidied:
        words = piece["words"]
        assert piece["start"] <= words[0]["start"] and words[-1]["end"] <= piece["end"]
        if len(words) > 1:
            assert words[-1]["end"] - words[0]["start"] <= MAX_SEGMENT_SECONDS
    assert tidy_segments(tidied) == tidied


def two_speakers() -> Transcription:
    first = window("Are you coming to the market? Yes I am.")
    second = window("Bring a scarf.", start=first["end"] + 0.5)
    return Transcription([first, second], "en", 10.0, 1.0, "tiny.en")


LABELS = ["SPEAKER_1"] * 6 + ["SPEAKER_2"] * 3 + ["SPEAKER_1"] * 3


def test_labels_cut_segments_where_the_speaker_changes_and_sum_each_speakers_time() -> None:
    labelled = label_speakers(two_speakers(), LABELS)
    assert [(s["speaker"], s["text"]) for s in labelled.segments] == [
        ("SPEAKER_1", " Are you coming to the market?"),
        ("SPEAKER_2", " Yes I am."),
        ("SPEAKER_1", " Bring a scarf."),
    ]
    assert [w["speaker"] for s in labelled.segments for w in s["words"]] == LABELS
    # Six words, then three after a 0.5 s pause: each turn from its first word to its last.
    assert labelled.speakers == [
        {"label": "SPEAKER_1", "seconds": pytest.approx(1.8 + 0.9)},
        {"label": "SPEAKER_2", "seconds": pytest.approx(0.9)},
    ]
    assert two_speakers().speakers is None  # the original is left as it was


def test_words_left_unlabelled_stay_with_the_speaker_before_them() -> None:
    result = Transcription([window("Go forward now, then left.")], "en", 1.0, 1.0)
    labels = [None, "SPEAKER_2", None, "SPEAKER_2", None]
    (segment,) = label_speakers(result, labels).segments
    assert segment["speaker"] == "SPEAKER_2"
    assert [word["speaker"] for word in segment["words"]] == labels


def test_the_text_and_cues_name_the_speaker_where_it_changes() -> None:
    document = document_of(label_speakers(two_speakers(), LABELS))
    jsonschema.validate(document, load_schema())
    assert document["speakers"][0]["label"] == "SPEAKER_1"
    assert to_txt(document) == (
        "SPEAKER_1: Are you coming to the market?\n"
        "SPEAKER_2: Yes I am.\n"
        "SPEAKER_1: Bring a scarf.\n"
    )
    assert to_srt(document).count("SPEAKER_") == 3
    assert to_vtt(document).count("<v SPEAKER_1>") == 2


def test_one_label_per_word_is_required() -> None:
    with pytest.raises(ValueError, match="11 speaker labels for 12 words"):
        label_speakers(two_speakers(), LABELS[1:])
