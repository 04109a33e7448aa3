"""The dispatcher in process: fake backends at the contract, a manual clock, the real
store and outbox. Retries, pauses, fallback, limits, shutdown hand-back."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Pending
from dropscribe.errors import BadInput, RateLimited, Retryable, ServerDown, ServerTrouble
from dropscribe.jobs.states import JobState
from dropscribe.outbox.document import load_schema
from tests.dispatch_rig import Rig
from tests.fake_backend import FakeBackend, transcription


def script(*outcomes: Outcome) -> FakeBackend:
    """A backend whose polls answer ``outcomes`` in turn, then Done."""
    answers = list(outcomes)

    def answer(_future: Future) -> Outcome:
        return answers.pop(0) if answers else Done(transcription())

    return FakeBackend(on_poll=answer)


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()


def rig_for(
    rigs: list[Rig], tmp_path: Path, backends: dict[str, FakeBackend], **transcribe: object
) -> Rig:
    sections = {"transcribe": {"retry_base_seconds": 10, "retry_max_seconds": 100, **transcribe}}
    rig = Rig(tmp_path, dict(backends), sections)
    rigs.append(rig)
    return rig


def test_a_transient_failure_is_retried_after_its_backoff(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = rig_for(rigs, tmp_path, {"local": script(Failed(Retryable("worker crashed")))})
    job = rig.add("a.wav")
    rig.step()
    waiting = rig.job(job)
    assert (waiting.state, waiting.attempts) == (JobState.QUEUED, 1)
    assert 5 <= waiting.next_attempt_at - rig.clock() <= 10  # half to all of the base delay
    assert rig.step() == 0  # not due yet
    rig.clock.advance(10)
    rig.step()
    finished = rig.job(job)
    assert (finished.state, finished.attempts) == (JobState.DONE, 2)
    assert json.loads((rig.settings.paths.outbox / "a.json").read_text())["transcription"]
    assert rig.dispatcher.retries == 1


def test_attempts_used_up_fail_the_file_with_an_error_sidecar(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    crash = Failed(Retryable("worker crashed"))
    rig = rig_for(rigs, tmp_path, {"local": script(crash, crash)}, max_attempts=2)
    job = rig.add("b.wav")
    rig.step()
    rig.clock.advance(100)
    rig.step()
    assert rig.job(job).state == JobState.FAILED
    report = json.loads((rig.settings.paths.outbox / "b.error.json").read_text())
    assert report["error"] == "Gave up after 2 attempts: worker crashed"
    assert (rig.settings.paths.failed / "b.wav").exists()


def test_a_429_waits_as_asked_and_never_spends_an_attempt(tmp_path: Path, rigs: list[Rig]) -> None:
    slow_down = Failed(RateLimited("429", retry_after=30.0))
    rig = rig_for(
        rigs, tmp_path, {"local": script(slow_down, slow_down, slow_down)}, max_attempts=1
    )
    job = rig.add("c.wav")
    for _ in range(3):
        rig.step()
        waiting = rig.job(job)
        assert (waiting.state, waiting.attempts) == (JobState.QUEUED, 0)
        assert waiting.next_attempt_at == rig.clock() + 30.0
        rig.clock.advance(30)
    rig.step()
    assert (rig.job(job).state, rig.job(job).attempts) == (JobState.DONE, 1)


def test_server_trouble_counts_against_the_file_only_after_the_budget(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    trouble = Failed(ServerTrouble("503"))
    rig = rig_for(
        rigs,
        tmp_path,
        {"local": script(*[trouble] * 4)},
        max_attempts=2,
        transient_budget_seconds=250,
    )
    job = rig.add("d.wav")
    for _ in range(3):  # 0 s, 100 s, 200 s into the trouble: within the budget
        rig.step()
        assert rig.job(job).attempts == 0
        rig.clock.advance(100)
    rig.step()  # 300 s: past the budget, this try counts
    assert (rig.job(job).state, rig.job(job).attempts) == (JobState.QUEUED, 1)
    rig.clock.advance(100)
    rig.step()
    assert rig.job(job).state == JobState.DONE


def test_an_unreachable_backend_pauses_and_its_jobs_keep_their_attempts(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    down = threading.Event()
    down.set()

    def submit(_request: object) -> None:
        if down.is_set():
            raise ServerDown("The local server cannot be reached.")

    backend = FakeBackend(on_submit=submit, concurrency=1)
    rig = rig_for(rigs, tmp_path, {"local": backend})
    first, second = rig.add("e1.wav"), rig.add("e2.wav")
    rig.step()
    assert [rig.job(j).attempts for j in (first, second)] == [0, 0]
    assert len(backend.requests) == 1  # the pause holds the second job back
    rig.clock.advance(1)
    assert rig.step() == 0
    down.clear()
    rig.clock.advance(10)
    rig.step()
    rig.step()
    assert [rig.job(j).state for j in (first, second)] == [JobState.DONE, JobState.DONE]
    assert [rig.job(j).attempts for j in (first, second)] == [1, 1]


def test_a_file_over_the_upload_limit_moves_to_the_fallback(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    remote = FakeBackend("openai", max_upload_bytes=50, fallback="local")
    local = FakeBackend("local")
    rig = rig_for(rigs, tmp_path, {"openai": remote, "local": local})
    small, large = rig.add("small.wav", "openai", size=10), rig.add("large.wav", "openai")
    rig.step()
    rig.step()
    assert [r.relative_path for r in remote.requests] == ["small.wav"]
    assert [r.relative_path for r in local.requests] == ["large.wav"]
    moved = rig.job(large)
    assert (moved.backend, moved.state, moved.attempts) == ("local", JobState.DONE, 1)
    assert rig.job(small).state == JobState.DONE


def test_a_file_over_the_limit_without_fallback_fails_saying_what_to_set(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = rig_for(rigs, tmp_path, {"openai": FakeBackend("openai", max_upload_bytes=50)})
    job = rig.add("big.wav", "openai")
    rig.step()
    assert rig.job(job).state == JobState.FAILED
    assert "set backends.openai.fallback" in (rig.job(job).error or "")


def test_a_gone_future_is_submitted_again_without_spending_an_attempt(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    backend = script(Gone("the worker restarted"))
    rig = rig_for(rigs, tmp_path, {"local": backend}, max_attempts=1)
    job = rig.add("g.wav")
    rig.step()
    rig.step()
    assert (rig.job(job).state, rig.job(job).attempts, len(backend.requests)) == (
        JobState.DONE,
        1,
        2,
    )


def test_bad_input_fails_at_once(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = rig_for(rigs, tmp_path, {"local": script(Failed(BadInput("The file is not audio.")))})
    job = rig.add("noise.wav")
    rig.step()
    assert (rig.job(job).state, rig.job(job).error) == (JobState.FAILED, "The file is not audio.")


def test_on_shutdown_work_held_here_goes_back_and_remote_futures_stay(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    """The backend says whether its work lives in this process: the local engine's and
    an OpenAI request's do (back to the queue), a RunPod job's does not (future kept)."""
    busy = threading.Semaphore(0)

    def pending(_future: Future) -> Outcome:
        busy.release()
        return Pending()

    backends = {name: FakeBackend(name, on_poll=pending) for name in ("local", "openai", "runpod")}
    rig = rig_for(rigs, tmp_path, dict(backends))
    here, open_request = rig.add("here.wav"), rig.add("open.wav", "openai")
    there = rig.add("there.wav", "runpod")
    rig.dispatcher.pump(rig.clock())
    for _ in backends:
        assert busy.acquire(timeout=5)
    rig.dispatcher.stop(grace=5)
    for held in (here, open_request):
        handed_back = rig.job(held)
        assert (handed_back.state, handed_back.attempts) == (JobState.QUEUED, 0)
    kept = rig.job(there)
    assert kept.state == JobState.RUNNING and kept.future is not None
    assert rig.dispatcher.in_flight() == 0
    assert all(backend.closed for backend in backends.values())


def test_each_backend_declares_whether_its_work_lives_in_this_process() -> None:
    from dropscribe.backends.local.backend import LocalBackend
    from dropscribe.backends.registry import backend_class
    from dropscribe.backends.remote.openai import OpenAIBackend

    assert LocalBackend.holds_work_in_process and OpenAIBackend.holds_work_in_process
    for name in ("octoai", "runpod", "replicate"):
        assert backend_class(name).holds_work_in_process is False


@pytest.mark.parametrize("recorded", ["", hashlib.sha256(b"").hexdigest()])
def test_a_retried_file_refused_at_intake_is_hashed_before_it_is_sent(
    tmp_path: Path, rigs: list[Rig], recorded: str
) -> None:
    """Intake records "" for a file it could not read (permission denied, say) and the
    empty content's hash for an empty file; once the file is readable or filled and
    retried, its transcript carries its real hash and its result is stored under that
    hash, never under a key all such files share."""
    rig = rig_for(rigs, tmp_path, {"local": FakeBackend()})
    job = rig.add("refused.wav", size=100, sha256=recorded)
    rig.step()
    assert rig.job(job).state == JobState.DONE
    expected = hashlib.sha256(b"x" * 100).hexdigest()
    document = json.loads((rig.settings.paths.outbox / "refused.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["source"]["sha256"] == expected
    assert rig.job(job).sha256 == expected
    assert rig.store.result_for(expected, "k") is not None


def test_results_are_never_kept_under_an_empty_hash(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = rig_for(rigs, tmp_path, {"local": FakeBackend()})
    job = rig.add("nohash.wav", sha256="")
    with pytest.raises(ValueError, match="hash"):
        rig.store.result_for("", "k")
    with pytest.raises(ValueError, match="hash"):
        rig.store.save_result(job.id, transcription().to_dict())
