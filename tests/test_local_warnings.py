"""Warnings in the transcript when it is probably wrong: plain values, then the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import structlog

from dropscribe.backends.base import Done
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.backends.local.quality import SegmentScore, transcript_warnings
from dropscribe.config import load_settings
from dropscribe.outbox.document import build_document, load_schema
from dropscribe.transcript import (
    Document,
    Segment,
    make_segment,
    make_word,
)
from tests.helpers import AUDIO, write_config
from tests.test_local_engine import request, settle


def scored(start: float, end: float, logprob: float = -0.3, ratio: float = 1.2) -> SegmentScore:
    return SegmentScore(start, end, logprob, ratio, 0.05)


def segment(start: float, end: float, probability: float = 0.9) -> Segment:
    return make_segment(" words", start, end, [make_word("words", start, end, probability)])


def test_a_confident_transcript_of_speech_gets_no_warning() -> None:
    warnings = transcript_warnings(
        [segment(0, 10)], [scored(0, 10)], [(0.0, 10.0)], 10.0, english_only=True
    )
    assert warnings == []


def test_low_confidence_a_looping_segment_and_untranscribed_speech_are_each_named() -> None:
    warnings = transcript_warnings(
        [segment(0, 10)],
        [scored(0, 10, logprob=-1.3, ratio=3.1)],
        [(0.0, 10.0), (12.0, 30.0)],
        30.0,
        english_only=False,
    )
    assert len(warnings) == 3
    assert "unsure" in warnings[0] and "-1.30" in warnings[0]
    assert "repeats itself (at 0.0 s)" in warnings[1]
    assert warnings[2].startswith("Speech at 0:12-0:30 has no transcript")


def test_mostly_silence_is_said() -> None:
    warnings = transcript_warnings([], [], [(1.0, 2.0)], 60.0, english_only=True)
    assert warnings[0].startswith("The recording is mostly silence")


def sentence(start: float, end: float, probability: float, count: int = 4) -> Segment:
    step = (end - start) / count
    words = [
        make_word(f"w{index}", start + index * step, start + (index + 1) * step, probability)
        for index in range(count)
    ]
    return make_segment(" " + " ".join(w["word"] for w in words), start, end, words)


def test_an_english_only_model_unsure_of_every_word_suggests_another_language() -> None:
    warnings = transcript_warnings(
        [sentence(0, 3, probability=0.4)],
        [scored(0, 3, logprob=-0.8)],
        [(0.0, 3.0)],
        3.0,
        english_only=True,
    )
    assert any("does not sound like English" in warning for warning in warnings)
    multilingual = transcript_warnings(
        [sentence(0, 3, probability=0.4)],
        [scored(0, 3, logprob=-0.8)],
        [(0.0, 3.0)],
        3.0,
        english_only=False,
    )
    assert multilingual == []


def test_the_language_is_judged_on_the_words_not_on_a_log_probability_silence_lowered() -> None:
    """Silence before a short command lowers its segment's log-probability (it also
    scores the timestamps) while its words stay confident: that is English."""
    confident = transcript_warnings(
        [sentence(1.0, 3.0, probability=0.85)],
        [scored(0.0, 3.0, logprob=-0.8)],
        [(1.0, 3.0)],
        3.0,
        english_only=True,
    )
    assert confident == []


def test_one_unsure_word_is_too_little_to_call_another_language() -> None:
    warnings = transcript_warnings(
        [sentence(0, 1, probability=0.55, count=1)],
        [scored(0, 1, logprob=-0.9)],
        [(0.0, 1.0)],
        1.0,
        english_only=True,
    )
    assert warnings == []


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    backend = LocalBackend(load_settings(write_config(tmp_path_factory.mktemp("warnings"))))
    yield backend
    backend.close()


def document_for(backend: LocalBackend, path: Path) -> Document:
    outcome = settle(backend, request(path))
    assert isinstance(outcome, Done)
    document = build_document(
        outcome.result, source_path=path.name, sha256="0" * 64, size=1, backend="local"
    )
    jsonschema.validate(document, load_schema())
    return document


def test_french_with_the_default_english_model_gets_a_warning_in_its_json(
    engine: LocalBackend,
) -> None:
    document = document_for(engine, AUDIO / "french.flac")
    warnings = document["warnings"]
    assert isinstance(warnings, list)
    assert any("does not sound like English" in str(warning) for warning in warnings)


@pytest.mark.parametrize("name", ["fox.wav", "weather.mp3", "numbers.wav", "long_reading.flac"])
def test_english_speech_gets_no_warning(engine: LocalBackend, name: str) -> None:
    assert document_for(engine, AUDIO / name)["warnings"] == []


def test_an_english_only_model_says_in_the_log_that_auto_means_english(tmp_path: Path) -> None:
    backend = LocalBackend(load_settings(write_config(tmp_path)))
    try:
        with structlog.testing.capture_logs() as logs:
            assert isinstance(settle(backend, request(AUDIO / "numbers.wav")), Done)
    finally:
        backend.close()
    notes = [entry for entry in logs if entry["event"] == "english_only_model"]
    assert notes and 'language = "auto" means English' in notes[0]["note"]
