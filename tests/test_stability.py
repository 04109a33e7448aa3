from __future__ import annotations

from dropscribe.inbox.stability import StabilityTracker


def test_a_file_is_due_only_after_it_stayed_unchanged_for_the_settle_time() -> None:
    tracker = StabilityTracker(2.0)
    tracker.observe("a.wav", 100, mtime=10.0, now=10.0)
    assert tracker.due(11.9) == []
    assert tracker.due(12.0) == ["a.wav"]


def test_a_growing_file_restarts_its_quiet_time() -> None:
    tracker = StabilityTracker(2.0)
    tracker.observe("a.wav", 100, mtime=10.0, now=10.0)
    tracker.observe("a.wav", 200, mtime=11.5, now=11.5)
    assert tracker.due(12.5) == []
    assert tracker.due(13.5) == ["a.wav"]
    assert tracker.next_deadline() == 13.5


def test_a_file_already_quiet_for_longer_when_found_needs_no_wait() -> None:
    tracker = StabilityTracker(2.0)
    tracker.observe("old.wav", 100, mtime=100.0, now=500.0)
    assert tracker.due(500.0) == ["old.wav"]


def test_an_mtime_in_the_future_counts_from_now() -> None:
    tracker = StabilityTracker(2.0)
    tracker.observe("skewed.wav", 100, mtime=900.0, now=500.0)
    assert tracker.due(501.0) == []
    assert tracker.due(502.0) == ["skewed.wav"]


def test_a_forgotten_file_is_never_due() -> None:
    tracker = StabilityTracker(0.0)
    tracker.observe("gone.wav", 1, mtime=1.0, now=1.0)
    tracker.forget("gone.wav")
    assert tracker.due(10.0) == []
    assert tracker.next_deadline() is None


def test_matches_tells_whether_size_and_mtime_are_what_was_seen() -> None:
    tracker = StabilityTracker(1.0)
    tracker.observe("a.wav", 5, mtime=1.0, now=1.0)
    assert tracker.matches("a.wav", 5, 1.0)
    assert not tracker.matches("a.wav", 6, 1.0)
    assert not tracker.matches("b.wav", 5, 1.0)
