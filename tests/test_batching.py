"""The rule `batched = auto` applies, measured in bench/README.md."""

from __future__ import annotations

from dropscribe.backends.local.batching import (
    DecodingPlan,
    SpeechProfile,
    clips_from_spans,
    plan_decoding,
    prefers_batched,
    split_windows,
    uncovered_speech,
    widen,
)
from dropscribe.backends.local.threads import ThreadPlan, decodes_for_file, plan_threads


def test_long_continuous_speech_is_decoded_in_batches() -> None:
    assert prefers_batched(SpeechProfile(duration=250, speech_seconds=235, longest_gap=0.6))


def test_short_audio_is_decoded_sequentially() -> None:
    assert not prefers_batched(SpeechProfile(duration=45, speech_seconds=44, longest_gap=0.2))


def test_long_pauses_or_sparse_speech_keep_sequential_decoding() -> None:
    assert not prefers_batched(SpeechProfile(duration=120, speech_seconds=115, longest_gap=3.0))
    assert not prefers_batched(SpeechProfile(duration=120, speech_seconds=70, longest_gap=1.0))


def test_on_and_off_override_the_rule_and_short_audio_is_sequential() -> None:
    speech = [(0.5, 20.0), (20.2, 44.0)]
    assert plan_decoding("on", speech, 45.0, decodes=2).decoding == "batched"
    assert plan_decoding("off", speech, 45.0, decodes=2) == DecodingPlan("sequential")
    assert plan_decoding("auto", speech, 45.0, decodes=2) == DecodingPlan("sequential")


def test_a_long_recording_with_pauses_and_free_decodes_is_cut_into_parts() -> None:
    # Ten minutes of speech with a 2.5 s pause every 30 s.
    speech = [(i * 30.0, i * 30.0 + 27.5) for i in range(20)]
    plan = plan_decoding("auto", speech, 600.0, decodes=2)
    assert plan.decoding == "parts" and len(plan.parts) >= 20
    assert all(part.at_pauses for part in plan.parts)
    # At most one window each; the last may run longer on the silence after the speech.
    assert all(part.duration <= 30.0 for part in plan.parts[:-1])
    # With one decode free (other files waiting), the same recording is not split.
    assert plan_decoding("auto", speech, 600.0, decodes=1).decoding == "sequential"


def test_continuous_speech_without_pauses_is_batched_even_with_free_decodes() -> None:
    speech = [(i * 10.0, i * 10.0 + 9.8) for i in range(25)]  # 0.2 s gaps only
    assert plan_decoding("auto", speech, 250.0, decodes=2).decoding == "batched"


def test_silence_is_never_batched_or_split() -> None:
    assert plan_decoding("auto", [], 600.0, decodes=4) == DecodingPlan("sequential")


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


def test_a_file_alone_takes_the_free_decodes_and_waiting_files_go_side_by_side() -> None:
    assert decodes_for_file(parallel_decodes=2, decodes_in_use=0, files_waiting=0) == 2
    assert decodes_for_file(parallel_decodes=4, decodes_in_use=1, files_waiting=0) == 3
    assert decodes_for_file(parallel_decodes=4, decodes_in_use=0, files_waiting=2) == 1
    # All decodes busy: the file still gets one (CTranslate2 queues it, never oversubscribes).
    assert decodes_for_file(parallel_decodes=2, decodes_in_use=2, files_waiting=0) == 1


def test_padding_keeps_close_spans_apart_so_windows_end_between_them() -> None:
    assert widen([(1.0, 5.0), (5.2, 9.0), (12.0, 20.0)], 0.3, 20.1) == [
        (0.7, 5.1),
        (5.1, 9.3),
        (11.7, 20.1),
    ]
