"""The rule `batched = auto` applies, measured in bench/README.md."""

from __future__ import annotations

import numpy as np

from dropscribe.backends.batching import (
    Choice,
    SpeechProfile,
    choose_batched,
    clips_from_spans,
    prefers_batched,
    uncovered_speech,
)


def test_long_continuous_speech_is_decoded_in_batches() -> None:
    assert prefers_batched(SpeechProfile(duration=250, speech_seconds=235, longest_gap=0.6))


def test_short_audio_is_decoded_sequentially() -> None:
    assert not prefers_batched(SpeechProfile(duration=45, speech_seconds=44, longest_gap=0.2))


def test_long_pauses_or_sparse_speech_keep_sequential_decoding() -> None:
    assert not prefers_batched(SpeechProfile(duration=120, speech_seconds=115, longest_gap=3.0))
    assert not prefers_batched(SpeechProfile(duration=120, speech_seconds=70, longest_gap=1.0))


def test_on_and_off_override_the_rule_and_short_audio_skips_the_detector() -> None:
    silence = np.zeros(16000 * 5, dtype=np.float32)
    assert choose_batched("on", silence, 16000).batched
    assert not choose_batched("off", silence, 16000).batched
    assert choose_batched("auto", silence, 16000) == Choice(False, None)


def test_speech_left_without_text_after_batching_is_detected() -> None:
    speech = [(0.0, 10.0), (11.0, 30.0), (31.0, 60.0)]
    whole = [{"start": 0.0, "end": 29.5}, {"start": 29.5, "end": 60.0}]
    assert uncovered_speech(speech, whole) == []
    dropped_chunk = [{"start": 0.0, "end": 30.0}]  # the last 29 s have no text
    assert uncovered_speech(speech, dropped_chunk) == [(31.0, 60.0)]
    small_holes = [
        {"start": 0.0, "end": 9.0},
        {"start": 11.5, "end": 29.0},
        {"start": 31.0, "end": 58.5},
    ]
    assert uncovered_speech(speech, small_holes) == []


def test_speech_is_grouped_into_contiguous_windows_of_at_most_30_seconds() -> None:
    spans = [(0.5, 10.0), (11.0, 25.0), (26.0, 40.0), (41.0, 100.0)]
    assert clips_from_spans(spans) == [
        {"start": 0.5, "end": 25.0},
        {"start": 26.0, "end": 40.0},
        {"start": 41.0, "end": 71.0},
        {"start": 71.0, "end": 100.0},
    ]
    assert clips_from_spans([]) == []
