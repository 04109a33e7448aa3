"""A failure commits its state before the file system is touched; a restart finishes it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropscribe.errors import BackendError, Retryable
from dropscribe.jobs.retry_policy import gave_up
from dropscribe.jobs.states import JobState
from dropscribe.outbox.writer import Outbox
from tests.test_intake import Crash, Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


@pytest.mark.parametrize("step", ["the move", "the error sidecar", "the hook"])
def test_a_crash_while_failing_a_job_leaves_it_failed_and_the_restart_puts_its_files_away(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    (rig.inbox / "talk.wav").write_bytes(b"RIFF-talk")
    rig.take_in("talk.wav")
    (claimed,) = rig.store.claim("local", 1, rig.clock())
    running = rig.store.move(claimed.id, JobState.RUNNING, future={"remote_id": "1"})

    def crash(*args: object) -> None:
        raise Crash

    where = {
        "the move": ("dropscribe.jobs.failures.move_original", crash),
        "the error sidecar": ("dropscribe.outbox.writer.Outbox.write_error", crash),
        "the hook": ("dropscribe.outbox.hooks.Hooks.failed", crash),
    }
    monkeypatch.setattr(*where[step])
    error = Retryable("The engine refused the file.", detail="HTTP 422")
    with pytest.raises(Crash):
        rig.intake.finisher.fail(running, gave_up(error, running.attempts))
    monkeypatch.undo()
    # The state was committed first: nothing can send this file again.
    assert rig.job("talk.wav").state == JobState.FAILED

    rig = rig.restart()  # a new daemon on the same SQLite file, after its recovery
    paths = rig.settings.paths
    job = rig.job("talk.wav")
    assert job.state == JobState.FAILED
    assert job.error == "Gave up after 1 attempts: The engine refused the file."
    assert not os.path.lexists(rig.inbox / "talk.wav")
    assert (paths.failed / "talk.wav").read_bytes() == b"RIFF-talk"
    report = json.loads((paths.outbox / "talk.error.json").read_text())
    assert report["original"] == str(paths.failed / "talk.wav")
    assert (report["error"], report["detail"]) == (job.error, "HTTP 422")
    assert rig.store.unsettled_failures() == []
    assert rig.take_in("talk.wav") == 0  # a rescan finds nothing to take in
    assert [j.path for j in rig.store.jobs()] == ["talk.wav"]


def test_a_failure_whose_files_are_in_place_is_not_done_again_at_a_restart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    (rig.inbox / "talk.wav").write_bytes(b"RIFF-talk")
    rig.take_in("talk.wav")
    job = rig.job("talk.wav")
    (claimed,) = rig.store.claim("local", 1, rig.clock())
    rig.intake.finisher.fail(claimed, BackendError("No."))
    assert rig.store.unsettled_failures() == []
    writes: list[str] = []
    monkeypatch.setattr(Outbox, "write_error", lambda _self, name, _report: writes.append(name))
    rig = rig.restart()
    assert writes == []
    assert rig.job("talk.wav").id == job.id


def test_a_failure_retried_before_the_restart_is_left_to_its_retry(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    (rig.inbox / "talk.wav").write_bytes(b"RIFF-talk")
    rig.take_in("talk.wav")
    (claimed,) = rig.store.claim("local", 1, rig.clock())

    def crash(*args: object) -> None:
        raise Crash

    monkeypatch.setattr("dropscribe.jobs.failures.move_original", crash)
    with pytest.raises(Crash):
        rig.intake.finisher.fail(claimed, BackendError("No."))
    monkeypatch.undo()
    assert rig.store.retry(None) == [claimed.id]  # `dropscribe retry` while it was down
    rig = rig.restart()
    assert rig.job("talk.wav").state == JobState.QUEUED
    assert (rig.inbox / "talk.wav").exists()
    assert not (rig.settings.paths.outbox / "talk.error.json").exists()
    assert rig.store.unsettled_failures() == []
