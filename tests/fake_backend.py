"""A backend at the contract, for in-process tests of the dispatcher.

Like httpx's ``MockTransport``: the test hands in a plain function that answers
each poll (``Pending``, ``Done``, ``Failed`` or ``Gone``); submissions are
recorded, and ``on_submit`` may raise what a real backend would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from dropscribe.backends.base import Done, Future, Outcome, Request
from dropscribe.transcript import Transcription, make_segment, make_word


def transcription(text: str = "hello there") -> Transcription:
    words = [make_word(w, n * 0.5, n * 0.5 + 0.4, 0.9) for n, w in enumerate(text.split())]
    segment = make_segment(text, 0.0, len(words) * 0.5, words)
    return Transcription([segment], "en", len(words) * 0.5, 1.0)


def done(_future: Future) -> Outcome:
    return Done(transcription())


class FakeBackend:
    """Answers with ``on_poll(future)``; ``on_submit(request)`` may raise a BackendError."""

    model_name: str | None = "fake"

    def __init__(
        self,
        name: str = "local",
        *,
        on_poll: Callable[[Future], Outcome] = done,
        on_submit: Callable[[Request], None] | None = None,
        concurrency: int = 2,
        max_upload_bytes: int | None = None,
        fallback: str | None = None,
        holds_work_in_process: bool | None = None,
    ) -> None:
        self.name = name
        #: Like the real one of that name, unless told: only the local engine's work
        #: lives in this process among the fakes' usual names.
        self.holds_work_in_process = (
            name in ("local", "openai") if holds_work_in_process is None else holds_work_in_process
        )
        self.on_poll = on_poll
        self.on_submit = on_submit
        self.concurrency = concurrency
        self.max_upload_bytes = max_upload_bytes
        self.fallback = fallback
        self.requests: list[Request] = []
        self.closed = False
        #: Stamps futures; a test with a manual clock sets it.
        self.clock: Callable[[], float] = time.time
        self._lock = threading.Lock()

    def settings_fingerprint(self) -> dict[str, Any]:
        return {"fake": self.name}

    def check(self) -> list[str]:
        return []

    def submit(self, request: Request) -> Future:
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
        if self.on_submit is not None:
            self.on_submit(request)
        return Future(self.name, f"{request.job_id}-{number}", submitted_at=self.clock())

    def poll(self, future: Future, wait: float) -> Outcome:
        return self.on_poll(future)

    def poll_delay(self, polls: int) -> float:
        return 0.0

    def close(self) -> None:
        self.closed = True
