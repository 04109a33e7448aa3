"""Intake in process: a real temporary inbox, a real SQLite file, a manual clock.

A crash is simulated by raising a BaseException (which no handler in the daemon
catches, like a kill) from a file-system step, then opening the same SQLite
file again as a restarted daemon would.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dropscribe.config import Settings, load_settings
from dropscribe.errors import BadInput
from dropscribe.inbox.intake import CRASH_LOOP, Intake
from dropscribe.inbox.watcher import InboxWatcher
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.writer import Outbox
from dropscribe.outbox.writer import move_original as real_move
from dropscribe.sources import hash_and_head as real_hash
from dropscribe.transcript import Transcription, make_segment, make_word
from tests.helpers import write_config

SETTLE = 2.0


class Crash(BaseException):
    """Stands for a kill -9: nothing in the daemon handles it."""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    settings: Settings
    store: Store
    intake: Intake
    clock: Clock

    @property
    def inbox(self) -> Path:
        return self.settings.paths.inbox

    def reopen(self) -> Rig:
        """A new daemon on the same SQLite file."""
        self.store.close()
        return build(self.settings, self.clock, self.intake.finisher.config_path)

    def restart(self) -> Rig:
        """A new daemon on the same SQLite file, after its recovery."""
        rig = self.reopen()
        rig.intake.recover()
        return rig

    def take_in(self, *names: str) -> int:
        """Report ``names`` as events would, let them settle, and take them in."""
        for name in names:
            self.intake.look(name, self.clock())
        self.clock.now += SETTLE
        return self.intake.process_due(self.clock())

    def job(self, path: str) -> Job:
        (job,) = [j for j in self.store.jobs() if j.path == path]
        return job


def build(settings: Settings, clock: Clock, config_path: Path | None = None) -> Rig:
    paths = settings.paths
    store = Store(paths.state, clock=clock)
    outbox = Outbox(paths.outbox, settings.transcribe.formats)
    finisher = Finisher(settings, store, outbox, Hooks([], [], 5), config_path=config_path)
    intake = Intake(lambda: settings, store, finisher, lambda _backend: {}, clock)
    return Rig(settings, store, intake, clock)


def make_rig(tmp_path: Path, **watch: Any) -> Rig:
    config = write_config(tmp_path, {"watch": {"settle_seconds": SETTLE, **watch}})
    settings = load_settings(config)
    for directory in (settings.paths.inbox, settings.paths.outbox, settings.paths.failed):
        directory.mkdir(parents=True, exist_ok=True)
    return build(settings, Clock(), config)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def transcription() -> Transcription:
    words = [make_word(" Hello.", 0.0, 0.5, 0.9)]
    return Transcription([make_segment(" Hello.", 0.0, 0.5, words)], "en", 1.0, 5.0, "m")


def transcribed(rig: Rig, job: Job) -> Job:
    """Carry a queued job through the store as the dispatcher would, result saved."""
    (claimed,) = rig.store.claim(job.backend, 1, rig.clock())
    assert claimed.id == job.id  # the oldest queued job
    running = rig.store.move(claimed.id, JobState.RUNNING, future={"remote_id": "1"})
    rig.store.save_result(running.id, transcription().to_dict())
    return rig.intake.finisher.succeed(rig.store.get(job.id), transcription())


def test_a_file_becomes_a_queued_job_once_it_has_been_quiet_for_the_settle_time(
    rig: Rig,
) -> None:
    (rig.inbox / "talk.wav").write_bytes(b"RIFF-talk")
    rig.intake.look("talk.wav", rig.clock())
    assert rig.intake.process_due(rig.clock()) == 0  # just written: not yet
    rig.clock.now += SETTLE
    assert rig.intake.process_due(rig.clock()) == 1
    assert rig.job("talk.wav").state == JobState.QUEUED
    assert rig.take_in("talk.wav") == 0  # seen again unchanged: nothing new


def test_ignore_patterns_apply_to_paths_reported_by_events_as_to_scans(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, ignore=["*.skip.wav", "draft-*"])
    for name in ("x.skip.wav", "draft-1.mp3", "kept.wav"):
        (rig.inbox / name).write_bytes(b"RIFF" + name.encode())
    (rig.inbox / "draft-folder.wav").mkdir()  # even a folder with an audio name
    watcher = InboxWatcher(rig.inbox, rig.intake.filter, "polling", 1.0, threading.Event())
    assert [entry.name for entry in watcher.scan()] == ["kept.wav"]
    assert rig.take_in("x.skip.wav", "draft-1.mp3", "draft-folder.wav", "kept.wav") == 1
    assert [job.path for job in rig.store.jobs()] == ["kept.wav"]
    rig.store.close()


@pytest.mark.parametrize("step", ["before any move", "after the move"])
def test_an_empty_file_and_a_duplicate_interrupted_on_disk_are_finished_by_recovery(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    (rig.inbox / "first.wav").write_bytes(b"RIFF-same")
    rig.take_in("first.wav")
    transcribed(rig, rig.job("first.wav"))
    (rig.inbox / "again.wav").write_bytes(b"RIFF-same")
    (rig.inbox / "empty.wav").write_bytes(b"")

    def crashing_move(source: Path, root: Path, relative: str) -> Path | None:
        if step == "after the move":
            real_move(source, root, relative)
        raise Crash

    monkeypatch.setattr("dropscribe.jobs.completion.move_original", crashing_move)
    with pytest.raises(Crash):
        rig.take_in("again.wav", "empty.wav")
    # Both were committed before the file system was touched.
    assert {j.path: j.state for j in rig.store.jobs()}["again.wav"] == JobState.DISCOVERED
    assert rig.job("empty.wav").state == JobState.DISCOVERED
    monkeypatch.undo()

    rig = rig.restart()
    outbox, failed, archive = (
        rig.settings.paths.outbox,
        rig.settings.paths.failed,
        rig.settings.paths.archive,
    )
    assert archive is not None
    assert rig.job("empty.wav").state == JobState.FAILED
    assert (failed / "empty.wav").exists() and not (rig.inbox / "empty.wav").exists()
    report = json.loads((outbox / "empty.error.json").read_text())
    assert report["original"] == str(failed / "empty.wav")
    assert rig.job("again.wav").state == JobState.SKIPPED
    assert (archive / "again.wav").exists() and not (rig.inbox / "again.wav").exists()
    assert json.loads((outbox / "again.json").read_text())["source"]["path"] == "again.wav"
    assert rig.store.intake_marks() == {}
    rig.store.close()


def test_a_file_that_kills_the_daemon_while_taken_in_alone_twice_is_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:

    def hash_or_die(path: Path, inside: Path | None = None, head: int = 4096) -> tuple[str, bytes]:
        if path.name == "deadly.wav":
            raise Crash
        return real_hash(path, inside, head)

    monkeypatch.setattr("dropscribe.inbox.arrivals.hash_and_head", hash_or_die)
    (rig.inbox / "deadly.wav").write_bytes(b"RIFF-deadly")
    (rig.inbox / "fine.wav").write_bytes(b"RIFF-fine")
    with pytest.raises(Crash):
        rig.take_in("deadly.wav", "fine.wav")  # in a batch: both are suspects
    assert rig.store.intake_marks() == {"deadly.wav": 0, "fine.wav": 0}
    for deaths in (1, 2):  # taken in alone after each restart, it kills the daemon again
        rig = rig.reopen()
        with pytest.raises(Crash):
            rig.intake.recover()
        assert rig.store.intake_marks()["deadly.wav"] == deaths
    rig = rig.restart()  # the third start recognises it and sets it aside
    assert rig.job("deadly.wav").state == JobState.FAILED
    assert rig.job("deadly.wav").error == CRASH_LOOP
    assert (rig.settings.paths.failed / "deadly.wav").exists()
    assert rig.job("fine.wav").state == JobState.QUEUED
    assert rig.store.intake_marks() == {}
    rig.store.close()


def test_one_file_raising_anywhere_in_intake_fails_alone_and_the_rest_go_on(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:

    def buggy_hash(path: Path, inside: Path | None = None, head: int = 4096) -> tuple[str, bytes]:
        if path.name == "buggy.wav":
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return real_hash(path, inside, head)

    monkeypatch.setattr("dropscribe.inbox.arrivals.hash_and_head", buggy_hash)
    (rig.inbox / "buggy.wav").write_bytes(b"RIFF-1")
    (rig.inbox / "good.wav").write_bytes(b"RIFF-2")
    assert rig.take_in("buggy.wav", "good.wav") == 2
    assert rig.job("good.wav").state == JobState.QUEUED
    buggy = rig.job("buggy.wav")
    assert buggy.state == JobState.FAILED and "UnicodeEncodeError" in (buggy.error_detail or "")
    assert "UnicodeEncodeError" not in (buggy.error or "")  # a sentence, the internals aside
    assert (rig.settings.paths.outbox / "buggy.error.json").exists()


def test_a_link_gets_a_valid_sha256_a_retry_hint_with_the_config_and_never_opens(
    rig: Rig, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-secret")
    (rig.inbox / "sneaky.wav").symlink_to(secret)
    rig.take_in("sneaky.wav")
    job = rig.job("sneaky.wav")
    report = json.loads((rig.settings.paths.outbox / "sneaky.error.json").read_text())
    assert len(report["source"]["sha256"]) == 64 and report["source"]["sha256"] != ""
    assert f"--config {rig.intake.finisher.config_path}" in report["retry"]
    assert report["original"] == str(rig.settings.paths.failed / "sneaky.wav")
    assert (rig.settings.paths.failed / "sneaky.wav").is_symlink()
    # `retry` puts it back in the queue; reading it for the engine is refused.
    assert rig.store.retry([job.id]) == [job.id]
    with pytest.raises(BadInput, match="symbolic link"):
        rig.intake.finisher.source_of(rig.store.get(job.id))


def test_a_retried_folder_and_a_vanished_file_give_one_clear_sentence(rig: Rig) -> None:
    (rig.inbox / "folder.wav").mkdir()
    (rig.inbox / "gone.wav").write_bytes(b"RIFF-gone")
    rig.take_in("folder.wav", "gone.wav")
    (rig.inbox / "gone.wav").unlink()
    finisher = rig.intake.finisher
    with pytest.raises(BadInput, match="directory with an audio file's name"):
        finisher.source_of(rig.job("folder.wav"))
    with pytest.raises(BadInput, match="disappeared from the inbox"):
        finisher.source_of(rig.job("gone.wav"))


def test_a_linked_folder_in_the_failed_directory_is_never_read(rig: Rig, tmp_path: Path) -> None:
    (rig.inbox / "calls").mkdir()
    (rig.inbox / "calls" / "a.wav").write_bytes(b"RIFF-a")
    rig.take_in("calls/a.wav")
    job = rig.job("calls/a.wav")
    os.rename(rig.inbox / "calls", tmp_path / "elsewhere")
    (rig.settings.paths.failed / "calls").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadInput, match="folder on the way"):
        rig.intake.finisher.source_of(job)


#: Every kind of name the kernel accepts that broke or could break something.
HOSTILE = [
    b"bad-\xff\xfe-name.wav",
    b"ctl-\x01\x1b[31m-\x7f.wav",
    b"-leading-dash.wav",
    b"back\\slash.wav",
    b"x" * 251 + b".wav",  # 255 bytes, the longest name there is
]
HOSTILE_PATHS = [os.fsdecode(name) for name in HOSTILE] + [
    os.fsdecode(folder + b"/" + b"inside.wav") for folder in (n[:-4] for n in HOSTILE)
]


def drop_hostile(inbox: Path, content: bytes) -> None:
    for number, relative in enumerate(HOSTILE_PATHS):
        path = inbox / relative
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content + bytes(number))


def test_every_name_the_kernel_accepts_is_stored_logged_and_named_safely(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    from dropscribe.service import logs

    logs.configure("debug", "json")
    drop_hostile(rig.inbox, b"RIFF")
    (rig.inbox / os.fsdecode(b"empty-\xff.wav")).write_bytes(b"")
    watcher = InboxWatcher(rig.inbox, rig.intake.filter, "polling", 1.0, threading.Event())
    found = sorted(entry.path[len(str(rig.inbox)) + 1 :] for entry in watcher.scan())
    assert rig.take_in(*found) == len(HOSTILE_PATHS) + 1
    for relative in HOSTILE_PATHS:
        job = rig.job(relative)  # found again by its exact name, bytes and all
        assert job.state == JobState.QUEUED, relative
    for job in rig.store.jobs([JobState.QUEUED]):
        relative = job.path
        *folders, name = job.output_name.split("/")
        assert len((name + ".error.json").encode()) <= 255, relative
        for part in [*folders, name]:
            assert len(part.encode()) <= 255 and part.isprintable(), relative
        transcribed(rig, job)
        document = json.loads((rig.settings.paths.outbox / f"{job.output_name}.json").read_text())
        assert document["source"]["path"] == relative.encode("utf-8", "surrogateescape").decode(
            "utf-8", "backslashreplace"
        )
    assert len({rig.job(relative).output_name for relative in HOSTILE_PATHS}) == len(HOSTILE_PATHS)
    assert rig.job(os.fsdecode(b"empty-\xff.wav")).state == JobState.FAILED
    assert (rig.settings.paths.outbox / "empty-%FF.error.json").exists()
    assert (rig.settings.paths.failed / os.fsdecode(b"empty-\xff.wav")).exists()
    lines = capsys.readouterr().err.splitlines()
    assert any("bad-\\\\xff\\\\xfe-name.wav" in line for line in lines)
    for line in lines:
        json.loads(line)  # every log line was written, whole, as JSON


def test_same_stem_siblings_never_share_sidecars_and_the_names_do_not_depend_on_event_order(
    tmp_path: Path,
) -> None:
    names = []
    for order in (["a.wav", "a.mp3"], ["a.mp3", "a.wav"]):
        (tmp_path / "-".join(order)).mkdir()
        rig = make_rig(tmp_path / "-".join(order))
        for name in order:
            (rig.inbox / name).write_bytes(b"RIFF" + name.encode())
        rig.take_in(*order)
        names.append({job.path: job.output_name for job in rig.store.jobs()})
        rig.store.close()
    assert names[0] == names[1] == {"a.mp3": "a", "a.wav": "a.wav"}


def test_job_done_seconds_after_a_retry_is_the_time_of_the_new_attempt(rig: Rig) -> None:
    from structlog.testing import capture_logs

    (rig.inbox / "talk.wav").write_bytes(b"RIFF-talk")
    rig.take_in("talk.wav")
    job = rig.job("talk.wav")
    rig.store.claim(job.backend, 1, rig.clock())
    rig.clock.now += 100
    rig.intake.finisher.fail(rig.store.get(job.id), BadInput("Not today."))
    rig.clock.now += 1000  # the user fixes the cause, then retries
    assert rig.store.retry(None) == [job.id]
    rig.clock.now += 1
    (claimed,) = rig.store.claim(job.backend, 1, rig.clock())
    running = rig.store.move(claimed.id, JobState.RUNNING, future={"remote_id": "2"})
    rig.store.save_result(running.id, transcription().to_dict())
    rig.clock.now += 5
    with capture_logs() as logs:
        rig.intake.finisher.succeed(rig.store.get(job.id), transcription())
    (done,) = [entry for entry in logs if entry["event"] == "job_done"]
    assert done["seconds"] == 5


def test_a_slow_hash_happens_off_the_main_loop_which_keeps_feeding_the_watchdog(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = threading.Event()
    beats: list[bool] = []
    main = threading.current_thread()

    def slow_hash(path: Path, inside: Path | None = None, head: int = 0) -> tuple[str, bytes]:
        assert threading.current_thread() is not main  # not on the main loop
        # Holds the hash until the main loop has fed the watchdog at least twice.
        assert hashed.wait(timeout=60)
        return real_hash(path, inside, head)

    def heartbeat() -> None:
        assert threading.current_thread() is main
        beats.append(True)
        if len(beats) >= 2:
            hashed.set()

    monkeypatch.setattr("dropscribe.inbox.arrivals.hash_and_head", slow_hash)
    monkeypatch.setattr("dropscribe.inbox.intake.HEARTBEAT_SECONDS", 0.01)
    rig.intake.heartbeat = heartbeat
    (rig.inbox / "big.wav").write_bytes(b"RIFF-big")
    assert rig.take_in("big.wav") == 1
    assert len(beats) >= 2
    assert rig.job("big.wav").state == JobState.QUEUED


def test_a_copy_of_content_in_flight_waits_for_it_across_a_restart_then_reuses_it(
    rig: Rig,
) -> None:
    for name in ("a.wav", "b.wav"):
        (rig.inbox / name).write_bytes(b"RIFF-same")
    rig.take_in("a.wav", "b.wav")  # one batch
    first, copy = rig.job("a.wav"), rig.job("b.wav")
    assert (first.state, copy.state) == (JobState.QUEUED, JobState.DISCOVERED)
    assert rig.intake.settle_waiting() == 0  # the first is still queued
    rig = rig.restart()  # still waiting after a restart, not queued a second time
    assert rig.job("b.wav").state == JobState.DISCOVERED
    for state in (JobState.SUBMITTING, JobState.RUNNING):
        rig.store.move(first.id, state)
    rig.intake.finisher.succeed_together(rig.store.get(first.id), transcription())
    assert rig.intake.settle_waiting() == 1
    assert rig.job("b.wav").state == JobState.SKIPPED
    assert (rig.settings.paths.outbox / "b.json").exists()


def test_a_copy_whose_first_job_failed_is_transcribed_on_its_own(rig: Rig) -> None:
    for name in ("a.wav", "b.wav"):
        (rig.inbox / name).write_bytes(b"RIFF-same")
    rig.take_in("a.wav", "b.wav")
    first = rig.job("a.wav")
    rig.intake.finisher.fail(first, BadInput("The file is broken."))
    assert rig.intake.settle_waiting() == 1
    assert rig.job("b.wav").state == JobState.QUEUED
