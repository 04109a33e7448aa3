"""The daemon end to end: a real process, a real watcher, real SQLite, the real engine."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest

from dropscribe.outbox.document import load_schema
from dropscribe.outbox.naming import fit_name, sidecar_stem
from tests.helpers import (
    AUDIO,
    DaemonProcess,
    cli_json,
    reference,
    wait_for,
    word_error_rate,
    write_config,
)

SIDECARS = ("json", "txt", "srt", "vtt")


def outcome_files(outbox: Path, stem: str) -> list[str]:
    """Return the sidecar names written for ``stem`` (its transcript set or its error)."""
    if not outbox.exists():
        return []
    names = {p.name for p in outbox.iterdir()}
    return sorted(
        n for n in names if n in {f"{stem}.{e}" for e in SIDECARS} | {f"{stem}.error.json"}
    )


def finished(outbox: Path, stem: str) -> bool:
    found = outcome_files(outbox, stem)
    return found == [f"{stem}.error.json"] or len(found) == len(SIDECARS)


def drop(source: Path, inbox: Path, name: str | None = None) -> Path:
    """Copy a file in under a temporary name and rename it, as careful uploaders do."""
    target = inbox / (name or source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".part")
    shutil.copy(source, temporary)
    temporary.rename(target)
    return target


@pytest.fixture
def daemon_dirs(workdir: Path) -> Iterator[tuple[Path, Path]]:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    yield inbox, outbox


def test_dropped_speech_gets_every_sidecar_and_the_original_is_archived(workdir: Path) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        drop(AUDIO / "weather.mp3", inbox / "calls")
        drop(AUDIO / "numbers.wav", inbox)
        wait_for(
            lambda: finished(outbox / "calls", "weather") and finished(outbox, "numbers"),
            90,
            "both transcripts",
        )
        assert daemon.stop() == 0
    document = json.loads((outbox / "calls" / "weather.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["source"]["path"] == "calls/weather.mp3"
    assert word_error_rate(reference("weather"), document["transcription"]) < 0.35
    assert (outbox / "numbers.srt").read_text().startswith("1\n00:00:")
    assert (workdir / "archive" / "calls" / "weather.mp3").exists()
    assert list(inbox.rglob("*.mp3")) == []


def test_copies_a_crash_left_half_written_are_removed_at_start(workdir: Path) -> None:
    """The outbox's, the archive's and failed/'s temporaries (originals copied to
    another file system are written under one too) never pile up across crashes."""
    config = write_config(workdir)
    (workdir / "inbox").mkdir()
    left = [workdir / d / ".dropscribe-4242-0.tmp" for d in ("outbox", "archive/calls", "failed")]
    for path in left:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a copy")
    with DaemonProcess(config) as daemon:
        assert daemon.wait_event("starting", timeout=30)["removed_temporaries"] == 3
        daemon.wait_event("ready", timeout=30)
        assert daemon.stop() == 0
    assert not [path for path in left if path.exists()]


def failed_again(daemon: DaemonProcess, job_ids: list[int], times: int) -> Callable[[], bool]:
    """Return a check that the daemon has logged ``job_failed`` ``times`` times for each job."""

    def check() -> bool:
        events = [e.get("job") for e in daemon.events() if e["event"] == "job_failed"]
        return all(events.count(job_id) >= times for job_id in job_ids)

    return check


def make_bad_inputs(inbox: Path) -> dict[str, str]:
    """Create every kind of bad input; return stem -> a phrase its error must contain."""
    (inbox / "empty.wav").write_bytes(b"")
    (inbox / "random.wav").write_bytes(os.urandom(40_000))
    (inbox / "noise.mp3").write_bytes(os.urandom(40_000))
    (inbox / "truncated.mp3").write_bytes((AUDIO / "weather.mp3").read_bytes()[:20_000])
    (inbox / "cut.wav").write_bytes((AUDIO / "weather.wav").read_bytes()[:60_000])
    (inbox / "folder.wav").mkdir()
    outside = inbox.parent / "outside.wav"
    shutil.copy(AUDIO / "numbers.wav", outside)
    (inbox / "link.wav").symlink_to(outside)
    (inbox / "huge.wav").write_bytes(b"\0" * 3_000_000)
    return {
        "empty": "empty",
        "random": "could not be decoded",
        "noise": "could not be decoded",
        "truncated": "truncated: its header promises 4.6 s but only 3.2 s",
        "cut": "truncated",
        "folder": "directory",
        "link": "symbolic link",
        "huge": "over the configured maximum",
    }


def test_bad_input_gets_a_clear_error_sidecar_and_the_daemon_keeps_working(
    workdir: Path,
) -> None:
    config = write_config(workdir, {"transcribe": {"max_file_bytes": 2_000_000}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        expected = make_bad_inputs(inbox)
        weird_names = ["with spaces.wav", "ünïcödé 日本.wav", "new\nline.wav", "x" * 246 + ".wav"]
        for name in weird_names:
            drop(AUDIO / "numbers.wav", inbox, name)
        stems = [*expected, *(sidecar_stem(n) for n in weird_names)]
        wait_for(lambda: all(finished(outbox, s) for s in stems), 120, "every outcome")
        for stem, phrase in expected.items():
            report = json.loads((outbox / f"{stem}.error.json").read_text())
            assert phrase in report["error"], (stem, report)
            assert report["error"].endswith(".") and report["attempts"] <= 1
        for name in weird_names:
            assert len(outcome_files(outbox, sidecar_stem(name))) == len(SIDECARS), name
        assert len(fit_name("x" * 246)) < 246  # the longest name was shortened to fit
        # Each original follows its error sidecar into the failed directory.
        wait_for(
            lambda: (
                (workdir / "failed" / "random.wav").exists()
                and (workdir / "failed" / "link.wav").is_symlink()
            ),
            10,
            "the originals moved",
        )
        assert (inbox / "folder.wav").is_dir()
        assert (workdir / "outside.wav").exists()
        # Retried by id, then with --failed: the link is never read, the folder says so.
        ids = {job["path"]: job["id"] for job in cli_json("jobs", config)}
        retried = [ids["link.wav"], ids["folder.wav"]]
        for how, times in (([str(i) for i in retried], 2), (["--failed"], 3)):
            subprocess.run(
                [sys.executable, "-m", "dropscribe", "retry", "--config", str(config), *how],
                check=True,
                capture_output=True,
            )
            wait_for(failed_again(daemon, retried, times), 60, f"{retried} failed again")
        assert outcome_files(outbox, "link") == ["link.error.json"]
        assert "symbolic link" in json.loads((outbox / "link.error.json").read_text())["error"]
        folder_error = json.loads((outbox / "folder.error.json").read_text())["error"]
        assert "directory with an audio file's name" in folder_error
        assert (workdir / "failed" / "link.wav").is_symlink()
        assert daemon.process is not None and daemon.process.poll() is None
        assert daemon.stop() == 0


def test_a_recording_over_the_duration_limit_and_a_file_vanishing_get_errors(
    workdir: Path,
) -> None:
    config = write_config(workdir, {"transcribe": {"max_duration_seconds": 4.0}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        drop(AUDIO / "weather.wav", inbox)  # 4.6 s
        drop(AUDIO / "numbers.wav", inbox)  # 3.5 s
        wait_for(
            lambda: finished(outbox, "weather") and finished(outbox, "numbers"), 90, "both outcomes"
        )
        report = json.loads((outbox / "weather.error.json").read_text())
        assert "more than the configured maximum of 4 s" in report["error"]
        assert len(outcome_files(outbox, "numbers")) == len(SIDECARS)
        # A file removed before it is stable is forgotten without a word.
        partial = inbox / "half.wav"
        partial.write_bytes(b"RIFF")
        partial.unlink()
        # A file dropped afterwards is handled after it: once its outcome is there,
        # the vanished one would have had its own.
        drop(AUDIO / "fox.wav", inbox, "later.wav")
        wait_for(lambda: finished(outbox, "later"), 60, "the later file's transcript")
        assert outcome_files(outbox, "half") == []
        assert daemon.stop() == 0


def test_an_unreadable_file_gets_a_clear_error(workdir: Path) -> None:
    """Root reads everything: the daemon runs without the capabilities that bypass modes."""
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    secret = inbox / "secret.wav"
    shutil.copy(AUDIO / "numbers.wav", secret)
    secret.chmod(0o000)
    daemon = DaemonProcess(config)
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv (util-linux) to drop root's file capabilities")
        daemon.prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    with daemon:
        wait_for(lambda: finished(outbox, "secret"), 60, "the error sidecar")
        report = json.loads((outbox / "secret.error.json").read_text())
        assert "permission denied" in report["error"]
        # Made readable and retried: hashed before it is sent, so its transcript has the
        # real hash (intake recorded none) and its result is kept under that content.
        kept = workdir / "failed" / "secret.wav"
        wait_for(kept.exists, 10, "the original in the failed folder")
        kept.chmod(0o644)
        subprocess.run(
            [sys.executable, "-m", "dropscribe", "retry", "--failed", "--config", str(config)],
            check=True,
            capture_output=True,
        )
        wait_for(lambda: (outbox / "secret.json").exists(), 60, "the transcript")
        assert daemon.stop() == 0
    document = json.loads((outbox / "secret.json").read_text())
    jsonschema.validate(document, load_schema())
    expected = hashlib.sha256((AUDIO / "numbers.wav").read_bytes()).hexdigest()
    assert document["source"]["sha256"] == expected
    assert not (outbox / "secret.error.json").exists()


def test_duplicates_reuse_the_result_and_stems_never_collide(workdir: Path) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        drop(AUDIO / "weather.wav", inbox, "a.wav")
        wait_for(lambda: finished(outbox, "a"), 60, "the first transcript")
        drop(AUDIO / "weather.wav", inbox, "copy.wav")
        drop(AUDIO / "weather.mp3", inbox, "a.mp3")
        wait_for(
            lambda: finished(outbox, "copy") and finished(outbox, "a.mp3"),
            60,
            "the duplicate and the same-stem file",
        )
        daemon.wait_event("duplicate_reused", file="copy.wav")
        assert daemon.stop() == 0
    first = json.loads((outbox / "a.json").read_text())
    copy = json.loads((outbox / "copy.json").read_text())
    assert first["transcription"] == copy["transcription"]
    assert copy["source"]["path"] == "copy.wav"
    assert json.loads((outbox / "a.mp3.json").read_text())["source"]["path"] == "a.mp3"
    jobs = cli_json("jobs", config)
    by_path = {job["path"]: job for job in jobs}
    assert by_path["copy.wav"]["state"] == "skipped"
    assert by_path["copy.wav"]["submissions"] == 0
    assert by_path["a.wav"]["submissions"] == 1


def test_a_file_that_keeps_growing_is_waited_for(workdir: Path) -> None:
    config = write_config(workdir, {"watch": {"settle_seconds": 0.6}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    content = (AUDIO / "weather.wav").read_bytes()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        with (inbox / "slow.wav").open("wb") as stream:
            for start in range(0, len(content), len(content) // 8):
                stream.write(content[start : start + len(content) // 8])
                stream.flush()
                time.sleep(0.2)  # a slow uploader: quiet less than settle_seconds
        wait_for(lambda: finished(outbox, "slow"), 60, "the transcript")
        assert daemon.stop() == 0
        queued = [e for e in daemon.events() if e.get("event") == "job_queued"]
    assert len(queued) == 1
    document = json.loads((outbox / "slow.json").read_text())
    assert word_error_rate(reference("weather"), document["transcription"]) < 0.35


def test_sigterm_hands_back_the_work_and_exits_0_quickly(workdir: Path) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    drop(AUDIO / "long_reading.flac", inbox)
    with DaemonProcess(config) as daemon:
        daemon.wait_event("job_submitted", timeout=60)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        assert time.monotonic() - started < 5
        daemon.wait_event("job_handed_back", timeout=1)
    assert outcome_files(outbox, "long_reading") == []
    with DaemonProcess(config) as daemon:
        wait_for(lambda: finished(outbox, "long_reading"), 120, "the transcript after restart")
        assert daemon.stop() == 0
    report = cli_json("status", config)
    assert report["counts"]["done"] == 1


def test_a_killed_worker_mid_file_is_replaced_and_the_file_retried(workdir: Path) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        drop(AUDIO / "long_reading.flac", inbox)
        worker = daemon.wait_event("worker_ready", timeout=60)
        daemon.wait_event("job_submitted", timeout=60)
        # Decoding or transcribing, a killed worker costs the file this attempt.
        os.kill(worker["pid"], signal.SIGKILL)
        daemon.wait_event("job_retry", timeout=30, file="long_reading.flac")
        wait_for(lambda: finished(outbox, "long_reading"), 120, "the transcript")
        done = daemon.wait_event("job_done", file="long_reading.flac")
        assert done["attempt"] == 2
        assert daemon.stop() == 0
    assert outcome_files(outbox, "long_reading") == [f"long_reading.{e}" for e in sorted(SIDECARS)]
