"""Long recordings to remote engines: compact uploads, chunks at pauses, chunks in the store.

Every test runs the real daemon against a real server on 127.0.0.1 with real
audio (long_reading.flac, about 31 s, cut into chunks by a short
``max_chunk_seconds``); the servers decode what arrives.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dropscribe.jobs.store import Store
from dropscribe.outbox.document import load_schema
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for
from tests.remote_setup import COMPACT_ALL, SERVERS, TOKEN, remote_config
from tests.servers import UNSURE, FakeServer, Fault
from tests.test_compact_uploads import BASE64_BAND, MULTIPART_BAND
from tests.test_daemon import finished

LONG = AUDIO / "long_reading.flac"
#: Short enough that the 31 s reading goes as several chunks.
CHUNK_SECONDS = 10


def make_server(name: str, **attributes: Any) -> FakeServer:
    """The protocol's fake server, not yet started (``with`` starts it)."""
    server = SERVERS[name]()
    server.token = TOKEN
    for key, value in attributes.items():
        setattr(server, key, value)
    return server


def config_for(workdir: Path, name: str, server: FakeServer, **extra: Any) -> Path:
    settings = {"max_chunk_seconds": CHUNK_SECONDS, **COMPACT_ALL, **extra}
    return remote_config(workdir, name, server.url, **settings)


def drop_long(workdir: Path, name: str = "meeting.flac") -> Path:
    inbox = workdir / "inbox"
    inbox.mkdir(exist_ok=True)
    target = inbox / name
    target.write_bytes(LONG.read_bytes())
    return target


def chunk_events(daemon: DaemonProcess, event: str) -> list[dict[str, Any]]:
    return [e for e in daemon.events() if e.get("event") == event]


def jobs(config: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = cli_json("jobs", config)
    return listed


@pytest.mark.parametrize("name", list(SERVERS))
def test_a_long_recording_goes_as_compact_chunks_and_comes_back_as_one_transcript(
    workdir: Path, name: str
) -> None:
    with make_server(name) as server:
        config = config_for(workdir, name, server)
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            prepared = daemon.wait_event("upload_prepared")
            assert daemon.stop() == 0
    document = json.loads((outbox / "meeting.json").read_text())
    jsonschema.validate(document, load_schema())
    uploads = server.submissions
    count = prepared["chunks"]
    assert count >= 3 and len(uploads) == count
    # Each upload is 16 kHz mono Ogg Opus no longer than a chunk (plus a forced cut's overlap).
    durations = [job.audio_seconds for job in uploads]
    assert all(d is not None and 2 < d <= CHUNK_SECONDS + 1.01 for d in durations), durations
    assert sum(d or 0 for d in durations) == pytest.approx(30.74, abs=0.1 + count)
    # At the protocol's bit rate: 24 kbit/s where the audio goes as multipart bytes
    # (openai), the lower one where it goes in base64 (the fake servers decode it first).
    kbits = sum(job.audio_bytes for job in uploads) * 8 / sum(d or 0 for d in durations) / 1000
    assert BASE64_BAND[0] < kbits < BASE64_BAND[1] or name == "openai", kbits
    assert MULTIPART_BAND[0] < kbits < MULTIPART_BAND[1] or name != "openai", kbits
    assert document["source"] == {
        "path": "meeting.flac",
        "sha256": document["source"]["sha256"],
        "bytes": LONG.stat().st_size,
    }
    upload = document["engine"]["upload"]
    assert upload["format"] == "opus" and upload["chunks"] == count
    assert upload["bytes"] < LONG.stat().st_size / 4
    # One answer per chunk, each in order at its own offset in the recording.
    segments = document["response"]["segments"]
    assert [s["text"].split()[1] for s in segments] == [
        j.audio_sha256[:8] for j in sorted_by_start(uploads, segments)
    ]
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts) and starts[-1] > 20
    assert document["language"] == "en"
    assert document["duration"] == pytest.approx(30.74, abs=0.05)


def sorted_by_start(uploads: list[Any], segments: list[Any]) -> list[Any]:
    """The uploads in the order of the segments that name them."""
    by_hash = {job.audio_sha256[:8]: job for job in uploads}
    return [by_hash[s["text"].split()[1]] for s in segments]


def test_a_chunk_that_meets_a_server_error_is_sent_again_alone(workdir: Path) -> None:
    with make_server("runpod") as server:
        # The second chunk's submission meets a 503; the others go through.
        server.faults["submit"].extend([None, Fault(503, b'{"error": "no workers"}')])
        config = config_for(workdir, "runpod", server, concurrency=1)
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            retried = chunk_events(daemon, "chunk_retry")
            count = daemon.wait_event("upload_prepared")["chunks"]
            assert daemon.stop() == 0
    assert [e["chunk"] for e in retried] == [1]
    hashes = [job.audio_sha256 for job in server.submissions]
    assert len(hashes) == count and len(set(hashes)) == count  # none sent twice
    assert (outbox / "meeting.json").exists()
    assert [job["submissions"] for job in jobs(config)] == [1]


def test_a_chunk_that_fails_for_good_fails_the_file_and_retry_sends_only_what_is_missing(
    workdir: Path,
) -> None:
    with make_server("octoai") as server:
        server.faults["submit"].extend(
            [None, Fault(422, b'{"error": "audio could not be decoded"}')]
        )
        config = config_for(workdir, "octoai", server, concurrency=1)
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the error report")
            assert daemon.stop() == 0
        report = json.loads((outbox / "meeting.error.json").read_text())
        chunks_sent = len(server.submissions)
        assert chunks_sent == 1
        # The sentence names the failed chunk's time range and the server's words.
        assert report["error"].startswith("The part from 0:0")
        assert "audio could not be decoded" in report["error"]
        # The failure stopped the preparation; the chunks it had written are kept.
        kept = sum(len(found) for found in saved_chunks(workdir).values())
        subprocess_retry(config)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: (outbox / "meeting.json").exists(), 60, "the transcript")
            prepared_again = [e["chunk"] for e in chunk_events(daemon, "chunk_prepared")]
            assert daemon.stop() == 0
    assert kept >= 2 and all(index >= kept for index in prepared_again)
    hashes = [job.audio_sha256 for job in server.submissions]
    assert len(hashes) == len(set(hashes))  # the finished chunk was not sent again
    document = json.loads((outbox / "meeting.json").read_text())
    assert document["engine"]["upload"]["chunks"] == len(hashes)
    assert not (outbox / "meeting.error.json").exists()


def subprocess_retry(config: Path) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "dropscribe", "retry", "--failed", "--config", str(config)],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("name", ["octoai", "replicate"])
def test_after_kill_9_finished_chunks_stay_finished_and_chunks_in_flight_are_polled(
    workdir: Path, name: str
) -> None:
    with make_server(name, pending_polls=20) as server:
        config = config_for(
            workdir, name, server, concurrency=2, poll_initial_seconds=0.05, poll_max_seconds=0.1
        )
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            # Two chunks in flight and at least one finished before the kill.
            wait_for(lambda: len(chunk_events(daemon, "chunk_submitted")) >= 3, 60, "3 chunks")
            daemon.kill()
        saved = saved_chunks(workdir)
        assert "done" in saved and "running" in saved
        assert not (outbox / "meeting.json").exists()
        kept = sum(len(found) for found in saved.values())
        server.pending_polls = 1
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            prepared = [e["chunk"] for e in chunk_events(daemon, "chunk_prepared")]
            assert daemon.stop() == 0
    # The saved chunks came from the store; only those after them (if the kill came
    # while the worker was still preparing) were prepared again.
    assert all(index >= kept for index in prepared)
    hashes = [job.audio_sha256 for job in server.submissions]
    # Finished chunks were not sent again; those in flight were polled, not resubmitted.
    # (A chunk caught between its request and the saved future is sent again, as files are.)
    for sha256 in saved["done"] + saved["running"]:
        assert hashes.count(sha256) == 1
    document = json.loads((outbox / "meeting.json").read_text())
    assert document["engine"]["upload"]["chunks"] == len(set(hashes))
    assert [job["submissions"] for job in jobs(config)] == [1]


def saved_chunks(workdir: Path) -> dict[str, list[str]]:
    """Return the SHA-256 of each saved chunk's file, by the chunk's state in the store."""
    store = Store(workdir / "state" / "dropscribe.sqlite3", readonly=True)
    try:
        chunks = store.chunks.for_job(1)
    finally:
        store.close()
    found: dict[str, list[str]] = {}
    for chunk in chunks:
        data = (workdir / "state" / "uploads" / "job-1" / chunk.path).read_bytes()
        found.setdefault(chunk.state, []).append(hashlib.sha256(data).hexdigest())
    return found


def test_a_chunk_gone_after_its_retention_is_sent_again(workdir: Path) -> None:
    with make_server("runpod", pending_polls=20) as server:
        config = config_for(
            workdir,
            "runpod",
            server,
            concurrency=2,
            poll_initial_seconds=0.05,
            poll_max_seconds=0.1,
        )
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: len(chunk_events(daemon, "chunk_submitted")) >= 2, 60, "2 chunks")
            daemon.kill()
        # While the daemon was down, the server forgot one of the chunks in flight.
        in_flight = saved_chunks(workdir)["running"]
        forgotten = next(job for job in server.submissions if job.audio_sha256 in in_flight)
        with server.lock:
            del server.jobs[forgotten.id]
        server.pending_polls = 1
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            gone = chunk_events(daemon, "chunk_gone")
            assert daemon.stop() == 0
    assert len(gone) == 1
    hashes = [job.audio_sha256 for job in server.submissions]
    assert hashes.count(forgotten.audio_sha256) == 2  # sent again, once
    assert len(hashes) == len(set(hashes)) + 1
    assert (outbox / "meeting.json").exists()


@pytest.mark.parametrize("name", ["octoai", "runpod", "openai"])
def test_a_recording_over_the_upload_limit_is_cut_into_chunks_that_fit(
    workdir: Path, name: str
) -> None:
    limit = 40_000  # the compact reading is ~80 kB: it cannot go whole
    with make_server(name, max_body_bytes=limit) as server:
        config = config_for(workdir, name, server, max_chunk_seconds=600, max_upload_bytes=limit)
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            assert daemon.stop() == 0
    assert server.refused_bodies == 0
    assert len(server.submissions) >= 2
    assert all(job.audio_bytes < limit for job in server.submissions)
    assert (outbox / "meeting.json").exists()


def test_a_small_file_goes_as_it_is_without_a_worker(workdir: Path) -> None:
    with make_server("octoai") as server:
        # The default compact_above_bytes (1 MiB): compacting 111 kB would cost more than it saves.
        config = remote_config(workdir, "octoai", server.url)
        inbox, outbox = workdir / "inbox", workdir / "outbox"
        inbox.mkdir()
        original = (AUDIO / "numbers.wav").read_bytes()
        (inbox / "numbers.wav").write_bytes(original)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "numbers"), 60, "the transcript")
            prepared = daemon.event("upload_prepared")
            assert daemon.stop() == 0
    assert prepared is None
    assert [job.audio_sha256 for job in server.submissions] == [
        hashlib.sha256(original).hexdigest()
    ]
    assert "upload" not in json.loads((outbox / "numbers.json").read_text())["engine"]


def test_each_chunks_warnings_reach_the_transcript_saying_where(workdir: Path) -> None:
    with make_server("runpod", scores=UNSURE) as server:
        config = config_for(workdir, "runpod", server)
        drop_long(workdir)
        outbox = workdir / "outbox"
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "meeting"), 60, "the transcript")
            assert daemon.stop() == 0
    warnings = json.loads((outbox / "meeting.json").read_text())["warnings"]
    unsure = [w for w in warnings if "unsure" in w]
    assert len(unsure) == len(server.submissions) >= 3
    assert unsure[0].startswith("From 0:00 to 0:")
