"""Watching: the mode `auto` picks, polling for real, and originals kept in place."""

from __future__ import annotations

import json
from pathlib import Path

from dropscribe.inbox.watcher import choose_mode, filesystem_type
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.test_daemon import SIDECARS, finished, outcome_files

MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
server:/export /mnt/share nfs4 rw,relatime 0 0
//nas/recordings /srv/smb\\040share cifs rw 0 0
sshfs#me@host: /home/me/remote fuse.sshfs rw 0 0
"""


def test_auto_polls_on_network_file_systems_and_uses_events_elsewhere(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert filesystem_type(Path("/mnt/share/inbox"), mounts) == "nfs4"
    assert choose_mode("auto", Path("/mnt/share/inbox"), mounts)[0] == "polling"
    assert choose_mode("auto", Path("/srv/smb share/in"), mounts)[0] == "polling"
    assert choose_mode("auto", Path("/home/me/remote/x"), mounts)[0] == "polling"
    mode, why = choose_mode("auto", Path("/var/inbox"), mounts)
    assert (mode, why) == ("events", "the inbox is on ext4")
    assert choose_mode("polling", Path("/var/inbox"), mounts) == ("polling", "configured")


def test_polling_mode_finds_and_transcribes_a_dropped_file(workdir: Path) -> None:
    config = write_config(workdir, {"watch": {"mode": "polling", "poll_seconds": 0.2}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        assert daemon.wait_event("watching")["mode"] == "polling"
        daemon.wait_event("ready", timeout=30)
        (inbox / "sub").mkdir()
        (inbox / "sub" / "polled.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        wait_for(lambda: finished(outbox / "sub", "polled"), 60, "the transcript")
        assert daemon.stop() == 0


def test_kept_originals_are_not_transcribed_again_by_rescans_or_restarts(workdir: Path) -> None:
    config = write_config(
        workdir, {"paths": {"originals": "keep"}, "watch": {"rescan_seconds": 0.5}}
    )
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    (inbox / "kept.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
    for _ in range(2):  # a restart must not redo it either
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "kept"), 60, "the transcript")
            # Several rescans pass over the kept file.
            wait_for(
                lambda: len([e for e in daemon.events() if e.get("event") == "scanned"]) >= 3,
                10,
                "three scans",
            )
            assert daemon.stop() == 0
    assert (inbox / "kept.wav").exists()
    assert [job["state"] for job in cli_json("jobs", config)] == ["done"]
    assert outcome_files(outbox, "kept") == sorted(f"kept.{e}" for e in SIDECARS)


def test_deleted_originals_leave_only_the_sidecars(workdir: Path) -> None:
    config = write_config(workdir, {"paths": {"originals": "delete"}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    (inbox / "gone.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
    with DaemonProcess(config) as daemon:
        wait_for(lambda: finished(outbox, "gone"), 60, "the transcript")
        assert daemon.stop() == 0
    assert list(inbox.iterdir()) == [] and not (workdir / "archive").exists()


def test_a_worker_over_its_memory_limit_is_replaced_and_the_file_fails_clearly(
    workdir: Path,
) -> None:
    config = write_config(
        workdir, {"backends.local": {"max_memory_mb": 20}, "transcribe": {"max_attempts": 2}}
    )
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    (inbox / "big.flac").write_bytes((AUDIO / "long_reading.flac").read_bytes())
    with DaemonProcess(config) as daemon:
        wait_for(lambda: finished(outbox, "big"), 90, "the error sidecar")
        limits = [e for e in daemon.events() if e.get("event") == "worker_memory_limit"]
        assert daemon.stop() == 0
    assert len(limits) == 2  # one per attempt, each with a fresh worker
    report = json.loads((outbox / "big.error.json").read_text())
    assert report["error"].startswith("Gave up after 2 attempts: The worker used more than 20 MB")
    assert report["attempts"] == 2
