"""The real embedded engine (faster-whisper, bundled tiny.en) on the project's own speech."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.config import load_settings
from dropscribe.errors import BadInput, Permanent, Retryable
from dropscribe.outbox.document import build_document, load_schema
from tests.helpers import AUDIO, reference, word_error_rate, write_config


def settle(backend: LocalBackend, request: Request, timeout: float = 90) -> Outcome:
    future = backend.submit(request)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = backend.poll(future, 0.5)
        if not isinstance(outcome, Pending):
            return outcome
    raise AssertionError("the engine gave no outcome in time")


def request(
    path: Path, job_id: int = 1, language: str = "auto", task: str = "transcribe"
) -> Request:
    size = path.stat().st_size if path.exists() else 0
    return Request(job_id, path, path.name, size, language, task)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    directory = tmp_path_factory.mktemp("engine")
    backend = LocalBackend(load_settings(write_config(directory)))
    yield backend
    backend.close()


@pytest.mark.parametrize("name", ["weather.mp3", "numbers.wav", "fox.wav"])
def test_speech_is_transcribed_with_a_low_word_error_rate(engine: LocalBackend, name: str) -> None:
    outcome = settle(engine, request(AUDIO / name))
    assert isinstance(outcome, Done), outcome
    result = outcome.result
    # tiny.en int8 mishears a word or two of espeak; the bound catches junk.
    assert word_error_rate(reference(name.rsplit(".", 1)[0]), result.text) < 0.35
    assert result.language == "en"
    assert result.duration == pytest.approx(
        {"weather.mp3": 4.63, "numbers.wav": 3.49, "fox.wav": 7.05}[name], abs=0.1
    )
    assert result.prediction_time_ms > 0


def test_words_carry_times_and_probabilities_in_the_transcript_format(
    engine: LocalBackend,
) -> None:
    outcome = settle(engine, request(AUDIO / "weather.wav"))
    assert isinstance(outcome, Done)
    document = build_document(
        outcome.result, source_path="weather.wav", sha256="0" * 64, size=1, backend="local"
    )
    jsonschema.validate(document, load_schema())
    words = document["response"]["word_segments"]
    assert len(words) >= 10
    assert all(w["score"] is not None and 0 <= w["score"] <= 1 for w in words)
    assert all(w["start"] <= w["end"] for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert document["engine"] == {"backend": "local", "model": "tiny.en"}


def test_a_corrupt_file_gets_a_clear_error_and_the_next_file_still_works(
    engine: LocalBackend, tmp_path: Path
) -> None:
    corrupt = tmp_path / "noise.wav"
    corrupt.write_bytes(os.urandom(50_000))
    outcome = settle(engine, request(corrupt, job_id=10))
    assert isinstance(outcome, Failed) and isinstance(outcome.error, BadInput)
    assert "could not be decoded as audio" in str(outcome.error)
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes((AUDIO / "weather.mp3").read_bytes()[:600])
    outcome = settle(engine, request(truncated, job_id=11))
    assert isinstance(outcome, Failed) and isinstance(outcome.error, BadInput)
    good = settle(engine, request(AUDIO / "numbers.wav", job_id=12))
    assert isinstance(good, Done)


def test_a_file_gone_before_decoding_is_reported_as_such(
    engine: LocalBackend, tmp_path: Path
) -> None:
    outcome = settle(engine, request(tmp_path / "vanished.wav", job_id=13))
    assert isinstance(outcome, Failed) and "disappeared" in str(outcome.error)


def test_an_english_only_model_refuses_to_translate_or_hear_french(engine: LocalBackend) -> None:
    with pytest.raises(Permanent, match="only transcribes English"):
        engine.submit(request(AUDIO / "weather.wav", task="translate"))
    with pytest.raises(Permanent, match='only knows English but language "fr"'):
        engine.submit(request(AUDIO / "weather.wav", language="fr"))


def test_a_killed_worker_fails_its_file_retryably_and_a_fresh_worker_takes_over(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(load_settings(write_config(tmp_path)))
    try:
        long_file = tmp_path / "long.wav"
        shutil.copy(AUDIO / "long_reading.flac", long_file)
        future = backend.submit(request(long_file, job_id=1))
        waiting = backend.submit(request(AUDIO / "numbers.wav", job_id=2))
        pid = int(future.data["pid"])
        # Wait until the worker is inside the long file, then kill it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            outcome = backend.poll(future, 0.2)
            if isinstance(outcome, Pending) and outcome.duration:
                break
        os.kill(pid, signal.SIGKILL)
        outcome = backend.poll(future, 10)
        assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
        assert "stopped unexpectedly" in str(outcome.error)
        assert isinstance(backend.poll(waiting, 5), Gone)  # not its fault: no attempt lost
        again = settle(backend, request(AUDIO / "numbers.wav", job_id=3))
        assert isinstance(again, Done)
    finally:
        backend.close()


def started(backend: LocalBackend, future: Future) -> bool:
    outcome = backend.poll(future, 0.05)
    return isinstance(outcome, Pending) and outcome.duration is not None


def test_one_worker_transcribes_files_side_by_side_and_a_crash_charges_only_those(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, {"backends.local": {"cpu_threads": 1, "parallel_decodes": 2}})
    backend = LocalBackend(load_settings(config))
    try:
        assert backend.concurrency == 3  # two decodes and one file decoded ahead
        first, second = tmp_path / "first.flac", tmp_path / "second.flac"
        shutil.copy(AUDIO / "long_reading.flac", first)
        shutil.copy(AUDIO / "long_reading.flac", second)
        futures = [backend.submit(request(path, job_id=n)) for n, path in ((1, first), (2, second))]
        queued = backend.submit(request(AUDIO / "numbers.wav", job_id=3))
        assert len({f.data["pid"] for f in futures}) == 1  # the same worker
        deadline = time.monotonic() + 60
        while not all(started(backend, f) for f in futures):
            assert time.monotonic() < deadline, "the two files never ran side by side"
        os.kill(int(futures[0].data["pid"]), signal.SIGKILL)
        for future in futures:
            outcome = backend.poll(future, 10)
            assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
        assert isinstance(backend.poll(queued, 5), Gone)  # it was only waiting
        again = settle(backend, request(AUDIO / "numbers.wav", job_id=4))
        assert isinstance(again, Done)
    finally:
        backend.close()


def test_a_worker_past_its_time_limit_is_stopped(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"backends.local": {"timeout_seconds": 0.5}})
    backend = LocalBackend(load_settings(config))
    try:
        outcome = settle(backend, request(AUDIO / "long_reading.flac"))
        assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
        assert "longer than 0 s" in str(outcome.error) or "longer than 1 s" in str(outcome.error)
    finally:
        backend.close()


def test_a_recording_over_the_duration_limit_fails_clearly(tmp_path: Path) -> None:
    # The limit travels with each job's request (the one in force when it was
    # submitted, so a reload applies to the next file), not the engine's start settings.
    backend = LocalBackend(load_settings(write_config(tmp_path)))
    try:
        limited = replace(request(AUDIO / "weather.wav"), max_duration_seconds=2)
        outcome = settle(backend, limited)
        assert isinstance(outcome, Failed) and isinstance(outcome.error, BadInput)
        assert "more than the configured maximum of 2 s" in str(outcome.error)
    finally:
        backend.close()


@pytest.mark.parametrize("mode", ["on", "off"])
def test_batched_and_sequential_decoding_give_the_same_transcript_format(
    tmp_path: Path, mode: str
) -> None:
    # Two parallel decodes: in batched mode the two windows of the 31 s fixture are
    # decoded side by side and must come back in the recording's order.
    config = write_config(
        tmp_path, {"backends.local": {"batched": mode, "cpu_threads": 1, "parallel_decodes": 2}}
    )
    backend = LocalBackend(load_settings(config))
    try:
        outcome = settle(backend, request(AUDIO / "long_reading.flac"))
    finally:
        backend.close()
    assert isinstance(outcome, Done)
    result = outcome.result
    assert result.language == "en"
    assert word_error_rate(reference("long_reading"), result.text) < 0.2
    document = build_document(
        result, source_path="long_reading.flac", sha256="0" * 64, size=1, backend="local"
    )
    jsonschema.validate(document, load_schema())
    words = document["response"]["word_segments"]
    assert len(words) > 60
    assert all(0 <= w["start"] <= w["end"] <= 31 for w in words)
    starts = [segment["start"] for segment in document["response"]["segments"]]
    assert starts == sorted(starts) and starts[-1] > 15
