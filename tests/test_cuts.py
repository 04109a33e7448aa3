"""Cut planning: parts at pauses, balanced, capped in length, overlapping only without a pause."""

from __future__ import annotations

import itertools

import pytest

from dropscribe.audio.cuts import Part, pauses, plan_parts

# Speech with pauses of 1.5 s at 20 s and 41 s, and short gaps (0.2 s) elsewhere.
SPEECH = [(0.5, 10.0), (10.2, 19.25), (20.75, 30.0), (30.2, 40.25), (41.75, 59.5)]


def assert_covers(parts: list[Part], duration: float) -> None:
    assert parts[0].start == 0.0 and parts[-1].end == duration
    assert parts[0].keep_start == 0.0 and parts[-1].keep_end == duration
    for earlier, later in itertools.pairwise(parts):
        assert earlier.keep_end == later.keep_start  # seams meet: every moment is kept once
        assert later.start <= later.keep_start < earlier.end or earlier.end == later.start


def inside_speech(at: float, speech: list[tuple[float, float]]) -> bool:
    return any(start < at < end for start, end in speech)


def test_pauses_are_the_long_gaps_between_speech_only() -> None:
    assert pauses(SPEECH) == [(19.25, 20.75), (40.25, 41.75)]
    assert pauses(SPEECH, min_pause=0.1) == [
        (10.0, 10.2),
        (19.25, 20.75),
        (30.0, 30.2),
        (40.25, 41.75),
    ]


def test_one_part_is_the_whole_recording() -> None:
    assert plan_parts(SPEECH, 60.0) == [Part(0.0, 60.0, 0.0, 60.0)]


def test_two_parts_are_cut_in_the_middle_of_the_pause_nearest_the_half() -> None:
    parts = plan_parts(SPEECH, 60.0, parts=2, slack=0.4)
    assert parts == [Part(0.0, 20.0, 0.0, 20.0), Part(20.0, 60.0, 20.0, 60.0)]


def test_three_parts_use_both_pauses_and_never_cut_inside_speech() -> None:
    parts = plan_parts(SPEECH, 60.0, parts=3)
    assert [part.keep_end for part in parts] == [20.0, 41.0, 60.0]
    assert all(part.at_pauses for part in parts)
    assert not any(inside_speech(part.keep_end, SPEECH) for part in parts[:-1])
    assert_covers(parts, 60.0)


def test_a_cut_too_far_from_its_ideal_place_is_left_out() -> None:
    # One pause, at a fifth of the recording: halves cannot be balanced there.
    speech = [(0.0, 11.0), (13.0, 60.0)]
    assert len(plan_parts(speech, 60.0, parts=2)) == 1
    assert len(plan_parts(speech, 60.0, parts=2, slack=0.8)) == 2


def test_continuous_speech_without_pauses_stays_one_part_when_balancing() -> None:
    assert plan_parts([(0.0, 60.0)], 60.0, parts=4) == [Part(0.0, 60.0, 0.0, 60.0)]


def test_a_length_cap_cuts_at_the_latest_pause_under_it() -> None:
    parts = plan_parts(SPEECH, 60.0, max_seconds=45.0)
    assert [(part.start, part.end) for part in parts] == [(0.0, 41.0), (41.0, 60.0)]
    assert all(part.at_pauses for part in parts)


def test_without_a_pause_a_capped_part_is_cut_at_the_widest_gap_with_an_overlap() -> None:
    parts = plan_parts(SPEECH, 60.0, max_seconds=15.0, overlap=1.0)
    assert all(part.duration <= 15.0 for part in parts)
    assert_covers(parts, 60.0)
    forced = [part for part in parts if not part.at_pauses]
    assert forced, "a 20 s stretch without a pause needs a forced cut under a 15 s cap"
    # The forced cut lies in the 0.2 s gap at 10.1 s, and the parts overlap by 1 s there.
    assert parts[0].keep_end == 10.1 and parts[0].end == 10.6 and parts[1].start == 9.6


def test_speech_without_any_gap_is_cut_anyway_under_a_cap() -> None:
    parts = plan_parts([(0.0, 100.0)], 100.0, max_seconds=30.0, overlap=1.0)
    assert all(part.duration <= 30.0 for part in parts)
    assert len(parts) == 4
    assert_covers(parts, 100.0)


def test_balance_and_cap_together() -> None:
    speech = [(i * 10.0, i * 10.0 + 9.0) for i in range(60)]  # a pause every 10 s
    parts = plan_parts(speech, 600.0, parts=2, max_seconds=200.0)
    assert all(part.duration <= 200.0 for part in parts) and all(p.at_pauses for p in parts)
    assert [part.keep_end for part in parts] == [149.5, 299.5, 449.5, 600.0]


def test_silence_is_one_part() -> None:
    assert plan_parts([], 30.0, parts=3, max_seconds=100.0) == [Part(0.0, 30.0, 0.0, 30.0)]


@pytest.mark.parametrize("kwargs", [{"parts": 0}, {"max_seconds": 1.5, "overlap": 1.0}])
def test_impossible_requests_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        plan_parts(SPEECH, 60.0, **kwargs)  # type: ignore[arg-type]


def test_silence_after_the_last_speech_is_not_cut_off_into_a_part_of_its_own() -> None:
    parts = plan_parts([(0.0, 10.0), (11.0, 27.0)], 40.0, max_seconds=30.0)
    assert parts == [Part(0.0, 40.0, 0.0, 40.0)]
