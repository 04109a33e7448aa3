"""The chunk runner in process: a real SQLite file, a backend at the contract, a manual clock.

Waits (retry backoff, poll delays) advance the manual clock instead of sleeping,
so each run takes milliseconds however long the policy would have it wait. The
subprocess tests of tests/test_chunked_uploads.py cover the same runner behind
a real daemon and real servers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.config import RemoteSettings, Settings, load_settings
from dropscribe.errors import Permanent, Retryable, ServerDown
from dropscribe.jobs.chunking.run import ChunkRun
from dropscribe.jobs.states import ChunkState, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import Chunk, NewChunk
from tests.dispatch_rig import ManualClock
from tests.fake_backend import FakeBackend, transcription
from tests.helpers import write_config

#: Three chunks of ten minutes; their labels as requests name them.
SPANS = [(0.0, 600.0), (600.0, 1200.0), (1200.0, 1800.0)]
LABELS = ["0:00-10:00", "10:00-20:00", "20:00-30:00"]


def label_of(request: Request) -> str:
    """Return the chunk's time range, as its request names it (``long.wav [0:00-10:00]``)."""
    return request.relative_path.rsplit("[", 1)[1].rstrip("]")


class Lender:
    """Lends every slot asked for, counting them (the dispatcher's side of fairness)."""

    def __init__(self) -> None:
        self.lent = 0
        self.returned = 0

    def borrow_slot(self, backend: str) -> bool:
        self.lent += 1
        return True

    def return_slot(self, backend: str) -> None:
        self.returned += 1


@dataclass
class Script:
    """What the server answers for each chunk, by its label, one answer per poll."""

    answers: dict[str, list[Outcome]] = field(default_factory=dict)

    def poll(self, backend: FakeBackend) -> Callable[[Future], Outcome]:
        def answer(future: Future) -> Outcome:
            number = int(future.remote_id.rsplit("-", 1)[1])
            label = label_of(backend.requests[number - 1])
            queue = self.answers.get(label, [])
            return queue.pop(0) if queue else Done(transcription(f"words of {label}"))

        return answer


@dataclass
class ChunkRig:
    settings: Settings
    store: Store
    clock: ManualClock
    backend: FakeBackend
    script: Script
    lender: Lender
    job: Job
    workdir: Path
    stopping: threading.Event

    def sleep(self, seconds: float) -> bool:
        self.clock.advance(seconds)
        return self.stopping.is_set()

    def run(self) -> Outcome | None:
        section = self.settings.backend_settings("octoai")
        assert isinstance(section, RemoteSettings)
        return ChunkRun(
            self.store,
            self.clock,
            self.stopping,
            self.lender,
            self.settings.transcribe,
            self.job,
            self.backend,
            section,
            self.workdir,
            self.store.chunks.for_job(self.job.id),
            sleep=self.sleep,
        ).run()

    def chunks(self) -> list[Chunk]:
        return self.store.chunks.for_job(self.job.id)


def planned_job(
    tmp_path: Path,
    sections: dict[str, dict[str, Any]],
    spans: Sequence[tuple[float, float]],
    sha256: str,
) -> tuple[Settings, Store, ManualClock, Job, Path]:
    """A real store on a manual clock holding one claimed octoai job whose chunk plan is
    ``spans``, each with a small file in the returned upload folder."""
    settings = load_settings(write_config(tmp_path, sections))
    clock = ManualClock()
    store = Store(settings.paths.state, clock=clock)
    added = store.add_job(
        path="long.wav",
        sha256=sha256,
        size=10**8,
        mtime=0.0,
        output_name="long",
        backend="octoai",
        language="auto",
        task="transcribe",
        settings_key="k",
    )
    store.move(added.id, JobState.QUEUED, next_attempt_at=0.0)
    (job,) = store.claim("octoai", 1, clock())
    workdir = tmp_path / "uploads"
    workdir.mkdir()
    planned = []
    for idx, (start, end) in enumerate(spans):
        (workdir / f"{idx}.opus").write_bytes(b"OggS" * 10)
        planned.append(NewChunk(start, end, start, end, f"{idx}.opus", 40))
    store.chunks.replace_plan(job.id, "plan", planned)
    return settings, store, clock, job, workdir


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ChunkRig]:
    sections: dict[str, dict[str, Any]] = {
        "transcribe": {
            "backend": "octoai",
            "max_attempts": 3,
            "retry_base_seconds": 30.0,
            "retry_max_seconds": 300.0,
        },
        "backends.octoai": {"concurrency": 2},
    }
    settings, store, clock, claimed, workdir = planned_job(tmp_path, sections, SPANS, "a" * 64)
    backend = FakeBackend("octoai", concurrency=2)
    backend.clock = clock
    script = Script()
    backend.on_poll = script.poll(backend)
    made = ChunkRig(
        settings, store, clock, backend, script, Lender(), claimed, workdir, threading.Event()
    )
    yield made
    store.close()


def test_every_chunk_is_sent_once_and_its_result_saved(rig: ChunkRig) -> None:
    assert isinstance(rig.run(), Done)
    assert [c.state for c in rig.chunks()] == [ChunkState.DONE] * 3
    assert [c.attempts for c in rig.chunks()] == [1, 1, 1]
    assert sorted(label_of(r) for r in rig.backend.requests) == LABELS
    results = [c.result for c in rig.chunks()]
    assert all(r is not None and "words of" in str(r) for r in results)
    # Every slot borrowed beyond the job's own went back.
    assert rig.lender.lent == rig.lender.returned


def test_a_failing_chunk_waits_its_backoff_on_the_clock_and_is_sent_again(
    rig: ChunkRig,
) -> None:
    rig.script.answers[LABELS[1]] = [Pending(), Failed(Retryable("worker crashed"))]
    started = rig.clock()
    assert isinstance(rig.run(), Done)
    second = rig.chunks()[1]
    assert (second.state, second.attempts) == (ChunkState.DONE, 2)
    # The retry came after the policy's backoff (15-30 s for a first retry at base 30 s),
    # waited on the manual clock: no real second passed.
    assert rig.clock() - started >= 15.0
    assert len(rig.backend.requests) == 4


def test_a_chunk_out_of_attempts_fails_the_job_naming_its_time_range(rig: ChunkRig) -> None:
    rig.script.answers[LABELS[2]] = [Failed(Retryable("worker crashed"))] * 3
    outcome = rig.run()
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
    assert str(outcome.error) == (
        "The part from 20:00 to 30:00 failed after 3 attempts: worker crashed"
    )
    assert rig.chunks()[2].state == ChunkState.FAILED
    assert [c.state for c in rig.chunks()[:2]] == [ChunkState.DONE] * 2


def test_a_server_that_is_down_gives_the_chunk_attempt_back_and_stops_the_job(
    rig: ChunkRig,
) -> None:
    rig.script.answers[LABELS[0]] = [Failed(ServerDown("connection refused"))]
    outcome = rig.run()
    assert isinstance(outcome, Failed) and isinstance(outcome.error, ServerDown)
    first = rig.chunks()[0]
    assert (first.state, first.attempts, first.future) == (ChunkState.PENDING, 0, None)


def test_a_chunk_whose_future_is_gone_is_sent_again_without_spending_an_attempt(
    rig: ChunkRig,
) -> None:
    rig.script.answers[LABELS[0]] = [Gone("expired")]
    assert isinstance(rig.run(), Done)
    first = rig.chunks()[0]
    assert (first.state, first.attempts) == (ChunkState.DONE, 1)
    assert len(rig.backend.requests) == 4


def test_a_finished_chunk_is_never_sent_again_when_the_run_is_taken_up(rig: ChunkRig) -> None:
    rig.script.answers[LABELS[1]] = [Failed(ServerDown("connection refused"))]
    assert isinstance(rig.run(), Failed)
    finished = {LABELS[c.idx] for c in rig.chunks() if c.state == ChunkState.DONE}
    assert finished and LABELS[1] not in finished
    sent = len(rig.backend.requests)
    assert isinstance(rig.run(), Done)  # the job resumed after the pause
    again = {label_of(r) for r in rig.backend.requests[sent:]}
    assert LABELS[1] in again and not again & finished
