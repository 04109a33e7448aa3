"""The daemon with remote engines: futures survive kill -9, servers go down and come back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.remote_setup import FAST_POLLS, SERVERS, TOKEN, backend_section, remote_config
from tests.servers import Fault, OctoAIServer
from tests.test_daemon import SIDECARS, finished, outcome_files


def jobs(config: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = cli_json("jobs", config)
    return listed


@pytest.mark.parametrize("name", ["octoai", "runpod", "replicate"])
def test_futures_in_flight_survive_sigkill_without_a_second_submission(
    workdir: Path, name: str
) -> None:
    server = SERVERS[name]()
    server.pending_polls = 30  # each future stays pending for a second or two
    server.token = TOKEN
    with server:
        config = remote_config(
            workdir, name, server.url, poll_initial_seconds=0.05, poll_max_seconds=0.1
        )
        inbox, outbox = workdir / "inbox", workdir / "outbox"
        inbox.mkdir()
        stems = []
        for n in range(4):
            (inbox / f"call{n}.wav").write_bytes((AUDIO / "numbers.wav").read_bytes() + bytes(n))
            stems.append(f"call{n}")
        with DaemonProcess(config) as daemon:
            wait_for(
                lambda: len([e for e in daemon.events() if e.get("event") == "job_submitted"]) == 4,
                30,
                "four futures in flight",
            )
            daemon.kill()
        assert all(outcome_files(outbox, stem) == [] for stem in stems)
        assert {job["state"] for job in jobs(config)} == {"running"}
        with DaemonProcess(config) as daemon:
            wait_for(lambda: all(finished(outbox, s) for s in stems), 60, "every transcript")
            assert daemon.stop() == 0
        assert len(server.submissions) == 4
        listed = jobs(config)
        assert [job["submissions"] for job in listed] == [1, 1, 1, 1]
        assert {job["state"] for job in listed} == {"done"}
        for stem in stems:
            document = json.loads((outbox / f"{stem}.json").read_text())
            assert document["engine"]["backend"] == name
            assert "received" in document["transcription"]


def test_a_file_dropped_while_the_server_is_down_is_transcribed_once_it_is_back(
    workdir: Path,
) -> None:
    server = OctoAIServer().start()
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    config = remote_config(workdir, "octoai", server.url)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        (inbox / "meeting.wav").write_bytes((AUDIO / "weather.wav").read_bytes())
        daemon.wait_event("backend_down", timeout=30)
        wait_for(
            lambda: len([e for e in daemon.events() if e.get("event") == "backend_down"]) >= 3,
            30,
            "several waits while the server is down",
        )
        assert outcome_files(outbox, "meeting") == []
        revived = OctoAIServer(port=port)
        revived.token = TOKEN
        with revived:
            wait_for(lambda: finished(outbox, "meeting"), 30, "the transcript")
            assert daemon.stop() == 0
    assert outcome_files(outbox, "meeting") == sorted(f"meeting.{e}" for e in SIDECARS)
    listed = jobs(config)
    assert [job["state"] for job in listed] == ["done"]
    assert listed[0]["attempts"] == 1  # waiting for the server used up no attempt
    assert len(revived.submissions) == 1


def test_folders_choose_their_backend_and_large_files_use_the_fallback(workdir: Path) -> None:
    with OctoAIServer() as server:
        server.token = TOKEN
        config = write_config(
            workdir,
            {
                "folders.remote": {"backend": "octoai"},
                "folders.strict": {"backend": "runpod"},
                "backends.octoai": {
                    **FAST_POLLS,
                    **backend_section("octoai", server.url),
                    "max_upload_bytes": 120_000,
                    "fallback": "local",
                    "upload_format": "original",  # sent as it is, so its size decides
                },
                "backends.runpod": {
                    **FAST_POLLS,
                    "base_url": f"{server.url}/v2",
                    "endpoint_id": "x",
                    "api_key": TOKEN,
                    "max_upload_bytes": 1000,
                    "upload_format": "original",
                },
            },
        )
        inbox, outbox = workdir / "inbox", workdir / "outbox"
        for folder in ("remote", "strict"):
            (inbox / folder).mkdir(parents=True)
        (inbox / "remote" / "small.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        (inbox / "remote" / "large.wav").write_bytes((AUDIO / "weather.wav").read_bytes())
        (inbox / "strict" / "large.wav").write_bytes((AUDIO / "weather.wav").read_bytes())
        (inbox / "home.mp3").write_bytes((AUDIO / "weather.mp3").read_bytes())
        with DaemonProcess(config) as daemon:
            wait_for(
                lambda: (
                    finished(outbox / "remote", "small")
                    and finished(outbox / "remote", "large")
                    and finished(outbox / "strict", "large")
                    and finished(outbox, "home")
                ),
                90,
                "every outcome",
            )
            assert daemon.stop() == 0
    engines = {
        path: json.loads((outbox / f"{path}.json").read_text())["engine"]["backend"]
        for path in ("remote/small", "remote/large", "home")
    }
    assert engines == {"remote/small": "octoai", "remote/large": "local", "home": "local"}
    report = json.loads((outbox / "strict" / "large.error.json").read_text())
    expected = "The file is 0.1 MB, over the 1000 bytes upload limit of the runpod backend"
    assert expected in report["error"]
    assert "backends.runpod.fallback" in report["error"]


def test_retry_brings_a_failed_file_back_and_its_error_gives_way_to_a_transcript(
    workdir: Path,
) -> None:
    with OctoAIServer() as server:
        server.token = TOKEN
        config = remote_config(workdir, "octoai", server.url)
        inbox, outbox = workdir / "inbox", workdir / "outbox"
        inbox.mkdir()
        server.faults["submit"].append(
            Fault(400, b'{"error": "audio format not supported by this deployment"}')
        )
        with DaemonProcess(config) as daemon:
            daemon.wait_event("ready", timeout=30)
            (inbox / "memo.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
            wait_for(lambda: finished(outbox, "memo"), 30, "the error sidecar")
            report = json.loads((outbox / "memo.error.json").read_text())
            assert report["detail"] == "audio format not supported by this deployment"
            # The original follows its error sidecar into the failed directory.
            wait_for(lambda: (workdir / "failed" / "memo.wav").exists(), 10, "the original moved")
            # The deployment is fixed; the operator retries while the daemon runs.
            retried = subprocess.run(
                [sys.executable, "-m", "dropscribe", "retry", "--failed", "--config", str(config)],
                capture_output=True,
                text=True,
                check=True,
            )
            assert "queued again: 1 job(s)" in retried.stdout
            wait_for(
                lambda: outcome_files(outbox, "memo") == sorted(f"memo.{e}" for e in SIDECARS),
                30,
                "the transcript after the retry",
            )
            assert daemon.stop() == 0
    assert (workdir / "archive" / "memo.wav").exists()
    assert not (workdir / "failed" / "memo.wav").exists()
    assert [job["state"] for job in jobs(config)] == ["done"]
