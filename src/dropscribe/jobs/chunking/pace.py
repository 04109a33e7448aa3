"""When to poll a chunk: near the moment it is expected to finish, from the job's own speed.

A serverless engine gives the chunks of one job about the same wall time per
second of audio (one model, one kind of worker). Once a chunk of the job has
finished, the others' ends can be foretold: each is expected ``audio seconds /
speed`` after it was sent. A chunk is then polled with the backend's usual
backoff, but never past :data:`EARLY` of its expected time; from there every
:data:`STEP` of it until :data:`LATE`; and past that with the backoff again,
from its start (a wrong forecast costs little more than the backoff alone).
Before any chunk has finished, the backoff alone. When a chunk finishes, the
chunks still waiting are polled at once: the chunks of a round end close
together, and the finish gave a new speed::

    pace = JobPace(clock, stopping)
    polls = pace.polls(400.0, future.submitted_at, backend)  # a chunk of 400 s of audio
    outcome = polls.outcome(backend, future, "octoai", limit, on_pending)
    polls.finished()  # when it is Done: the job's speed counts it

The speed counts each finish at the middle of its last two polls (between the
last "pending" and the "done"), so that the backoff's lateness on the first
chunk does not carry over into every forecast after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dropscribe.backends.base import Backend, Future, Outcome, Pending
from dropscribe.jobs.runner import await_outcome

#: A chunk is polled with the backoff, but never past this share of its expected time...
EARLY = 0.9
#: ...then every this share of it...
STEP = 0.02
#: ...until this share, and with the backoff again after it.
LATE = 1.25
#: The shortest wait between polls near the expected end (a few polls of a short chunk
#: are enough; a request costs the server more than so little time).
MIN_STEP_SECONDS = 0.2
#: How often a wait looks whether the job is told to stop.
STOP_CHECK_SECONDS = 0.5


def next_delay(elapsed: float, expected: float | None, backoff: float) -> float:
    """Return how long to wait before polling a chunk sent ``elapsed`` seconds ago.

    ``expected``: the seconds it is expected to take (None: no forecast yet);
    ``backoff``: the backend's own delay for this poll (0 for a backend whose
    polls wait by themselves: it stays 0).
    """
    if expected is None or backoff <= 0:
        return backoff
    early, late = EARLY * expected, LATE * expected
    if elapsed < early - MIN_STEP_SECONDS:  # (a poll a hair before EARLY starts the steps)
        return min(backoff, early - elapsed)
    if elapsed < late:
        return max(STEP * expected, MIN_STEP_SECONDS)
    return backoff


class JobPace:
    """The speed of one job's finished chunks, and the waits between their polls.

    Thread-safe: each chunk is polled from a thread of its own. ``sleep`` (a test's
    manual clock) replaces the real wait; a finish then makes the next wait of
    every other chunk return at once instead of cutting it short.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        stopping: threading.Event,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.clock = clock
        self.stopping = stopping
        self.sleep = sleep
        self._changed = threading.Condition()
        #: How many chunks have finished; a wait begun before a finish ends at it.
        self.finishes = 0
        self._audio = 0.0
        self._wall = 0.0

    def expected(self, audio_seconds: float) -> float | None:
        """Return the seconds a chunk of ``audio_seconds`` is expected to take (None: no
        chunk has finished yet)."""
        with self._changed:
            if self._audio <= 0 or self._wall <= 0:
                return None
            return audio_seconds * self._wall / self._audio

    def polls(self, audio_seconds: float, submitted_at: float, backend: Backend) -> ChunkPolls:
        """Return the polls of one chunk sent at ``submitted_at`` to ``backend`` (whose
        ``poll_delay`` is the backoff)."""
        return ChunkPolls(self, audio_seconds, submitted_at, backend.poll_delay)

    def finished(self, audio_seconds: float, wall_seconds: float) -> None:
        """Note that a chunk took ``wall_seconds`` (0: unknown, as for one sent before a
        restart), and wake the chunks still waiting."""
        with self._changed:
            if wall_seconds > 0:
                self._audio += audio_seconds
                self._wall += wall_seconds
            self.finishes += 1
            self._changed.notify_all()

    def rest(self, seconds: float, seen: int) -> bool:
        """Wait ``seconds``, or until a chunk finishes after the ``seen``-th or the job is
        told to stop; return whether to stop."""
        if self.finishes != seen:
            return self.stopping.is_set()
        if self.sleep is not None:
            return self.sleep(seconds)
        until = time.monotonic() + seconds
        with self._changed:
            while self.finishes == seen and not self.stopping.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, STOP_CHECK_SECONDS))
        return self.stopping.is_set()


class ChunkPolls:
    """One chunk's polls: the delay before each, and the wait that a finish cuts short."""

    def __init__(
        self,
        pace: JobPace,
        audio_seconds: float,
        submitted_at: float,
        backoff: Callable[[int], float],
    ) -> None:
        self.pace = pace
        self.audio_seconds = audio_seconds
        self.submitted_at = submitted_at
        self.backoff = backoff
        #: When the chunk was last seen not finished (at first: when it was sent).
        self.last_pending = submitted_at
        #: The number of the first poll past LATE (the backoff starts again from it).
        self.late_from: int | None = None
        self.seen = pace.finishes

    def delay(self, polls: int) -> float:
        """Return how long to wait before poll number ``polls`` (``await_outcome`` asks
        right after the poll before it came back pending)."""
        now = self.pace.clock()
        if polls:
            self.last_pending = now
        self.seen = self.pace.finishes
        elapsed = now - self.submitted_at
        expected = self.pace.expected(self.audio_seconds)
        if expected is None or elapsed < LATE * expected:
            self.late_from = None
            return next_delay(elapsed, expected, self.backoff(polls))
        if self.late_from is None:
            self.late_from = polls
        return next_delay(elapsed, expected, self.backoff(polls - self.late_from))

    def outcome(
        self,
        backend: Backend,
        future: Future,
        name: str,
        limit: float | None,
        on_pending: Callable[[Pending], None] | None = None,
    ) -> Outcome | None:
        """Poll ``future`` at this pace until it has an outcome: :func:`await_outcome`'s
        answer (None: told to stop)."""
        stopping, clock = self.pace.stopping, self.pace.clock
        return await_outcome(
            backend, future, name, limit, stopping, clock, on_pending, self.sleep, delay=self.delay
        )

    def sleep(self, seconds: float) -> bool:
        """Wait before the next poll (no wait when a chunk finished since the last one);
        return whether to stop."""
        return self.pace.rest(seconds, self.seen)

    def finished(self, timed: bool = True) -> None:
        """The last poll found the chunk done: count its time in the job's speed, unless
        not ``timed`` (sent before a restart: its time includes the daemon's downtime)."""
        took = (self.last_pending + self.pace.clock()) / 2 - self.submitted_at
        self.pace.finished(self.audio_seconds, took if timed else 0.0)
