"""The parts that tell the machine's trouble from the files': each on its own, then the
dispatcher on a real tmpfs outbox that fills up, step by step with a manual clock."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dropscribe.commands.reports import daemon_line, daemon_report
from dropscribe.config import load_settings
from dropscribe.errors import local_fault
from dropscribe.inbox.presence import InboxPresence
from dropscribe.jobs.readiness import FAULT_MAX_SECONDS, Readiness
from dropscribe.jobs.states import JobState
from dropscribe.outbox.writer import move_original
from dropscribe.service.daemon import Daemon
from dropscribe.service.daemon_lock import DaemonLock, running_daemon
from dropscribe.service.machine import read_only_folders, space_problem
from tests.dispatch_rig import ManualClock, Rig
from tests.fake_backend import FakeBackend
from tests.helpers import wait_for, write_config
from tests.mounts import Mounts, mounts_for


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Mounts]:
    yield from mounts_for(tmp_path)


def test_full_read_only_and_failing_disks_are_the_machines_fault_and_nothing_else_is() -> None:
    assert local_fault(OSError(errno.ENOSPC, "No space left on device")) == "no space left"
    assert local_fault(OSError(errno.EROFS, "Read-only file system")) == "read-only"
    assert local_fault(OSError(errno.EIO, "Input/output error")) == "an I/O error"
    assert local_fault(OSError(errno.EDQUOT, "Disk quota exceeded")) == "over the disk quota"
    assert local_fault(sqlite3.OperationalError("database or disk is full")) == "no space left"
    assert local_fault(sqlite3.OperationalError("attempt to write a readonly database")) == (
        "read-only"
    )
    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = OSError(errno.ENOSPC, "full")
    assert local_fault(wrapped) == "no space left"
    for other in (OSError(errno.ENOENT, "gone"), PermissionError(13, "no"), ValueError("x")):
        assert local_fault(other) is None


def test_a_disk_fault_is_logged_once_per_episode_and_its_retries_back_off() -> None:
    clock = ManualClock()
    readiness = Readiness(clock)
    with capture_logs() as logs:
        first = readiness.disk_failed("the outbox", "no space left")
        assert first == clock() + 1.0 and not readiness.may_write()
        waits = [readiness.disk_failed("the outbox", "no space left") - clock() for _ in range(6)]
        clock.advance(FAULT_MAX_SECONDS)
        assert readiness.may_write() and not readiness.may_take_work(clock() - 1)
        readiness.disk_ok("the job store")  # the store's success says nothing of the outbox
        assert readiness.problems()
        readiness.disk_ok()
    assert waits == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert [entry["event"] for entry in logs] == ["machine_not_ready", "machine_ready"]
    assert "writing the outbox failed (no space left)" in logs[0]["reason"]
    assert readiness.problems() == [] and readiness.may_take_work()


def test_low_space_and_an_absent_inbox_stop_new_work_and_say_so_once() -> None:
    readiness = Readiness(ManualClock())
    with capture_logs() as logs:
        for _ in range(3):
            readiness.set_low_space("low")
        assert not readiness.may_take_work() and readiness.may_write()
        readiness.set_low_space(None)
        readiness.set_inbox("away")
        assert readiness.problems() == ["away"] and not readiness.may_take_work()
        readiness.set_inbox(None)
    assert [e["event"] for e in logs] == [
        "low_disk_space",
        "disk_space_ok",
        "inbox_unavailable",
        "inbox_available",
    ]


def test_free_space_is_low_only_below_the_limit_and_never_when_the_limit_is_zero() -> None:
    mb = 2**20
    assert space_problem({"outbox": 200 * mb, "store": 150 * mb}, 100) is None
    low = space_problem({"outbox": 200 * mb, "store": 50 * mb}, 100)
    assert low is not None and "job store's file system (50 MB left" in low
    assert space_problem({"outbox": 0, "store": None}, 0) is None


def test_an_emptied_inbox_of_the_same_folder_is_fine_and_another_empty_folder_is_not(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.wav").write_bytes(b"x")
    waiting = [1]
    presence = InboxPresence(inbox, lambda: waiting[0])
    (inbox / "a.wav").unlink()  # a user took the file away: the inbox is as it was
    assert presence.look().problem is None
    inbox.rename(tmp_path / "old")
    assert "gone" in (presence.look().problem or "")
    inbox.mkdir()  # an empty folder where the share was
    assert "empty folder" in (presence.look().problem or "")
    (tmp_path / "old").rmdir()
    (inbox / "b.wav").write_bytes(b"x")  # another folder, with files: the inbox now
    seen = presence.look()
    assert seen.problem is None and seen.renewed
    assert presence.look() == seen.__class__(None, False)


def test_the_same_inbox_back_after_an_absence_is_watched_anew(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    presence = InboxPresence(inbox, lambda: 0)
    inbox.rename(tmp_path / "away")
    assert presence.look().problem is not None
    (tmp_path / "away").rename(inbox)
    assert presence.look().renewed and not presence.look().renewed


def test_status_shows_what_holds_the_work_back_from_the_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "dropscribe.lock"
    lock = DaemonLock.acquire(path, "9.9", 1000.0)
    try:
        size = path.stat().st_size
        lock.note(["The inbox /x is unavailable."])
        assert path.stat().st_size == size  # written over its own bytes: no new space
        info = running_daemon(path)
        assert info is not None and info.not_ready == ("The inbox /x is unavailable.",)
        line = daemon_line(daemon_report(info, 1060.0))
        assert line.splitlines()[1] == "not ready: The inbox /x is unavailable."
    finally:
        lock.release()


def test_a_move_to_another_file_system_copies_whole_and_a_full_one_leaves_the_original(
    tmp_path: Path, mounts: Mounts
) -> None:
    archive = mounts.tmpfs(tmp_path / "archive", "64k")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    small, big = inbox / "small.wav", inbox / "big.wav"
    small.write_bytes(os.urandom(20_000))
    big.write_bytes(os.urandom(200_000))
    content = small.read_bytes()
    assert move_original(small, archive, "small.wav") == archive / "small.wav"
    assert (archive / "small.wav").read_bytes() == content and not small.exists()
    with pytest.raises(OSError) as raised:
        move_original(big, archive, "big.wav")
    assert raised.value.errno == errno.ENOSPC
    assert str(raised.value.filename).startswith(str(archive))  # names the full side
    assert big.stat().st_size == 200_000
    assert sorted(p.name for p in archive.iterdir()) == ["small.wav"]  # nothing partial
    mounts.remount(archive, "size=1m")
    assert move_original(big, archive, "big.wav") == archive / "big.wav"


def test_a_full_outbox_holds_the_written_job_and_writes_it_later_without_a_new_decode(
    tmp_path: Path, mounts: Mounts
) -> None:
    outbox = mounts.tmpfs(tmp_path / "outbox", "64k")
    backend = FakeBackend("local")
    rig = Rig(tmp_path, {"local": backend}, {"service": {"min_free_mb": 0}})
    try:
        jobs = [rig.add(f"f{n}.wav") for n in range(3)]
        filler = outbox / "filler"
        filler.write_bytes(b"\0" * 62_000)
        rig.step()  # claims as many as the backend takes at once; their writes fail
        states = [rig.job(job).state for job in jobs]
        assert JobState.WRITING in states and JobState.FAILED not in states
        assert len(backend.requests) == states.count(JobState.WRITING)
        assert rig.step() == 0  # no new work while the disk is full, nor a retry before due
        assert len(backend.requests) == states.count(JobState.WRITING)
        filler.unlink()
        rig.clock.advance(1.0)
        while not all(rig.finished(job) for job in jobs):
            rig.step()
            rig.clock.advance(1.0)
        assert {rig.job(job).state for job in jobs} == {JobState.DONE}
        assert {rig.job(job).attempts for job in jobs} == {1}
        assert len(backend.requests) == 3  # each file submitted once
        assert sorted(p.name for p in outbox.glob("f0.*")) == [
            "f0.json",
            "f0.srt",
            "f0.txt",
            "f0.vtt",
        ]
    finally:
        rig.close()


def test_status_names_a_folder_on_a_read_only_file_system(tmp_path: Path, mounts: Mounts) -> None:
    outbox = mounts.tmpfs(tmp_path / "outbox", "1m")
    settings = load_settings(write_config(tmp_path))
    assert read_only_folders(settings.paths) == []
    mounts.remount(outbox, "ro")
    (found,) = read_only_folders(settings.paths)
    assert found.startswith(f"The outbox {outbox} is on a read-only file system")


def test_a_done_file_seen_again_in_the_inbox_is_archived_not_transcribed_again(
    tmp_path: Path,
) -> None:
    backend = FakeBackend("local")
    clock = ManualClock()
    backend.clock = clock
    daemon = Daemon(load_settings(write_config(tmp_path)), clock=clock, backends={"local": backend})
    daemon.build()
    try:
        inbox, archive = daemon.settings.paths.inbox, daemon.settings.paths.archive
        assert archive is not None
        (inbox / "talk.wav").write_bytes(b"RIFF" + bytes(400))
        daemon.intake.look("talk.wav", clock())
        clock.advance(5)
        daemon.intake.process_due(clock())
        daemon.dispatcher.pump(clock())
        wait_for(lambda: (archive / "talk.wav").exists(), 30, "the archived original")
        while daemon.dispatcher.in_flight():
            daemon.wake.wait(0.05)
        # The share that was away when it was to be archived shows it again, untouched.
        again = inbox / "talk.wav"
        shutil.copy2(archive / "talk.wav", again)
        daemon.intake.look("talk.wav", clock())
        assert not again.exists() and (archive / "talk.wav").exists()
        assert [p.name for p in archive.iterdir()] == ["talk.wav"]
        assert len(backend.requests) == 1 and len(daemon.store.jobs()) == 1
    finally:
        daemon.dispatcher.stop(1.0)
        daemon.store.close()
