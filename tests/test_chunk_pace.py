"""Polling chunks near their expected end (jobs/chunking/pace.py), on a manual clock.

The rule alone (``next_delay``), one chunk's polls (``ChunkPolls``) and the chunk
runner in process with a real SQLite file and a backend at the contract whose
work takes 0.05 x the chunk's audio seconds, as a serverless endpoint's does
(bench/serverless_server.py). Waits advance the manual clock; no real second passes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dropscribe.backends.base import Done, Future, Outcome, Pending
from dropscribe.config import RemoteSettings, Settings
from dropscribe.jobs.chunking.pace import (
    EARLY,
    LATE,
    MIN_STEP_SECONDS,
    STEP,
    JobPace,
    next_delay,
)
from dropscribe.jobs.chunking.run import ChunkRun
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store import Job, Store
from tests.dispatch_rig import ManualClock
from tests.fake_backend import FakeBackend, transcription
from tests.test_chunk_run import planned_job

#: A chunk's work on the simulated endpoint, per second of its audio.
WORK_PER_AUDIO_SECOND = 0.05


def backoff(polls: int) -> float:
    """The futures backends' backoff at their defaults (backends/remote/futures.py)."""
    return min(15.0, 0.5 * 1.5**polls)


# --- the rule --------------------------------------------------------------------------


def test_without_a_forecast_the_backoff_is_kept() -> None:
    assert next_delay(12.0, None, 4.5) == 4.5


def test_before_the_expected_end_the_backoff_stops_at_its_early_share() -> None:
    # Expected 100 s: polls wait the backoff while it is short...
    assert next_delay(10.0, 100.0, 4.5) == 4.5
    # ...but no backoff carries a poll past 90 s.
    assert next_delay(80.0, 100.0, 15.0) == pytest.approx(EARLY * 100.0 - 80.0)


def test_near_the_expected_end_polls_come_every_step_of_it() -> None:
    for elapsed in (EARLY * 100.0, 100.0, LATE * 100.0 - 1.0):
        assert next_delay(elapsed, 100.0, 15.0) == pytest.approx(STEP * 100.0)
    # A short chunk is still not polled more often than the floor.
    assert next_delay(1.0, 1.0, 15.0) == MIN_STEP_SECONDS


def test_past_the_late_share_the_backoff_comes_back() -> None:
    assert next_delay(LATE * 100.0, 100.0, 0.75) == 0.75


def test_a_backend_whose_polls_wait_by_themselves_is_never_paced() -> None:
    """The local engine and the openai backend answer 0: their poll blocks."""
    assert next_delay(95.0, 100.0, 0.0) == 0.0


# --- one chunk's polls -------------------------------------------------------------------


class Sleeps:
    """An injected sleep that advances the manual clock and notes each wait."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        return False


def test_no_forecast_until_a_chunk_finished_then_the_jobs_own_speed() -> None:
    clock = ManualClock()
    pace = JobPace(clock, threading.Event(), Sleeps(clock))
    assert pace.expected(300.0) is None
    pace.finished(600.0, 30.0)
    pace.finished(200.0, 10.0)
    assert pace.expected(300.0) == pytest.approx(15.0)


def test_a_chunk_sent_before_a_restart_does_not_count_in_the_speed() -> None:
    clock = ManualClock()
    pace = JobPace(clock, threading.Event(), Sleeps(clock))
    resumed = pace.polls(600.0, clock() - 3600.0, FakeBackend("octoai"))  # a day's downtime
    resumed.finished(timed=False)
    assert pace.expected(600.0) is None


def test_a_finish_counts_at_the_middle_of_its_last_two_polls() -> None:
    clock = ManualClock()
    sent = clock()
    pace = JobPace(clock, threading.Event(), Sleeps(clock))
    polls = pace.polls(600.0, sent, FakeBackend("octoai"))
    clock.advance(20.0)
    polls.delay(1)  # the first poll, at 20 s, found it pending
    clock.advance(10.0)
    polls.finished()  # the second, at 30 s, found it done
    assert pace.expected(600.0) == pytest.approx(25.0)


def test_when_a_chunk_finishes_the_others_are_polled_at_once() -> None:
    clock = ManualClock()
    sleeps = Sleeps(clock)
    pace = JobPace(clock, threading.Event(), sleeps)
    waiting = pace.polls(600.0, clock(), FakeBackend("octoai"))
    other = pace.polls(600.0, clock(), FakeBackend("octoai"))
    waiting.delay(3)
    other.finished()
    assert waiting.sleep(15.0) is False
    assert sleeps.waits == []  # no wait: the poll comes now
    waiting.delay(4)
    waiting.sleep(2.0)
    assert sleeps.waits == [2.0]  # the next wait is a wait again


def test_a_real_wait_is_cut_short_by_a_finish() -> None:
    """Without an injected sleep the wait is on a condition that a finish notifies (the
    join's limit only keeps a broken wake-up from hanging the run)."""
    pace = JobPace(ManualClock(), threading.Event())
    polls = pace.polls(600.0, 0.0, FakeBackend("octoai"))
    polls.delay(1)
    waiter = threading.Thread(target=polls.sleep, args=(3600.0,))
    waiter.start()
    pace.finished(600.0, 30.0)
    waiter.join(30.0)
    assert not waiter.is_alive()


def test_a_real_wait_ends_when_the_job_is_told_to_stop() -> None:
    stopping = threading.Event()
    stopping.set()
    polls = JobPace(ManualClock(), stopping).polls(600.0, 0.0, FakeBackend("octoai"))
    assert polls.sleep(3600.0) is True


def test_a_chunk_later_than_forecast_backs_off_again_from_the_start() -> None:
    clock = ManualClock()
    pace = JobPace(clock, threading.Event(), Sleeps(clock))
    pace.finished(600.0, 10.0)

    class Backing(FakeBackend):
        def poll_delay(self, polls: int) -> float:
            return backoff(polls)

    sent = clock()
    polls = pace.polls(600.0, sent, Backing("octoai"))
    clock.advance(LATE * 10.0 + 0.1)
    assert polls.delay(9) == backoff(0)
    clock.advance(backoff(0))
    assert polls.delay(10) == backoff(1)


# --- through the chunk runner --------------------------------------------------------------


class ServerlessBackend(FakeBackend):
    """The contract's side of a serverless endpoint: each chunk is done once 0.05 x its
    audio seconds have passed since it was sent (bench/serverless_server.py's timing), and
    the futures backends' backoff between polls."""

    def __init__(self, clock: ManualClock, spans: dict[str, float]) -> None:
        super().__init__("octoai", concurrency=1, on_poll=self._answer)
        self.clock = clock
        #: Each request's audio seconds, by the time range in its name.
        self.spans = spans
        self.polled: dict[str, list[float]] = {}

    def poll_delay(self, polls: int) -> float:
        return backoff(polls)

    def _answer(self, future: Future) -> Outcome:
        number = int(future.remote_id.rsplit("-", 1)[1])
        label = self.requests[number - 1].relative_path.rsplit("[", 1)[1].rstrip("]")
        self.polled.setdefault(label, []).append(self.clock() - future.submitted_at)
        if self.clock() - future.submitted_at < WORK_PER_AUDIO_SECOND * self.spans[label]:
            return Pending()
        return Done(transcription(f"words of {label}"))


class NoLending:
    """Lends no slot: the chunks go one after another, so one thread moves the clock."""

    def borrow_slot(self, backend: str) -> bool:
        return False

    def return_slot(self, backend: str) -> None:
        raise AssertionError("nothing was lent")


@dataclass
class PacedRig:
    settings: Settings
    store: Store
    clock: ManualClock
    backend: ServerlessBackend
    job: Job
    workdir: Path
    stopping: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds: float) -> bool:
        self.clock.advance(seconds)
        return self.stopping.is_set()

    def run(self) -> Outcome | None:
        section = self.settings.backend_settings("octoai")
        assert isinstance(section, RemoteSettings)
        chunks = self.store.chunks.for_job(self.job.id)
        return ChunkRun(
            self.store,
            self.clock,
            self.stopping,
            NoLending(),
            self.settings.transcribe,
            self.job,
            self.backend,
            section,
            self.workdir,
            chunks,
            sleep=self.sleep,
        ).run()


#: Three chunks of ten minutes (30 s of work each), as "0:00-10:00" names them.
SPANS = {"0:00-10:00": 600.0, "10:00-20:00": 600.0, "20:00-30:00": 600.0}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[PacedRig]:
    sections: dict[str, dict[str, Any]] = {
        "transcribe": {"backend": "octoai"},
        "backends.octoai": {"concurrency": 1},
    }
    spans = [(start, start + 600.0) for start in (0.0, 600.0, 1200.0)]
    settings, store, clock, job, workdir = planned_job(tmp_path, sections, spans, "b" * 64)
    yield PacedRig(settings, store, clock, ServerlessBackend(clock, SPANS), job, workdir)
    store.close()


def test_once_a_chunk_finished_the_next_are_found_done_within_a_step(rig: PacedRig) -> None:
    assert isinstance(rig.run(), Done)
    assert [c.state for c in rig.store.chunks.for_job(rig.job.id)] == [ChunkState.DONE] * 3
    work = WORK_PER_AUDIO_SECOND * 600.0
    late = {label: polls[-1] - work for label, polls in rig.backend.polled.items()}
    first, *others = SPANS
    # The first has no forecast: the backoff finds it done seconds late (0.5 s x 1.5^n).
    assert rig.backend.polled[first][:3] == pytest.approx([0.5, 1.25, 2.375])
    assert late[first] > 5.0
    # The others are expected near 30 s and polled every 2 % of it around then.
    for label in others:
        assert 0.0 <= late[label] <= STEP * LATE * work
