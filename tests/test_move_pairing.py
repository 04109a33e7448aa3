"""watchdog's pending-event search, made to start from the newest event."""

from __future__ import annotations

from collections.abc import Callable

from watchdog.utils.delayed_queue import DelayedQueue

from dropscribe.inbox import move_pairing


def test_the_matching_event_is_found_and_removed_wherever_it_waits() -> None:
    assert move_pairing.apply()  # the installed watchdog has the method it replaces
    queue: DelayedQueue[tuple[str, int]] = DelayedQueue(0.5)
    for cookie in range(1000):
        queue.put(("created", cookie))
    queue.put(("moved_from", 7), delay=True)
    queue.put(("modified", 8))

    def moved_from(cookie: int) -> Callable[[tuple[str, int]], bool]:
        return lambda event: event == ("moved_from", cookie)

    assert queue.find(moved_from(7)) == ("moved_from", 7)
    assert queue.find(moved_from(9)) is None
    # Removing takes out exactly that event, and the order of the others stays.
    assert queue.remove(moved_from(7)) == ("moved_from", 7)
    assert queue.find(moved_from(7)) is None
    assert queue.get() == ("created", 0)
    assert queue.find(lambda event: event[0] == "created" and event[1] == 0) is None
    assert queue.remove(lambda event: event == ("created", 500)) == ("created", 500)
    assert queue.remove(lambda event: event == ("modified", 8)) == ("modified", 8)
    assert queue.get() == ("created", 1)


def test_the_patch_applies_only_to_the_watchdog_it_was_written_for() -> None:
    assert move_pairing.applies_to("7.1.0")
    assert not move_pairing.applies_to("6.0.0")
    assert not move_pairing.applies_to("8.0.0")
    assert not move_pairing.applies_to(None)


def test_the_patch_is_undone_and_watchdog_searches_its_own_way_again() -> None:
    own = DelayedQueue._index_and_item
    assert move_pairing.apply()
    assert DelayedQueue._index_and_item is not own
    move_pairing.undo()
    assert DelayedQueue._index_and_item is own
