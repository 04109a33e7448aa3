"""Subtitle cues from word timings: broadcast limits, read back by real SRT and WebVTT parsers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hypothesis.strategies as st
import pytest
import srt
import webvtt
from hypothesis import HealthCheck, given, settings

from dropscribe.config import load_settings
from dropscribe.errors import ConfigError
from dropscribe.outbox.cues import Cue, CueRules, build_cues, speaker_prefix, tokens_from_segments
from dropscribe.outbox.document import build_document
from dropscribe.outbox.formats import cues_of, to_srt, to_vtt
from dropscribe.outbox.phrasing import leaves_hanging
from dropscribe.outbox.writer import Outbox
from dropscribe.transcript import (
    Document,
    Segment,
    Transcription,
    Word,
    make_segment,
    make_word,
)
from tests.helpers import write_config

RULES = CueRules()
EPSILON = 0.0015  # timestamps are written in whole milliseconds


def document_of(segments: list[Segment]) -> Document:
    result = Transcription(segments, "en", None, 1.0, "tiny.en")
    return build_document(result, source_path="a.wav", sha256="0" * 64, size=1, backend="local")


def timed(text: str, start: float = 0.0, seconds_per_word: float = 0.3) -> Segment:
    """A segment of ``text`` whose words follow each other without pauses."""
    words = [
        make_word(word, start + i * seconds_per_word, start + (i + 1) * seconds_per_word, 0.9)
        for i, word in enumerate(text.split())
    ]
    return make_segment(" " + text, start, words[-1]["end"], words)


def cue_texts(cues: list[Cue]) -> list[str]:
    return [" ".join(cue.lines) for cue in cues]


@dataclass
class Spoken:
    """A random word stream: the words, and the segments an engine put them in."""

    words: list[Word]
    segments: list[Segment]


@st.composite
def word_streams(draw: st.DrawFn) -> Spoken:
    count = draw(st.integers(1, 120))
    clock = draw(st.floats(0, 5))
    words: list[Word] = []
    speaker_count = draw(st.sampled_from([0, 0, 2, 3]))
    for _ in range(count):
        text = draw(st.text("abcdefghijklmnopqrstuvwxyzéß", min_size=1, max_size=14))
        text += draw(st.sampled_from(["", "", "", "", ".", ",", "?", ";"]))
        clock += draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.6, 1.2, 2.5]))
        duration = draw(st.floats(0.02, 1.5))  # Whisper times words in steps of 20 ms
        speaker = f"SPEAKER_{draw(st.integers(1, speaker_count))}" if speaker_count else None
        words.append(make_word(text, clock, clock + duration, 0.9, speaker))
        clock = words[-1]["end"]
    segments: list[Segment] = []
    start = 0
    while start < count:
        size = draw(st.integers(1, 60))  # a sequential segment, or a whole batched window
        part = words[start : start + size]
        text = " " + " ".join(word["word"] for word in part)
        segments.append(make_segment(text, part[0]["start"], part[-1]["end"], part))
        start += size
    return Spoken(words, segments)


def assert_within_the_rules(cues: list[Cue], rules: CueRules) -> None:
    for number, cue in enumerate(cues):
        label = len(speaker_prefix(cue.speaker)) if cue.new_speaker and cue.speaker else 0
        assert 1 <= len(cue.lines) <= rules.lines
        alone = len(" ".join(cue.lines).split()) == 1  # a word and its label may not fit a line
        assert alone or len(cue.lines[0]) + label <= rules.line_chars, cue
        assert all(len(line) <= rules.line_chars for line in cue.lines), cue
        assert cue.end - cue.start <= rules.max_seconds + EPSILON, cue
        following = cues[number + 1] if number + 1 < len(cues) else None
        if following is not None:
            assert cue.end <= following.start + EPSILON, (cue, following)
        # Shorter than the minimum only when the next cue leaves no room; read too fast
        # only when the next cue leaves no room or the cue is already as long as allowed.
        seconds = cue.end - cue.start
        speed = (sum(len(line) for line in cue.lines) + label) / seconds
        no_room = following is not None and cue.end == pytest.approx(following.start)
        if seconds < rules.min_seconds - EPSILON:
            assert no_room, cue
        if speed > rules.chars_per_second + 0.01:
            assert no_room or seconds >= rules.max_seconds - EPSILON, cue


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(word_streams())
def test_every_word_appears_once_in_order_in_a_cue_that_covers_its_time(spoken: Spoken) -> None:
    cues = cues_of(document_of(spoken.segments))
    shown = [(word, cue) for cue in cues for word in " ".join(cue.lines).split()]
    assert [word for word, _ in shown] == [word["word"] for word in spoken.words]
    for (_, cue), word in zip(shown, spoken.words, strict=True):
        assert cue.start <= word["start"] + EPSILON and word["end"] <= cue.end + EPSILON
        assert cue.speaker == word["speaker"]
    assert_within_the_rules(cues, RULES)


@settings(max_examples=60, deadline=None)
@given(word_streams(), st.integers(16, 60), st.integers(1, 3), st.floats(2.0, 10.0))
def test_other_limits_from_the_settings_hold_too(
    spoken: Spoken, line_chars: int, lines: int, max_seconds: float
) -> None:
    rules = CueRules(line_chars=line_chars, lines=lines, max_seconds=max_seconds)
    cues = build_cues(tokens_from_segments(spoken.segments, rules), rules)
    assert " ".join(" ".join(cue.lines) for cue in cues).split() == [
        word["word"] for word in spoken.words
    ]
    assert_within_the_rules(cues, rules)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("abcdefgh", min_size=1, max_size=9), min_size=1, max_size=60))
def test_a_segment_without_word_timings_is_spread_over_its_time(texts: list[str]) -> None:
    segment = make_segment(" " + " ".join(texts), 10.0, 10.0 + 0.35 * len(texts), [])
    cues = cues_of(document_of([segment]))
    assert " ".join(cue_texts(cues)).split() == texts
    assert cues[0].start == pytest.approx(10.0)
    assert all(10.0 <= cue.start < cue.end <= segment["end"] + 1.0 for cue in cues)
    assert_within_the_rules(cues, RULES)


def test_cues_end_at_sentence_ends_rather_than_inside_a_clause() -> None:
    text = (
        "The town library opens at nine in the morning. On most days a small line of "
        "readers waits at the door before the first bell rings."
    )
    cues = cues_of(document_of([timed(text)]))
    assert cue_texts(cues)[0] == "The town library opens at nine in the morning."
    assert all(len(cue.lines) <= 2 for cue in cues)


def test_lines_are_balanced_and_break_after_punctuation() -> None:
    (cue,) = cues_of(
        document_of([timed("When the river rises, the old bridge is closed for days.")])
    )
    assert cue.lines == ("When the river rises,", "the old bridge is closed for days.")


def test_a_long_pause_ends_a_cue_and_a_short_cue_stays_up_a_second() -> None:
    cues = cues_of(document_of([timed("Well"), timed("yes, I think so.", start=4.0)]))
    assert cue_texts(cues) == ["Well", "yes, I think so."]
    assert cues[0].end - cues[0].start == pytest.approx(1.0)


def test_words_without_punctuation_get_it_back_from_the_segment_text() -> None:
    # OpenAI's word timestamps carry no punctuation; the segment text does.
    segment = timed("Hello there general Kenobi how are you")
    segment["text"] = " Hello there, General Kenobi. How are you?"
    cues = cues_of(document_of([segment]))
    assert " ".join(cue_texts(cues)) == "Hello there, General Kenobi. How are you?"


def test_words_split_inside_a_written_word_are_shown_joined() -> None:
    words = [
        make_word("at", 0, 0.3, 1),
        make_word("nine", 0.3, 0.6, 1),
        make_word("o", 0.6, 0.7, 1),
    ]
    words.append(make_word("'clock.", 0.7, 1.0, 1))
    (cue,) = cues_of(document_of([make_segment(" at nine o'clock.", 0, 1, words)]))
    assert cue.lines == ("at nine o'clock.",)


def test_chinese_words_join_without_spaces() -> None:
    words = [
        make_word(w, i * 0.3, (i + 1) * 0.3, 1) for i, w in enumerate(["砸", "自己", "的", "脚"])
    ]
    (cue,) = cues_of(document_of([make_segment("砸自己的脚", 0.0, 1.2, words)]))
    assert cue.lines == ("砸自己的脚",)


def speakers_document() -> Document:
    first = timed("Are you coming to the market on Saturday?")
    second = timed("Yes, with the children & the <dog>.", start=first["end"] + 0.3)
    third = timed("Bring a scarf --> it will be cold.", start=second["end"] + 0.3)
    for segment, speaker in ((first, "SPEAKER_1"), (second, "SPEAKER_2"), (third, "SPEAKER_2")):
        segment["speaker"] = speaker
        for word in segment["words"]:
            word["speaker"] = speaker
    return document_of([first, second, third])


def test_srt_is_read_back_by_a_real_parser_with_the_speaker_where_it_changes() -> None:
    document = speakers_document()
    cues = cues_of(document)
    parsed = list(srt.parse(to_srt(document)))
    assert [item.index for item in parsed] == list(range(1, len(cues) + 1))
    assert [item.start.total_seconds() for item in parsed] == pytest.approx(
        [cue.start for cue in cues], abs=EPSILON
    )
    assert [item.end.total_seconds() for item in parsed] == pytest.approx(
        [cue.end for cue in cues], abs=EPSILON
    )
    contents = [item.content.replace("\n", " ") for item in parsed]
    assert contents[0].startswith("SPEAKER_1: Are you coming")
    assert contents[1].startswith("SPEAKER_2: Yes, with the children & the <dog>.")
    assert sum(content.count("SPEAKER_") for content in contents) == 2
    assert "Bring a scarf -> it will be cold." in contents


def test_webvtt_is_read_back_by_a_real_parser_with_voice_tags() -> None:
    document = speakers_document()
    cues = cues_of(document)
    parsed = webvtt.from_string(to_vtt(document))
    assert len(parsed) == len(cues)
    assert [caption.start_in_seconds for caption in parsed.captions] == [int(c.start) for c in cues]
    assert [caption.voice for caption in parsed.captions] == [cue.speaker for cue in cues]
    assert parsed[1].text.replace("\n", " ") == "Yes, with the children &amp; the &lt;dog&gt;."
    assert "--&gt;" in parsed[-1].text


def test_a_segment_longer_than_any_line_is_cut_into_pieces_that_fit() -> None:
    url = "https://example.org/" + "a" * 90
    (segment,) = [make_segment(" " + url, 0.0, 4.0, [])]
    cues = cues_of(document_of([segment]))
    assert "".join("".join(cue.lines) for cue in cues) == url
    assert_within_the_rules(cues, RULES)


def test_the_limits_come_from_the_transcribe_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"transcribe": {"cue_line_chars": 20, "cue_lines": 1}})
    settings = load_settings(config)
    outbox = Outbox(tmp_path / "out", ["srt"], CueRules.from_settings(settings.transcribe))
    segment = timed("The town library opens at nine in the morning and closes at six.")
    (path,) = outbox.write_transcript("a", document_of([segment]))
    parsed = list(srt.parse(path.read_text()))
    assert len(parsed) > 3
    assert all(len(item.content) <= 20 and "\n" not in item.content for item in parsed)


def test_a_minimum_longer_than_the_maximum_is_one_clear_sentence(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"transcribe": {"cue_min_seconds": 8.0}})
    with pytest.raises(ConfigError, match="cue_min_seconds is longer than cue_max_seconds"):
        load_settings(config)


#: tiny.en's words for the JFK recording (11.0 s), as the engine cut them into segments.
JFK = [
    (
        " And so, my fellow Americans ask not what your country can do for you",
        [
            ("And", 0.0, 0.74),
            ("so,", 0.74, 1.06),
            ("my", 1.38, 1.42),
            ("fellow", 1.42, 1.76),
            ("Americans", 1.76, 2.26),
            ("ask", 2.26, 3.88),
            ("not", 3.88, 4.54),
            ("what", 4.54, 5.7),
            ("your", 5.7, 6.02),
            ("country", 6.02, 6.36),
            ("can", 6.36, 6.76),
            ("do", 6.76, 7.02),
            ("for", 7.02, 7.26),
            ("you", 7.26, 8.02),
        ],
    ),
    (
        " ask what you can do for your country.",
        [
            ("ask", 8.02, 8.66),
            ("what", 8.66, 8.94),
            ("you", 8.94, 9.28),
            ("can", 9.28, 9.5),
            ("do", 9.5, 9.72),
            ("for", 9.72, 9.92),
            ("your", 9.92, 10.24),
            ("country.", 10.24, 10.5),
        ],
    ),
]


def jfk_segments() -> list[Segment]:
    return [
        make_segment(text, words[0][1], words[-1][2], [make_word(*w, 0.9) for w in words])
        for text, words in JFK
    ]


def test_no_cue_and_no_line_ends_on_a_function_word_when_a_better_break_fits() -> None:
    """tiny.en on JFK ended cue 1 on "can" and began cue 2 "do for you ask what you"."""
    document = document_of(jfk_segments())
    lines = [line for cue in cues_of(document) for line in cue.lines]
    assert all(not leaves_hanging(line.split()[-1]) for line in lines), lines
    # The engine's segment ended at "for you | ask": a line or a cue breaks there.
    assert any(line.endswith("do for you") for line in lines), lines
    parsed = list(srt.parse(to_srt(document)))
    assert " ".join(cue.content.replace("\n", " ") for cue in parsed) == (
        "And so, my fellow Americans ask not what your country can do for you "
        "ask what you can do for your country."
    )


def test_a_line_does_not_end_on_to_when_another_cue_boundary_reads_better() -> None:
    text = (
        "And Mr. John Dashwood had then leisure to consider how much there might be "
        "prudently in his power to do for them."
    )
    cues = cues_of(document_of([timed(text, seconds_per_word=0.35)]))
    lines = [line for cue in cues for line in cue.lines]
    assert all(not leaves_hanging(line.split()[-1]) for line in lines), lines


def test_a_diarized_cue_keeps_its_phrases_together() -> None:
    """A speaker label on the first line leaves less room: still no line on "your"."""
    segments = jfk_segments()
    for segment in segments:
        segment["speaker"] = "SPEAKER_2"
        for number, word in enumerate(segment["words"]):
            word["speaker"] = "SPEAKER_1" if segment is segments[0] and number < 5 else "SPEAKER_2"
    document = document_of(segments)
    lines = [line for cue in cues_of(document) for line in cue.lines]
    assert all(not leaves_hanging(line.split()[-1]) for line in lines), lines
    assert any(line.endswith("do for you") for line in lines), lines
    parsed = webvtt.from_string(to_vtt(document))
    assert [caption.voice for caption in parsed.captions][:2] == ["SPEAKER_1", "SPEAKER_2"]


def test_no_cue_outlasts_the_audio() -> None:
    """A 0.96 s recording had a cue until 1.44 s (reading time, the minimum second)."""
    segment = timed("Hello there friend.", start=0.1, seconds_per_word=0.25)
    result = Transcription([segment], "en", 0.96, 1.0, "tiny.en")
    document = build_document(result, source_path="a.wav", sha256="0" * 64, size=1, backend="x")
    cues = cues_of(document)
    assert cues[-1].end <= 0.96
    parsed = list(srt.parse(to_srt(document)))
    assert parsed[-1].end.total_seconds() <= 0.96
