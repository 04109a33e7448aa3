"""What the dispatcher counts and remembers across job threads, each behind a lock."""

from __future__ import annotations

import threading
from collections import Counter

from dropscribe.errors import BadInput, DropscribeError, Retryable, ServerDown


def error_kind(error: DropscribeError) -> str:
    """Return the metrics label of an error: bad_input, permanent, server_down or retryable."""
    if isinstance(error, BadInput):
        return "bad_input"
    if isinstance(error, ServerDown):
        return "server_down"
    if isinstance(error, Retryable):
        return "retryable"
    return "permanent"


class JobCounters:
    """Retries and backend errors since the start, changed by many job threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._retries = 0
        self._errors: Counter[tuple[str, str]] = Counter()

    def count_error(self, backend: str, error: DropscribeError) -> None:
        with self._lock:
            self._errors[backend, error_kind(error)] += 1

    def count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    @property
    def backend_errors(self) -> dict[tuple[str, str], int]:
        """Return a snapshot: (backend, kind) -> errors."""
        with self._lock:
            return dict(self._errors)


class BackendPauses:
    """Backends that could not be reached: each takes no new jobs until its time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._downs: Counter[str] = Counter()
        self._until: dict[str, float] = {}

    def downs(self, backend: str) -> int:
        """Return how many times in a row ``backend`` could not be reached."""
        with self._lock:
            return self._downs[backend]

    def pause(self, backend: str, until: float) -> None:
        with self._lock:
            self._downs[backend] += 1
            self._until[backend] = until

    def clear(self, backend: str) -> None:
        """The backend answered: it is up again."""
        with self._lock:
            self._downs.pop(backend, None)
            self._until.pop(backend, None)

    def until(self, backend: str) -> float:
        """Return when ``backend`` takes jobs again (0 when it is not paused)."""
        with self._lock:
            return self._until.get(backend, 0.0)
