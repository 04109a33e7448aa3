"""The chunk plan for a serverless engine: pure arithmetic on seconds, no audio."""

from __future__ import annotations

import random

import pytest

from dropscribe.audio.chunk_plan import (
    LAST_SHARE,
    MIN_CHUNK_SECONDS,
    SEARCH_SECONDS,
    ChunkPlanner,
    chunk_lengths,
    plan_chunks,
)
from dropscribe.audio.cuts import CAP_FILL, OVERLAP_SECONDS, Span


def speech_with_pauses(duration: float, seed: int = 26) -> list[Span]:
    """Phrases of 2-11 s with pauses of 0.7-3 s, like the benchmark's recording."""
    rng, spans, at = random.Random(seed), [], 0.5
    while at < duration:
        length = rng.uniform(2, 11)
        spans.append((at, min(duration, at + length)))
        at += length + rng.uniform(0.7, 3.0)
    return spans


@pytest.mark.parametrize(
    ("duration", "concurrency", "cap"),
    [(2570, 4, 600), (700, 4, 600), (7200, 4, 600), (2570, 1, 600), (2570, 16, 600), (31, 4, 10)],
)
def test_lengths_fill_whole_rounds_shrink_to_half_and_stay_under_the_cap(
    duration: float, concurrency: int, cap: float
) -> None:
    lengths = chunk_lengths(duration, concurrency, cap)
    assert sum(lengths) == pytest.approx(duration)
    assert max(lengths) <= CAP_FILL * cap + 1e-9
    assert lengths == sorted(lengths, reverse=True)  # the last start last: they are shortest
    assert lengths[-1] == pytest.approx(LAST_SHARE * lengths[0])
    if duration / MIN_CHUNK_SECONDS >= 2 * concurrency:
        # Whole rounds of the engine's concurrency, at least two (or more to fit the cap).
        assert len(lengths) >= 2 * concurrency
        assert len(lengths) % concurrency == 0


def test_the_issues_recording_goes_as_two_rounds_of_four_not_five_chunks() -> None:
    # 42 minutes at concurrency 4: the old plan sent 5 chunks of ~500 s (a lone fifth
    # waited a whole round); this one 8, from 7 minutes down to 3.5.
    lengths = chunk_lengths(2530, 4, 600)
    assert len(lengths) == 8
    assert lengths[0] == pytest.approx(421.7, abs=0.1) and lengths[-1] == pytest.approx(
        210.8, abs=0.1
    )


def test_a_recording_under_the_cap_is_one_chunk() -> None:
    assert chunk_lengths(590, 4, 600) == [590]
    speech = speech_with_pauses(590)
    [part] = plan_chunks(speech, 590, 4, 600)
    assert (part.start, part.end) == (0.0, 590.0)


def test_every_cut_lies_in_a_pause_near_its_target_and_the_parts_meet() -> None:
    duration = 2570.0
    speech = speech_with_pauses(duration)
    parts = plan_chunks(speech, duration, 4, 600)
    targets = ChunkPlanner(duration, 4, 600).targets
    assert len(parts) == len(targets) + 1 == 8
    for part, following, target in zip(parts, parts[1:], targets, strict=False):
        assert part.end == part.keep_end == following.start == following.keep_start  # a pause
        assert abs(part.end - target) <= SEARCH_SECONDS
        assert not any(begin < part.end < end for begin, end in speech)  # never in speech
        assert part.duration <= 600
    assert parts[0].start == 0.0 and parts[-1].end == duration


def test_speech_without_a_pause_near_the_target_is_cut_with_an_overlap() -> None:
    # One long stretch of speech with only short breaths (0.2 s, no pause of 0.6 s).
    speech = [(at, at + 4.8) for at in range(0, 700, 5)]
    parts = plan_chunks(speech, 700.0, 4, 600)
    assert len(parts) > 1
    first, second = parts[0], parts[1]
    assert first.end - first.keep_end == pytest.approx(OVERLAP_SECONDS / 2)
    assert second.keep_start - second.start == pytest.approx(OVERLAP_SECONDS / 2)
    assert first.keep_end == second.keep_start


def test_silence_around_a_target_is_cut_there_without_an_overlap() -> None:
    speech = [(0.0, 100.0), (600.0, 700.0)]
    planner = ChunkPlanner(700.0, 4, 600)
    target = planner.aim(0.0).target
    cut = planner.cut(speech, 0.0, target)
    assert cut.at == pytest.approx(target, abs=0.001) and cut.overlap == 0.0


def test_audio_longer_than_its_header_claimed_goes_on_in_capped_chunks() -> None:
    # The header said 700 s; the audio goes on to 2000 s: chunks stay under the cap.
    planner = ChunkPlanner(700.0, 4, 600)
    start = planner.targets[-1]
    aim = planner.aim(start + 1)
    assert aim.decide_at == pytest.approx(start + 1 + 600)
    assert aim.target <= start + 1 + 600 - SEARCH_SECONDS
