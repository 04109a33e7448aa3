"""``dropscribe transcribe`` names sidecars as the daemon does and takes the daemon's
path to a result: upload limits, fallback, Retry-After, server trouble ridden out."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dropscribe.commands.oneshot import output_names, transcribe_files
from dropscribe.config import load_settings
from dropscribe.sources import DIRECTORY, LINK, SPECIAL
from tests.helpers import AUDIO, write_config
from tests.remote_setup import COMPACT_ALL, FAST_POLLS, NO_COVERAGE, TOKEN, backend_section
from tests.servers import Fault, OctoAIServer, OpenAIServer


def sha8(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def test_two_files_with_one_stem_keep_apart_as_in_the_daemon(workdir: Path) -> None:
    with OpenAIServer() as server:
        server.token = TOKEN
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": "openai"},
                # The original bytes go out, so the fake server's answer names their hash;
                # its three words leave gaps the coverage pass would fill (not this test's).
                "backends.openai": {
                    **FAST_POLLS,
                    **NO_COVERAGE,
                    **backend_section("openai", server.url),
                    "upload_format": "original",
                },
            },
        )
        wav, mp3 = workdir / "a.wav", workdir / "a.mp3"
        wav.write_bytes((AUDIO / "numbers.wav").read_bytes())
        mp3.write_bytes((AUDIO / "weather.mp3").read_bytes())
        out = workdir / "d"
        done = subprocess.run(
            [
                *(sys.executable, "-m", "dropscribe", "transcribe", str(wav), str(mp3)),
                *("--out", str(out), "--config", str(config)),
            ],
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    first = json.loads((out / "a.json").read_text())
    second = json.loads((out / "a.mp3.json").read_text())
    assert sha8(wav) in first["transcription"] and first["source"]["path"].endswith("a.wav")
    assert sha8(mp3) in second["transcription"] and second["source"]["path"].endswith("a.mp3")
    assert (out / "a.mp3.srt").exists() and (out / "a.srt").exists()


def test_output_names_follow_the_daemon_rule_first_comes_plain() -> None:
    files = [Path("x/a.wav"), Path("a.mp3"), Path("y/a.wav"), Path("b.flac")]
    assert output_names(files) == ["a", "a.mp3", "a.wav", "b"]
    first, second, third, fourth = output_names([Path(f"{d}/a.wav") for d in "vwxy"])
    assert (first, second) == ("a", "a.wav")
    assert third.startswith("a.wav~") and fourth == f"{third}.2"


def test_transcribe_waits_as_a_429_asks_and_rides_out_a_500(workdir: Path) -> None:
    waits: list[float] = []
    with OpenAIServer() as server:
        server.token = TOKEN
        server.faults["submit"].extend(
            [
                Fault(429, b'{"error": "slow down"}', {"Retry-After": "7"}),
                Fault(500, b'{"error": "oops"}'),
                Fault(drop=True),
            ]
        )
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": "openai", "max_attempts": 1},
                # The original bytes go out, so the fake server's answer names their hash;
                # its three words leave gaps the coverage pass would fill (not this test's).
                "backends.openai": {
                    **FAST_POLLS,
                    **NO_COVERAGE,
                    **backend_section("openai", server.url),
                    "upload_format": "original",
                },
            },
        )
        (workdir / "memo.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        code = transcribe_files(
            load_settings(config), [workdir / "memo.wav"], workdir / "out", sleep=waits.append
        )
        assert len(server.submissions) == 1
    assert code == 0
    assert waits[0] == 7.0  # the server's Retry-After, not our backoff
    assert len(waits) == 3  # three faults, none of them spent the single attempt
    assert (workdir / "out" / "memo.json").exists()


def test_a_file_over_the_upload_limit_goes_to_the_fallback_backend(workdir: Path) -> None:
    with OpenAIServer() as small, OctoAIServer() as large:
        small.token = large.token = TOKEN
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": "openai"},
                "backends.openai": {
                    **FAST_POLLS,
                    **backend_section("openai", small.url),
                    "max_upload_bytes": 1000,
                    "upload_format": "original",  # compact uploads would go in chunks
                    "fallback": "octoai",
                },
                "backends.octoai": {
                    **FAST_POLLS,
                    **NO_COVERAGE,  # the fake's three words leave gaps: one upload here
                    **backend_section("octoai", large.url),
                },
            },
        )
        (workdir / "long.wav").write_bytes((AUDIO / "weather.wav").read_bytes())
        code = transcribe_files(load_settings(config), [workdir / "long.wav"], workdir / "out")
        assert (len(small.submissions), len(large.submissions)) == (0, 1)
    assert code == 0
    document = json.loads((workdir / "out" / "long.json").read_text())
    assert document["engine"]["backend"] == "octoai"


def test_a_file_over_the_limit_without_fallback_fails_with_one_sentence(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        workdir,
        {
            "transcribe": {"backend": "openai"},
            "backends.openai": {
                "base_url": "http://127.0.0.1:9/v1",
                "max_upload_bytes": 1000,
                "upload_format": "original",
            },
        },
    )
    (workdir / "long.wav").write_bytes((AUDIO / "weather.wav").read_bytes())
    code = transcribe_files(load_settings(config), [workdir / "long.wav"], workdir / "out")
    assert code == 1
    assert not (workdir / "out" / "long.json").exists()
    (line,) = capsys.readouterr().err.splitlines()
    assert "over the 1000 bytes upload limit of the openai backend" in line


def test_transcribe_never_reads_through_a_symbolic_link(workdir: Path) -> None:
    secret = workdir / "secret.wav"
    secret.write_bytes((AUDIO / "numbers.wav").read_bytes())
    link = workdir / "link.wav"
    link.symlink_to(secret)
    config = write_config(workdir, {"transcribe": {"backend": "openai"}})
    assert transcribe_files(load_settings(config), [link], workdir / "out") == 1
    assert not (workdir / "out").exists() or not any((workdir / "out").iterdir())


def test_transcribe_refuses_what_is_no_recording_with_the_daemons_sentences(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A link, a folder and a pipe are refused by the one check the daemon uses (a pipe
    without waiting for a writer), each with its one sentence."""
    (workdir / "link.wav").symlink_to(AUDIO / "numbers.wav")
    (workdir / "folder.wav").mkdir()
    os.mkfifo(workdir / "pipe.wav")
    files = [workdir / name for name in ("link.wav", "folder.wav", "pipe.wav", "gone.wav")]
    config = write_config(workdir, {"transcribe": {"backend": "openai"}})
    assert transcribe_files(load_settings(config), files, workdir / "out") == 1
    link, folder, pipe, gone = capsys.readouterr().err.splitlines()
    assert link == f"dropscribe: {files[0]}: {LINK}"
    assert folder == f"dropscribe: {files[1]}: {DIRECTORY}"
    assert pipe == f"dropscribe: {files[2]}: {SPECIAL}"
    assert gone == f"dropscribe: {files[3]}: does not exist; give the path of a recording."


def test_transcribe_sending_chunks_waits_for_a_server_that_is_starting(workdir: Path) -> None:
    """The compact-chunk path obeys the daemon's policy too: a cold-starting server (health
    503) is waited for, not a failed file."""
    waits: list[float] = []
    with OctoAIServer() as server:
        server.token = TOKEN
        server.faults["health"].extend([Fault(503, b"warming up"), Fault(503, b"warming up")])
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": "octoai", "max_attempts": 1},
                "backends.octoai": {
                    **FAST_POLLS,
                    **backend_section("octoai", server.url),
                    **COMPACT_ALL,
                },
            },
        )
        (workdir / "memo.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        code = transcribe_files(
            load_settings(config), [workdir / "memo.wav"], workdir / "out", sleep=waits.append
        )
    assert code == 0
    assert waits, "the starting server was waited for"
    assert json.loads((workdir / "out" / "memo.json").read_text())["engine"]["upload"]
