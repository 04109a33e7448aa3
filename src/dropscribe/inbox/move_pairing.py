"""Pair inotify's "moved from" and "moved to" events in constant time.

watchdog pairs the two halves of a rename by searching its queue of pending
events from the oldest, for the "moved from" with the same cookie. The
matching half was almost always queued just before, at the other end. When
files arrive in bursts (an uploader writing ``.name.part`` then renaming it,
thousands at once: rsync, a sync client, the pipeline benchmark) the queue
holds thousands of events and every rename scans all of them: a third of the
daemon's Python time at 3,000 renamed files (py-spy, bench/README.md).

Cookies are unique to one rename, so the first match and the newest match
are the same event: searching from the newest end changes nothing but the
cost. It was written for watchdog 7 (``pyproject.toml`` pins ``>=7,<8``) and
is applied by the watcher when it starts, which logs whether it did
(``watchdog_move_pairing``); other versions, or a queue without the method it
replaces, keep their own search. Proposed upstream:
``patches/watchdog-move-pairing.patch``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from watchdog.utils import delayed_queue

#: The watchdog major versions whose ``DelayedQueue._index_and_item`` this replaces.
WRITTEN_FOR = (7,)


def _index_and_item_newest_first(
    self: Any, predicate: Callable[[Any], bool]
) -> tuple[int, Any] | None:
    """Return the index and value of the newest queued item for which ``predicate`` holds."""
    queued = self._queue
    last = len(queued) - 1
    for offset, (element, *_) in enumerate(reversed(queued)):
        if predicate(element):
            return last - offset, element
    return None


def watchdog_version() -> str | None:
    try:
        return version("watchdog")
    except PackageNotFoundError:
        return None


def applies_to(watchdog: str | None) -> bool:
    """Return whether the patch was written for this watchdog version."""
    major = (watchdog or "").split(".", 1)[0]
    return major.isdigit() and int(major) in WRITTEN_FOR


def apply() -> bool:
    """Make watchdog search its pending events from the newest; return whether it does."""
    queue_class = getattr(delayed_queue, "DelayedQueue", None)
    if queue_class is None or not hasattr(queue_class, "_index_and_item"):
        return False
    if not applies_to(watchdog_version()):
        return False
    if queue_class._index_and_item is not _index_and_item_newest_first:
        _replaced.append(queue_class._index_and_item)
        queue_class._index_and_item = _index_and_item_newest_first
    return True


#: watchdog's own search, kept while the patch is in place.
_replaced: list[Callable[..., object]] = []


def undo() -> None:
    """Give watchdog its own search back (tests: nothing outlives the test that applied it)."""
    if _replaced:
        queue_class: Any = delayed_queue.DelayedQueue  # the attribute is private to watchdog
        queue_class._index_and_item = _replaced.pop()
