"""Issue 28: a job's seconds after a restart, and the store at shutdown (the dispatcher
in process on a real store, a fake engine at the contract, a manual clock)."""

from __future__ import annotations

import time
from pathlib import Path

import structlog

from dropscribe.backends.base import Done, Future, Outcome, Pending
from dropscribe.jobs.states import JobState
from tests.dispatch_rig import Rig
from tests.fake_backend import FakeBackend, transcription


def test_job_done_after_a_restart_does_not_count_the_time_the_daemon_was_down(
    tmp_path: Path,
) -> None:
    first = Rig(tmp_path, {"local": FakeBackend(on_poll=lambda _f: Pending())})
    job = first.add("talk.wav")
    first.dispatcher.pump(first.clock())
    first.dispatcher.stop(grace=5)  # handed back to the queue, as at a SIGTERM
    first.store.close()
    second = Rig(tmp_path, {"local": FakeBackend()})
    second.clock.now = first.clock.now + 3600  # down for an hour
    try:
        second.dispatcher.recover()
        with structlog.testing.capture_logs() as logs:
            second.step()
            second.clock.advance(2)
        done = [entry for entry in logs if entry["event"] == "job_done"]
        assert second.job(job).state == JobState.DONE
        assert len(done) == 1 and done[0]["seconds"] < 60, done
    finally:
        second.close()


def test_the_store_is_closed_only_after_the_job_threads_ended(tmp_path: Path) -> None:
    def slow(_future: Future) -> Outcome:
        time.sleep(3.0)  # busy past the grace period, deaf to the stop
        return Done(transcription())

    rig = Rig(tmp_path, {"local": FakeBackend(on_poll=slow)})
    job = rig.add("talk.wav")
    with structlog.testing.capture_logs() as logs:
        rig.dispatcher.pump(rig.clock())
        ended = rig.dispatcher.stop(grace=2.0)  # the engine closed after 2 s, then 2 s more
        rig.store.close()
        time.sleep(1.0)  # a thread left running would now write to the closed store
    assert ended
    assert not [entry for entry in logs if entry.get("log_level") in ("error", "critical")], logs
    assert not any("closed database" in str(entry) for entry in logs)
    reopened = Rig(tmp_path, {"local": FakeBackend()})
    try:
        assert reopened.job(job).state in (JobState.DONE, JobState.QUEUED)
    finally:
        reopened.close()
