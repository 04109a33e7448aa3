"""The rule `batched = auto` applies, measured in bench/README.md."""

from __future__ import annotations

import numpy as np

from dropscribe.backends.batching import (
    Choice,
    SpeechProfile,
    choose_batched,
    clips_from_spans,
    prefers_batched,
    split_windows,
    uncovered_speech,
)
from dropscribe.backends.local_threads import ThreadPlan, plan_threads


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


def test_windows_are_split_in_order_into_nearly_equal_runs() -> None:
    windows = [{"start": float(i), "end": i + 1.0} for i in range(9)]
    runs = split_windows(windows, 2)
    assert [len(run) for run in runs] == [5, 4]
    assert [w for run in runs for w in run] == windows
    assert split_windows(windows[:1], 4) == [windows[:1]]
    assert split_windows(windows, 1) == [windows]


def test_cores_go_to_parallel_decodes_of_few_threads_without_oversubscribing() -> None:
    # Measured on 2 cores: one thread per decode and two decodes side by side.
    assert plan_threads(0, 0, workers=1, cores=2) == ThreadPlan(1, 2)
    assert plan_threads(0, 0, workers=1, cores=16) == ThreadPlan(4, 4)
    assert plan_threads(0, 0, workers=2, cores=16) == ThreadPlan(2, 4)
    assert plan_threads(0, 0, workers=4, cores=2) == ThreadPlan(1, 1)
    # What the user sets is kept; the other one is fitted around it.
    assert plan_threads(2, 0, workers=1, cores=2) == ThreadPlan(2, 1)
    assert plan_threads(0, 3, workers=1, cores=2) == ThreadPlan(1, 3)
    # On a GPU one decode at a time: copies of the model would only take its memory.
    assert plan_threads(0, 0, workers=1, cores=16, device="cuda").parallel_decodes == 1
