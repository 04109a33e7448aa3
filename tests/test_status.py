"""`status` and `jobs` as a person or a script reads them; the daemon's lock file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dropscribe import __version__
from dropscribe.config import load_settings
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store
from dropscribe.service.daemon_lock import AlreadyRunning, DaemonLock, lock_path, running_daemon
from dropscribe.transcript import Transcription
from tests.helpers import write_config

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def dropscribe(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dropscribe", *args, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def a_store_with_jobs(workdir: Path) -> Store:
    store = Store(workdir / "state" / "dropscribe.sqlite3")
    for name, state in (("a.wav", JobState.FAILED), ("b.wav", JobState.QUEUED)):
        job = store.add_job(
            path=name,
            sha256="0" * 64,
            size=1,
            mtime=1.0,
            output_name=name[:-4],
            backend="local",
            language="auto",
            task="transcribe",
            settings_key="k",
        )
        store.move(job.id, state, error="boom." if state == JobState.FAILED else None)
    return store


def test_status_says_a_daemon_runs_only_while_one_holds_the_lock(workdir: Path) -> None:
    config = write_config(workdir)
    a_store_with_jobs(workdir)
    lock = lock_path(load_settings(config).paths)
    # What a crashed daemon leaves behind: its pid (ours, alive) but no lock held.
    lock.write_text(json.dumps({"pid": os.getpid(), "started_at": 1.0, "version": "0"}))
    # The hint starts the daemon on this config: a pasted "dropscribe run" would look for
    # another (config.example.toml, say, is none of the names searched).
    hint = f"start it with '{sys.executable} -m dropscribe run --config {config.resolve()}'"
    status = dropscribe(config, "status").stdout
    assert f"daemon: not running ({hint} or its systemd unit)" in status
    assert json.loads(dropscribe(config, "status", "--json").stdout)["daemon"] == {"running": False}
    held = DaemonLock.acquire(lock, __version__, time.time() - 3700)
    try:
        text = dropscribe(config, "status").stdout
        assert re.search(
            rf"daemon: running \(pid {os.getpid()}, up 1 h 01 min since \S+Z, "
            rf"version {re.escape(__version__)}\)",
            text,
        ), text
        daemon = json.loads(dropscribe(config, "status", "--json").stdout)["daemon"]
        assert daemon["running"] and daemon["pid"] == os.getpid()
        assert ISO.match(daemon["started_at"]) and daemon["uptime_seconds"] >= 3700
    finally:
        held.release()
    assert running_daemon(lock) is None


def test_a_second_daemon_on_the_same_store_is_refused(workdir: Path) -> None:
    config = write_config(workdir, {"transcribe": {"backend": "openai"}})
    (workdir / "state").mkdir()
    lock = lock_path(load_settings(config).paths)
    held = DaemonLock.acquire(lock, __version__, time.time())
    try:
        with pytest.raises(AlreadyRunning):
            DaemonLock.acquire(lock, __version__, time.time())
        result = dropscribe(config, "run")
        assert result.returncode == 1
        assert f"another dropscribe daemon (pid {os.getpid()}) is running" in result.stderr
    finally:
        held.release()


def test_a_second_daemon_is_refused_before_it_starts_an_engine_worker(workdir: Path) -> None:
    config = write_config(workdir)  # the local engine: its worker would load the model
    (workdir / "inbox").mkdir()
    (workdir / "state").mkdir()
    held = DaemonLock.acquire(lock_path(load_settings(config).paths), __version__, time.time())
    try:
        result = dropscribe(config, "run")
    finally:
        held.release()
    assert result.returncode == 1
    assert "is running on this job store" in result.stderr
    assert "worker" not in result.stdout + result.stderr


def test_status_and_jobs_give_times_in_iso_8601_and_jobs_has_a_header(workdir: Path) -> None:
    config = write_config(workdir)
    a_store_with_jobs(workdir)
    status = json.loads(dropscribe(config, "status", "--json").stdout)
    assert ISO.match(status["last_failures"][0]["at"])
    listed = json.loads(dropscribe(config, "jobs", "--json").stdout)
    for job in listed:
        for key in ("mtime", "created_at", "updated_at"):
            assert ISO.match(job[key]), (key, job[key])
    assert listed[0]["mtime"] == "1970-01-01T00:00:01Z"
    lines = dropscribe(config, "jobs").stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "BACKEND", "UPDATED", "(UTC)", "WARNINGS", "FILE"]
    assert re.match(r"^\s+1  failed\s+local\s+\d{4}-\S+Z\s+a\.wav  boom\.$", lines[1]), lines[1]
    assert "failed: #1 a.wav at " in dropscribe(config, "status").stdout


def a_store_with_warnings(workdir: Path) -> Path:
    """Write a config and three finished jobs, the first with a warning; return the config."""
    config = write_config(workdir)
    store = Store(workdir / "state" / "dropscribe.sqlite3")
    for n, warnings in enumerate((["The engine was unsure of this transcript."], [], None)):
        job = store.add_job(
            path=f"{n}.wav",
            sha256=f"{n}" * 64,
            size=1,
            mtime=1.0,
            output_name=str(n),
            backend="local",
            language="auto",
            task="transcribe",
            settings_key="k",
        )
        for state in (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING):
            store.move(job.id, state)
        result = Transcription([], "en", 1.0, 1.0, warnings=warnings or [])
        store.save_result(job.id, result.to_dict())
        store.move(job.id, JobState.DONE)
    store.close()
    return config


def test_status_counts_the_transcripts_whose_warnings_say_they_may_be_wrong(
    workdir: Path,
) -> None:
    config = a_store_with_warnings(workdir)
    report = json.loads(dropscribe(config, "status", "--json").stdout)
    assert report["with_warnings"] == 1
    assert "transcripts with warnings: 1" in dropscribe(config, "status").stdout


def test_jobs_shows_which_transcripts_have_warnings_and_lists_only_those(
    workdir: Path,
) -> None:
    config = a_store_with_warnings(workdir)
    listed = json.loads(dropscribe(config, "jobs", "--json").stdout)
    assert [job["warnings"] for job in listed] == [
        ["The engine was unsure of this transcript."],
        [],
        [],
    ]
    warned = json.loads(dropscribe(config, "jobs", "--warnings", "--json").stdout)
    assert [job["path"] for job in warned] == ["0.wav"]
    table = dropscribe(config, "jobs").stdout.splitlines()
    column = table[0].index("WARNINGS")
    assert [line[column : column + 8].strip() for line in table[1:]] == ["1", "", ""]
    only = dropscribe(config, "jobs", "--warnings").stdout.splitlines()
    assert len(only) == 3
    assert only[1].rstrip().endswith("0.wav")
    assert only[2] == " " * 8 + "The engine was unsure of this transcript."
