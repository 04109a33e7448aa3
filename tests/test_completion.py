"""Finishing jobs together: one batch of store writes and flushes for many threads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dropscribe.config import load_settings
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.states import JobState, TransitionError
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.writer import TEMP_PREFIX, Outbox
from dropscribe.transcript import Transcription, make_segment, make_word
from tests.helpers import wait_for, write_config

JOBS = 24


def running_job(store: Store, inbox: Path, number: int, output_name: str) -> Job:
    name = f"clip{number:02d}.wav"
    (inbox / name).write_bytes(b"RIFF" + bytes(number))
    job = store.add_job(
        path=name,
        sha256=f"{number:064x}",
        size=4 + number,
        mtime=0.0,
        output_name=output_name,
        backend="openai",
        language="auto",
        task="transcribe",
        settings_key="k",
    )
    store.move(job.id, JobState.QUEUED, next_attempt_at=0.0)
    (claimed,) = store.claim("openai", 1, store.now())
    return store.move(claimed.id, JobState.RUNNING, future={"remote_id": str(number)})


def result(number: int) -> Transcription:
    words = [make_word(" Clip", 0.0, 0.4, 0.9), make_word(f" {number}.", 0.4, 0.8, 0.8)]
    return Transcription([make_segment(f" Clip {number}.", 0.0, 0.8, words)], "en", 1.0, 5.0, "m")


def test_jobs_finishing_at_once_are_written_in_one_batch_and_one_failure_stays_its_own(
    tmp_path: Path,
) -> None:
    settings = load_settings(write_config(tmp_path))
    paths = settings.paths
    for directory in (paths.inbox, paths.outbox):
        directory.mkdir(parents=True, exist_ok=True)
    (paths.outbox / "blocked").write_text("a file where a directory is needed")
    store = Store(paths.state)
    finisher = Finisher(
        settings, store, Outbox(paths.outbox, ["json", "txt", "srt", "vtt"]), Hooks([], [], 5)
    )
    names = [f"clip{n:02d}" if n != 7 else "blocked/clip07" for n in range(JOBS)]
    jobs = [running_job(store, paths.inbox, n, names[n]) for n in range(JOBS)]
    outcomes: dict[int, Job | BaseException] = {}

    def finish(number: int) -> None:
        try:
            outcomes[number] = finisher.succeed_together(jobs[number], result(number))
        except Exception as exc:
            outcomes[number] = exc

    batches = []
    real_finish = finisher._finish

    def counting_finish(batch: list[object]) -> None:
        batches.append(len(batch))
        real_finish(batch)  # type: ignore[arg-type]

    finisher._finish = counting_finish  # type: ignore[method-assign,assignment]
    # Hold the writer while every thread arrives, so that they are all in one batch.
    with finisher._writing:
        threads = [threading.Thread(target=finish, args=(n,)) for n in range(JOBS)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(finisher._waiting) == JOBS, 10, "every job waiting")
    for thread in threads:
        thread.join(10)

    assert batches == [JOBS]
    failed = outcomes.pop(7)
    assert isinstance(failed, OSError)
    # The failed job keeps its saved result and its original: it can be finished later.
    assert store.get(jobs[7].id).state == JobState.WRITING
    assert store.result_for(f"{7:064x}", "k") is not None
    assert (paths.inbox / "clip07.wav").exists()
    for number, outcome in outcomes.items():
        assert isinstance(outcome, Job) and outcome.state == JobState.DONE, number
        assert f"Clip {number}." in (paths.outbox / f"clip{number:02d}.txt").read_text()
        assert (paths.outbox / f"clip{number:02d}.vtt").exists()
        assert not (paths.inbox / f"clip{number:02d}.wav").exists()
        assert paths.archive is not None and (paths.archive / f"clip{number:02d}.wav").exists()
    assert not list(paths.outbox.rglob(f"{TEMP_PREFIX}*"))
    store.close()


def test_a_lone_job_is_written_at_once(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path))
    paths = settings.paths
    for directory in (paths.inbox, paths.outbox):
        directory.mkdir(parents=True, exist_ok=True)
    store = Store(paths.state)
    finisher = Finisher(settings, store, Outbox(paths.outbox, ["json"]), Hooks([], [], 5))
    job = running_job(store, paths.inbox, 1, "clip01")
    done = finisher.succeed_together(job, result(1))
    assert done.state == JobState.DONE
    assert (paths.outbox / "clip01.json").exists()
    with pytest.raises(TransitionError):
        finisher.succeed_together(done, result(1))  # already done: the store refuses
    store.close()
