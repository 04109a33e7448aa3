"""One try of one file, from the upload limit to an outcome; shared by the daemon and
``dropscribe transcribe``.

The steps: pick the backend whose upload limit the file fits (following each
backend's ``fallback``), submit, then poll with the backend's backoff until an
outcome, the deadline of the backend's section, or a stop. What to do after a
failure is :func:`dropscribe.jobs.retry_policy.decide`'s answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dropscribe.backends.base import Backend, Failed, Future, Outcome, Pending, Request
from dropscribe.backends.registry import create_backend
from dropscribe.config import RemoteSettings, Settings
from dropscribe.errors import Permanent, Retryable

#: How long one poll may block on a backend that can wait (the local engine).
POLL_WAIT = 0.5

BackendFactory = Callable[[str, Settings], Backend]


def human_size(size: int) -> str:
    """Return ``size`` in bytes as people read it: "900 bytes", "1.5 MB"."""
    return f"{size} bytes" if size < 100_000 else f"{size / 2**20:.1f} MB"


class Runner:
    """The backends in use, created on first need, and the steps of one try."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        clock: Callable[[], float] = time.time,
        factory: BackendFactory = create_backend,
        backends: dict[str, Backend] | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.factory = factory
        self.backends: dict[str, Backend] = dict(backends or {})
        self.stopping = stopping or threading.Event()
        self._lock = threading.Lock()

    def backend(self, name: str) -> Backend:
        """Return the backend called ``name``, created from the current settings on first use.

        Raises:
            KeyError: no backend has that name; ImportError: its library is missing.
        """
        with self._lock:
            if name not in self.backends:
                self.backends[name] = self.factory(name, self.settings())
            return self.backends[name]

    def known(self, name: str) -> Backend | None:
        """Return the backend called ``name`` if it was created already."""
        return self.backends.get(name)

    def route(self, name: str, size: int) -> str:
        """Return the backend that takes a file of ``size`` bytes: ``name``, or the first
        fallback along its chain whose upload limit the file fits.

        Raises:
            Permanent: the file is over the limit and there is no fallback left.
        """
        seen = []
        while True:
            backend = self.backend(name)
            limit = backend.max_upload_bytes
            if limit is None or size <= limit:
                return name
            seen.append(name)
            if not backend.fallback or backend.fallback in seen:
                raise Permanent(
                    f"The file is {human_size(size)}, over the {human_size(limit)} upload "
                    f"limit of the {name} backend; set backends.{name}.fallback to "
                    "another backend or split the file."
                )
            name = backend.fallback

    def submit(self, name: str, request: Request) -> Future:
        """Hand the file to the backend; raise what its ``submit`` raises."""
        return self.backend(name).submit(request)

    def wait(
        self,
        name: str,
        future: Future,
        on_pending: Callable[[Pending], None] | None = None,
    ) -> Outcome | None:
        """Poll ``future`` with its backend's backoff until it has an outcome.

        Returns None when told to stop first. A future past its backend's
        ``deadline_seconds`` comes back as a Retryable failure.
        """
        section = self.settings().backend_settings(name)
        limit = section.deadline_seconds if isinstance(section, RemoteSettings) else None
        return await_outcome(
            self.backend(name), future, name, limit, self.stopping, self.clock, on_pending
        )

    def close(self) -> None:
        with self._lock:
            backends, self.backends = list(self.backends.values()), {}
        for backend in backends:
            backend.close()


def await_outcome(
    backend: Backend,
    future: Future,
    name: str,
    limit: float | None,
    stopping: threading.Event,
    clock: Callable[[], float],
    on_pending: Callable[[Pending], None] | None = None,
    sleep: Callable[[float], bool] | None = None,
    *,
    delay: Callable[[int], float] | None = None,
) -> Outcome | None:
    """Poll ``future`` with ``backend``'s backoff until it has an outcome: the one polling
    loop of whole files and chunks alike.

    Returns None when ``stopping`` is set first. A future older than ``limit`` seconds
    comes back as a Retryable failure. ``sleep(seconds)`` waits between polls and says
    whether to stop (``stopping.wait``; a test's manual clock advances instead).
    ``delay(polls)`` says how long to wait before each poll (the backend's
    ``poll_delay``; the chunks of a job poll near their expected end, jobs/chunking/pace.py).
    """
    deadline = None if limit is None else future.submitted_at + limit
    pause = sleep or stopping.wait
    delay_before = delay or backend.poll_delay
    polls = 0
    while not stopping.is_set():
        wait = delay_before(polls)
        if wait and pause(wait):
            break
        outcome = backend.poll(future, POLL_WAIT)
        polls += 1
        if not isinstance(outcome, Pending):
            return outcome
        if on_pending is not None:
            on_pending(outcome)
        if limit is not None and deadline is not None and clock() > deadline:
            return Failed(
                Retryable(
                    f"No result within {limit:.0f} s "
                    f"(backends.{name}.deadline_seconds); it will be submitted again."
                )
            )
    return None
