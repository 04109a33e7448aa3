"""When a file is finished: quiet for ``settle_seconds`` with size and mtime unchanged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    size: int
    mtime: float
    quiet_since: float


class StabilityTracker:
    """Tracks candidate files until they have been quiet long enough.

    Pure: it is handed the clock and the file's size and mtime, and never
    touches the file system. A file whose mtime is already older than the
    settle time when first seen (moved in, or found at start-up) is ready at once.
    """

    def __init__(self, settle_seconds: float) -> None:
        self.settle = settle_seconds
        self._files: dict[str, Observation] = {}

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, path: str) -> bool:
        return path in self._files

    def observe(self, path: str, size: int, mtime: float, now: float) -> None:
        """Record the file's current size and mtime; any change restarts its quiet time."""
        seen = self._files.get(path)
        if seen is None:
            # An mtime in the future (clock skew, preserved times) proves nothing.
            quiet_since = mtime if mtime <= now else now
            self._files[path] = Observation(size, mtime, quiet_since)
        elif (seen.size, seen.mtime) != (size, mtime):
            self._files[path] = Observation(size, mtime, now)

    def forget(self, path: str) -> None:
        self._files.pop(path, None)

    def due(self, now: float) -> list[str]:
        """Return the files quiet for long enough; the caller re-checks and then forgets them."""
        return [p for p, seen in self._files.items() if now - seen.quiet_since >= self.settle]

    def matches(self, path: str, size: int, mtime: float) -> bool:
        seen = self._files.get(path)
        return seen is not None and (seen.size, seen.mtime) == (size, mtime)

    def next_deadline(self) -> float | None:
        """Return the earliest time a tracked file can become ready."""
        if not self._files:
            return None
        return min(seen.quiet_since for seen in self._files.values()) + self.settle
