"""The coverage pass on remote engines (issue 25): speech a server skipped goes once more.

The real daemon against the real fake servers of tests/servers.py, answering as
Whisper does (a word over each bit of loud audio, ``follow_speech``) and skipping
a stretch of speech as a Whisper that ends a window early does (``skips``). The
recording is three real clips of tests/fixtures/audio joined with 1.5 s pauses.
"""

from __future__ import annotations

import itertools
import json
import re
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import decode_file
from dropscribe.commands.oneshot import transcribe_files
from dropscribe.config import load_settings
from dropscribe.jobs.store import Store
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for
from tests.remote_setup import COMPACT_ALL, SERVERS, TOKEN, remote_config
from tests.servers import FakeServer, Fault, RemoteJob
from tests.test_daemon import finished

CLIPS = ["weather", "fox", "numbers"]
PAUSE_SECONDS = 1.5
#: The text of the warning for speech still without words.
NO_TRANSCRIPT = re.compile(r"Speech at (\d+):(\d\d)-(\d+):(\d\d) has no transcript")

Skips = Callable[[RemoteJob, float, float], bool]


def joined_recording(path: Path) -> list[tuple[float, float]]:
    """Write the clips joined with pauses to ``path``; return where each clip lies."""
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    pieces, where, at = [], [], 0.0
    for name in CLIPS:
        audio = decode_file(AUDIO / f"{name}.wav", 600.0).samples
        pieces += [audio, pause]
        where.append((at, at + len(audio) / SAMPLE_RATE))
        at += (len(audio) + len(pause)) / SAMPLE_RATE
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        samples = np.clip(np.concatenate(pieces), -1, 1) * 32767
        out.writeframes(samples.astype("<i2").tobytes())
    return where


def speech_server(name: str, skips: Skips, **attributes: Any) -> FakeServer:
    server = SERVERS[name]()
    server.token = TOKEN
    server.follow_speech = True
    server.skips = skips
    for key, value in attributes.items():
        setattr(server, key, value)
    return server


def config_for(workdir: Path, name: str, server: FakeServer, **extra: Any) -> Path:
    settings = {**COMPACT_ALL, "recover_speech": True, **extra}
    return remote_config(workdir, name, server.url, **settings)


def first_upload_skips(span: tuple[float, float]) -> Skips:
    """The first upload's words over ``span`` are left out; later uploads get all theirs."""

    first: list[str] = []

    def skips(job: RemoteJob, start: float, end: float) -> bool:
        first[:] = first or [job.id]
        return job.id == first[0] and start < span[1] and end > span[0]

    return skips


def words_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [word for segment in document["response"]["segments"] for word in segment["words"]]


def in_span(words: list[dict[str, Any]], span: tuple[float, float]) -> list[dict[str, Any]]:
    return [w for w in words if span[0] <= (w["start"] + w["end"]) / 2 <= span[1]]


def srt_cues(text: str) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        hours, minutes, rest = stamp.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))

    found = re.findall(r"(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)", text)
    return [(seconds(a), seconds(b)) for a, b in found]


def assert_spliced_cleanly(outbox: Path, stem: str) -> dict[str, Any]:
    """Times in order, no word twice (none over another), cues in order and within 7 s."""
    document: dict[str, Any] = json.loads((outbox / f"{stem}.json").read_text())
    words = words_of(document)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    # No word twice: none lies over another.
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in itertools.pairwise(words))
    cues = srt_cues((outbox / f"{stem}.srt").read_text())
    assert cues and all(end - start <= 7.0 for start, end in cues)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
    return document


def events(daemon: DaemonProcess, name: str) -> list[dict[str, Any]]:
    return [e for e in daemon.events() if e.get("event") == name]


def coverage_events(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return events(daemon, "speech_recovered")


def assert_clip_has_its_words(document: dict[str, Any], span: tuple[float, float]) -> None:
    """The skipped clip has its words back (the speech-following servers give a word
    every 0.3 s of loud audio; 80 % of those) and nothing is left to warn about."""
    heard = in_span(words_of(document), span)
    assert len(heard) >= (span[1] - span[0]) / 0.3 * 0.8, heard
    assert document["warnings"] == []


def assert_warning_names_the_clip(
    outbox: Path,
    where: list[tuple[float, float]],
    logged: list[dict[str, Any]],
    status: dict[str, Any],
) -> None:
    """The one "no transcript" warning names the skipped clip (``where[1]``) to the
    second, in the JSON, the log and the ``status`` count."""
    document = json.loads((outbox / "joined.json").read_text())
    [warning] = [w for w in document["warnings"] if NO_TRANSCRIPT.search(w)]
    found = NO_TRANSCRIPT.search(warning)
    assert found is not None
    a, b, c, d = (int(g) for g in found.groups())
    named = (a * 60 + b, c * 60 + d)
    assert named[0] <= where[1][0] + 1 and named[1] >= where[1][1] - 1
    assert named[0] >= where[0][1] - 1 and named[1] <= where[2][0] + 1
    assert [e["warning"] for e in logged] == [warning]
    assert status["with_warnings"] == 1


@pytest.mark.parametrize("name", list(SERVERS))
def test_speech_a_server_skipped_in_a_whole_file_is_sent_again_and_spliced_in(
    workdir: Path, name: str
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    with speech_server(name, first_upload_skips(where[1])) as server:
        config = config_for(workdir, name, server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            recovered = coverage_events(daemon)
            assert daemon.stop() == 0
    document = assert_spliced_cleanly(outbox, "joined")
    _whole, again = server.submissions  # the whole file, then the stretch it skipped
    assert again.audio_seconds is not None
    clip = where[1][1] - where[1][0]
    assert clip < again.audio_seconds < clip + 2.5  # the stretch and its margins
    # At the protocol's rate, as the plan's chunks: this stretch comes to 17.6 kbit/s at
    # 24 (multipart, openai) and 12.4 at 16 (base64; the fake servers decode it first).
    kbits = again.audio_bytes * 8 / again.audio_seconds / 1000
    assert (kbits < 15.0) == (name != "openai"), kbits
    assert_clip_has_its_words(document, where[1])
    assert recovered and recovered[0]["recovered_words"] > 0
    assert recovered[0]["still_missing"] == []
    # The other clips keep their words, once each.
    for span in (where[0], where[2]):
        assert in_span(words_of(document), span)


def test_a_chunk_a_server_left_without_words_is_sent_again_in_a_chunked_job(
    workdir: Path,
) -> None:
    """A 31 s reading as 10 s chunks, one at a time; the second chunk comes back empty."""

    def skips(job: RemoteJob, start: float, end: float) -> bool:
        return len(server.submissions) > 1 and job is server.submissions[1]

    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    (inbox / "reading.flac").write_bytes((AUDIO / "long_reading.flac").read_bytes())
    with speech_server("octoai", skips) as server:
        config = config_for(workdir, "octoai", server, max_chunk_seconds=10, concurrency=1)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "reading"), 90, "the transcript")
            prepared = [e for e in daemon.events() if e.get("event") == "chunk_prepared"]
            recovered = coverage_events(daemon)
            submitted = events(daemon, "job_submitted")
            assert daemon.stop() == 0
    assert len(submitted) == 1  # the coverage chunk is one more chunk, not a second job
    document = assert_spliced_cleanly(outbox, "reading")
    chunks = len(prepared)
    assert chunks >= 3 and document["engine"]["upload"]["chunks"] == chunks
    hashes = [job.audio_sha256 for job in server.submissions]
    assert len(hashes) > chunks and len(set(hashes)) == len(hashes)  # none sent twice
    second = prepared[1]["span"]  # "0:09-0:20": the chunk that came back empty
    low, high = (int(a) * 60 + int(b) for a, b in re.findall(r"(\d+):(\d\d)", second))
    assert len(in_span(words_of(document), (low + 1, high - 1))) >= (high - low - 2) / 0.3 * 0.7
    assert document["warnings"] == []
    assert recovered and recovered[0]["still_missing"] == []


def test_speech_still_without_words_after_the_pass_is_named_in_warnings_log_and_status(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    skipped = first_upload_skips(where[1])

    def skips(job: RemoteJob, start: float, end: float) -> bool:
        # The re-sent stretch (the second upload) comes back without words as well.
        return skipped(job, start, end) or job is not server.submissions[0]

    with speech_server("replicate", skips) as server:
        config = config_for(workdir, "replicate", server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            logged = events(daemon, "transcript_warning")
            assert daemon.stop() == 0
        status = cli_json("status", config)
    assert len(server.submissions) == 2
    assert_warning_names_the_clip(outbox, where, logged, status)


def test_kill_9_while_the_coverage_chunk_is_in_flight_sends_no_chunk_twice(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    # Every job waits until the test lets it finish.
    with speech_server("runpod", first_upload_skips(where[1]), pending_polls=10**6) as server:
        config = config_for(workdir, "runpod", server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: len(server.submissions) == 1, 60, "the whole file sent")
            server.submissions[0].polls_left = 0
            wait_for(lambda: len(server.submissions) == 2, 60, "the coverage chunk sent")
            wait_for(lambda: running_chunks(workdir) == [1], 30, "its future saved")
            daemon.kill()
        assert not (outbox / "joined.json").exists()
        server.submissions[1].polls_left = 1
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            assert daemon.stop() == 0
    hashes = [job.audio_sha256 for job in server.submissions]
    assert len(hashes) == 2 and len(set(hashes)) == 2  # polled after the restart, not resent
    document = assert_spliced_cleanly(outbox, "joined")
    assert_clip_has_its_words(document, where[1])
    assert [job["submissions"] for job in cli_json("jobs", config)] == [1]


def running_chunks(workdir: Path) -> list[int]:
    """The chunks the store has in flight with their future saved."""
    path = workdir / "state" / "dropscribe.sqlite3"
    if not path.exists():
        return []
    store = Store(path, readonly=True)
    try:
        return [c.idx for c in store.chunks.for_job(1) if c.state == "running" and c.future]
    finally:
        store.close()


def test_dropscribe_transcribe_on_a_remote_engine_gets_the_same_pass(workdir: Path) -> None:
    """The one-shot command sends the daemon's chunks, the coverage chunk included."""
    where = joined_recording(workdir / "joined.wav")
    with speech_server("openai", first_upload_skips(where[1])) as server:
        config = config_for(workdir, "openai", server)
        code = transcribe_files(load_settings(config), [workdir / "joined.wav"], workdir / "out")
    assert code == 0
    assert len(server.submissions) == 2
    document = assert_spliced_cleanly(workdir / "out", "joined")
    assert_clip_has_its_words(document, where[1])


def test_a_coverage_chunk_the_server_refuses_for_good_leaves_the_warning_not_a_failure(
    workdir: Path,
) -> None:
    """The transcript is good but for the stretch: the refusal costs that stretch only."""
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    with speech_server("octoai", first_upload_skips(where[1])) as server:
        # The whole file goes through; the coverage chunk is refused as a bad request.
        server.faults["submit"].extend([None, Fault(400, b'{"error": "invalid audio"}')])
        config = config_for(workdir, "octoai", server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            assert daemon.stop() == 0
    assert not (outbox / "joined.error.json").exists()
    document = json.loads((outbox / "joined.json").read_text())
    assert [w for w in document["warnings"] if NO_TRANSCRIPT.search(w)]
    assert in_span(words_of(document), where[0]) and in_span(words_of(document), where[2])
