"""What a new user tripped on (issue 28), each tried as that user did: a real daemon."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import dropscribe
from dropscribe.commands.program import program_name
from dropscribe.jobs.store import Store
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.servers import OctoAIServer

SIDECARS = ("json", "txt", "srt", "vtt")
ERROR_SCHEMA = Path(dropscribe.__file__).parent / "schema" / "error.schema.json"


def sidecars_of(outbox: Path, stem: str) -> list[str]:
    return sorted(p.name for p in outbox.glob(f"{stem}.*"))


def test_two_copies_dropped_together_are_transcribed_once_and_both_get_sidecars(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=60)
        # Both renamed in at once, as `cp a.wav b.wav inbox/` does: one intake batch.
        for name in ("a.wav", "b.wav"):
            shutil.copy(AUDIO / "weather.wav", inbox / f"{name}.part")
        for name in ("a.wav", "b.wav"):
            (inbox / f"{name}.part").rename(inbox / name)
        wait_for(
            lambda: all(len(sidecars_of(outbox, s)) == len(SIDECARS) for s in "ab"),
            120,
            "both sets of sidecars",
        )
        wait_for(lambda: daemon.event("job_done", state="skipped"), 30, "the copy settled")
        assert daemon.stop() == 0
    submitted = [e for e in daemon.events() if e["event"] == "job_submitted"]
    assert len(submitted) == 1, submitted
    states = sorted(job["state"] for job in cli_json("jobs", config))
    assert states == ["done", "skipped"]
    texts = {json.loads((outbox / f"{s}.json").read_text())["transcription"] for s in "ab"}
    assert len(texts) == 1


def test_the_daemon_writes_nothing_into_its_users_home(workdir: Path) -> None:
    """onnxruntime (under the voice detector) wrote a device id and a database there."""
    home = workdir / "home"
    home.mkdir()
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    daemon = DaemonProcess(config, {"HOME": str(home), "ORT_DISABLE_TELEMETRY": "0"})
    daemon.env = {k: v for k, v in daemon.env.items() if not k.startswith("XDG_")}
    with daemon:
        daemon.wait_event("ready", timeout=60)
        shutil.copy(AUDIO / "weather.wav", inbox / "weather.wav")
        wait_for(lambda: len(sidecars_of(outbox, "weather")) == 4, 120, "the transcript")
        assert daemon.stop() == 0
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


def test_hints_name_the_program_as_it_was_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / ".venv" / "bin" / "dropscribe"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    assert program_name(".venv/bin/dropscribe") == ".venv/bin/dropscribe"
    assert program_name(".venv/bin/dropscribe", absolute=True) == str(script)
    assert program_name("dropscribe") == "dropscribe"  # found on the PATH
    module = str(Path(dropscribe.__file__).parent / "__main__.py")
    assert program_name(module, absolute=True) == f"{sys.executable} -m dropscribe"
    assert program_name("/usr/bin/pytest") == "dropscribe"


def test_status_before_the_first_run_names_the_program_as_it_was_run(workdir: Path) -> None:
    config = write_config(workdir)
    command = [sys.executable, "-m", "dropscribe", "status", "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    started = f"'{sys.executable} -m dropscribe run --config {config.resolve()}'"
    assert started in result.stdout and started in result.stderr  # status's line, the store's


def test_a_text_file_named_mp3_is_refused_at_intake_in_one_sentence_with_a_retry_line_that_runs(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=60)
        (inbox / "notes.mp3").write_text("hello world, these are notes\n")
        daemon.wait_event("job_failed", timeout=60, file="notes.mp3")
        assert daemon.stop() == 0
    assert daemon.event("job_submitted") is None  # never queued behind real work
    report = json.loads((outbox / "notes.error.json").read_text())
    jsonschema.validate(report, json.loads(ERROR_SCHEMA.read_text()))
    assert report["error"] == "The file holds text, not a recording; drop the recording itself."
    assert "hello world" in report["detail"]
    # The daemon ran as `python -m dropscribe`: the retry line says so, and works pasted.
    hint = report["retry"].removeprefix("fix the cause, then run: ")
    assert hint.startswith(f"{sys.executable} -m dropscribe retry --config ")
    pasted = subprocess.run(hint, shell=True, capture_output=True, text=True, timeout=60)
    assert pasted.returncode == 0 and "queued again: 1 job(s)" in pasted.stdout, pasted


def test_an_undecodable_file_says_so_in_one_sentence_the_decoder_s_words_in_detail(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=60)
        (inbox / "noise.mp3").write_bytes(bytes(range(256)) * 64)
        daemon.wait_event("job_failed", timeout=90, file="noise.mp3")
        assert daemon.stop() == 0
    report = json.loads((outbox / "noise.error.json").read_text())
    jsonschema.validate(report, json.loads(ERROR_SCHEMA.read_text()))
    assert report["error"] == (
        "The file could not be decoded as audio; check that it is a complete recording "
        "in a supported format."
    )
    assert report["detail"] and "Errno" not in report["error"]


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dropscribe", *args, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_status_json_before_the_first_run_says_no_daemon_and_counts_nothing(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    result = run_cli(config, "status", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["daemon"] == {"running": False}
    assert set(report["counts"].values()) == {0} and report["in_flight"] == []
    assert "no job store" in result.stderr


def test_status_shows_the_files_still_settling_in_the_inbox(workdir: Path) -> None:
    config = write_config(workdir)
    (workdir / "inbox").mkdir()
    shutil.copy(AUDIO / "weather.wav", workdir / "inbox" / "weather.wav")
    (workdir / "inbox" / "notes.pdf").write_text("not on the allow-list")
    report = json.loads(run_cli(config, "status", "--json").stdout)
    assert report["settling"] == {"count": 1, "files": ["weather.wav"]}
    text = run_cli(config, "status").stdout
    assert "in the inbox, not taken in yet: 1 " in text and "weather.wav" in text


def test_status_into_a_closed_pipe_ends_without_a_traceback(workdir: Path) -> None:
    config = write_config(workdir)
    Store(workdir / "state" / "dropscribe.sqlite3").close()
    command = [sys.executable, "-m", "dropscribe", "status", "--json", "--config", str(config)]
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone, as `| head` does once it has its lines
    try:
        result = subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(writer)
    assert b"Traceback" not in result.stderr and b"BrokenPipeError" not in result.stderr
    assert result.returncode == 1


def test_every_subcommand_help_says_where_the_configuration_is_searched() -> None:
    for command in ("run", "status", "jobs", "retry", "transcribe", "check"):
        result = subprocess.run(
            [sys.executable, "-m", "dropscribe", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        text = " ".join(result.stdout.split())  # argparse wraps lines
        assert "see below" in text
        assert "~/.config/dropscribe/config.toml" in text.split("see below")[1]


def test_the_test_servers_print_nothing_when_a_client_hangs_up(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with OctoAIServer() as server, socket.socket() as client:
        assert server._server is not None
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server._server.handle_error(client, ("127.0.0.1", 1))
    assert "Traceback" not in capfd.readouterr().err


def test_check_says_whether_speaker_labels_are_on_and_where_metrics_listen(
    workdir: Path,
) -> None:
    config = write_config(
        workdir, {'folders."calls"': {"diarize": True}, "service": {"metrics_port": 9464}}
    )
    said = run_cli(config, "check").stdout
    assert "speaker labels (transcribe.diarize): on in calls" in said
    assert "metrics (service.metrics_port): http://127.0.0.1:9464/metrics" in said
    said = run_cli(write_config(workdir), "check").stdout
    assert "speaker labels (transcribe.diarize): off" in said
    assert "metrics (service.metrics_port): off" in said
