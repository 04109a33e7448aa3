"""Compact uploads: the worker that decodes and compacts, its limits, and the pure rules."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from dropscribe.audio import compact, cuts
from dropscribe.audio.compact_protocol import CompactRequest, PartFile, planned_rate
from dropscribe.backends.base import Request
from dropscribe.config import OctoAISettings, load_settings
from dropscribe.config.backends import UploadFormat
from dropscribe.errors import BadInput, Permanent
from dropscribe.jobs.chunking.uploads import Part, audio_bytes_within, choose_format, prepare
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.dispatcher import Dispatcher
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.writer import Outbox
from dropscribe.transcript import clock_time
from tests.helpers import AUDIO
from tests.remote_setup import SERVERS, TOKEN, make_backend, remote_config

LONG = AUDIO / "long_reading.flac"
#: The budget of the design: at most 12 MB uploaded per hour of speech.
BYTES_PER_HOUR = 12_000_000


def section(**values: object) -> OctoAISettings:
    return OctoAISettings.model_validate(values)


def decoded(path: Path) -> tuple[float, int]:
    """Return the seconds and the channels of an audio file, read by PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate, stream.channels


@pytest.mark.parametrize(("fmt", "suffix"), [("opus", ".ogg"), ("mp3", ".mp3"), ("flac", ".flac")])
def test_a_recording_becomes_one_compact_mono_file(
    tmp_path: Path, fmt: UploadFormat, suffix: str
) -> None:
    manifest = prepare(LONG, tmp_path, fmt, audio_limit=10**8, section=section(), max_duration=3600)
    [part] = manifest.parts
    path = tmp_path / part.path
    assert path.suffix == suffix and path.stat().st_size == part.bytes
    seconds, channels = decoded(path)
    assert channels == 1
    assert seconds == pytest.approx(30.74, abs=0.1)
    assert manifest.duration == pytest.approx(30.74, abs=0.01)
    assert part.start == 0.0 and part.end == pytest.approx(manifest.duration, abs=0.001)
    if fmt != "flac":
        assert part.bytes / manifest.duration * 3600 <= BYTES_PER_HOUR


def test_a_long_recording_is_written_as_parts_that_cover_it_in_order(tmp_path: Path) -> None:
    manifest = prepare(
        LONG,
        tmp_path,
        "opus",
        audio_limit=10**8,
        section=section(max_chunk_seconds=10),
        max_duration=3600,
    )
    parts = manifest.parts
    assert len(parts) >= 3
    assert parts[0].keep_start == 0 and parts[-1].keep_end == pytest.approx(
        manifest.duration, abs=0.001
    )
    for earlier, later in itertools.pairwise(parts):
        assert earlier.keep_end == later.keep_start  # seams meet: every word kept once
        assert later.start <= later.keep_start and earlier.end >= earlier.keep_end
    for part in parts:
        seconds, _ = decoded(tmp_path / part.path)
        assert part.end - part.start <= 10.001
        assert seconds == pytest.approx(part.end - part.start, abs=0.05)
    assert not list(tmp_path.glob("whole*"))  # the whole compact file is not kept


def test_parts_fit_a_byte_limit_smaller_than_the_compact_file(tmp_path: Path) -> None:
    manifest = prepare(
        LONG, tmp_path, "opus", audio_limit=30_000, section=section(), max_duration=3600
    )
    assert len(manifest.parts) >= 3
    assert all(part.bytes <= 30_000 for part in manifest.parts)


def kbits_per_second(path: Path) -> float:
    """The bit rate a compact file really has: its size over its duration read by PyAV."""
    seconds, _ = decoded(path)
    return path.stat().st_size * 8 / seconds / 1000


#: What the fixture's reading (speech with short pauses between sentences) comes to in
#: Ogg Opus, the daemon's encoder at each nominal rate, kbit/s: 16 -> 13.2, 18 -> 14.6,
#: 20 -> 15.9, 24 -> 18.8. The bands hold the rates meant (24 and 16) and none of their
#: neighbours.
MULTIPART_BAND, BASE64_BAND = (17.5, 20.5), (12.2, 13.9)


@pytest.mark.parametrize(("base64", "band"), [(False, MULTIPART_BAND), (True, BASE64_BAND)])
def test_opus_goes_at_the_bit_rate_of_how_the_protocol_sends_it(
    tmp_path: Path, base64: bool, band: tuple[float, float]
) -> None:
    """24 kbit/s as multipart bytes; in base64 (4/3 the bytes) 16 kbit/s, within the
    budget as sent, whole or in chunks."""
    for chunk_seconds in (600, 10):
        work = tmp_path / str(chunk_seconds)
        manifest = prepare(
            LONG,
            work,
            "opus",
            audio_limit=10**8,
            section=section(max_chunk_seconds=chunk_seconds),
            max_duration=3600,
            base64=base64,
        )
        size = sum(part.bytes for part in manifest.parts)
        seconds = sum(decoded(work / part.path)[0] for part in manifest.parts)
        assert band[0] < size * 8 / seconds / 1000 < band[1], (chunk_seconds, size, seconds)
        sent = size * (4 / 3 if base64 else 1) / manifest.duration * 3600
        assert sent <= BYTES_PER_HOUR


#: An earlier plan of the reading in three parts (10.2 s, 10.2 s, 10.3 s).
THIRDS = [
    Part(0.0, 10.2, 0.0, 10.2, "", 0, index=0),
    Part(10.2, 20.4, 10.2, 20.4, "", 0, index=1),
    Part(20.4, 30.7, 20.4, 30.7, "", 0, index=2),
]


#: The four ways the worker writes a recording, as (max_chunk_seconds, byte limit, parts
#: of an earlier plan): whole; parts planned on the whole file's speech (over the limit);
#: streamed chunks (longer than a chunk); an earlier plan's parts written again.
WAYS = {
    "whole": (600, 10**8, None),
    "planned": (600, 30_000, None),
    "streamed": (20, 30_000, None),
    "again": (600, 10**8, THIRDS),
}


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize(("base64", "band"), [(False, MULTIPART_BAND), (True, BASE64_BAND)])
def test_every_way_of_writing_the_upload_goes_at_the_protocols_rate(
    tmp_path: Path, way: str, base64: bool, band: tuple[float, float]
) -> None:
    """Each way the worker writes the files is handed the protocol's rate; streamed,
    the chunks are planned by it (in base64 longer than 24 kbit/s would let them be)."""
    chunk_seconds, limit, earlier = WAYS[way]
    manifest = prepare(
        LONG,
        tmp_path,
        "opus",
        audio_limit=limit,
        section=section(max_chunk_seconds=chunk_seconds),
        max_duration=3600,
        base64=base64,
        parts=earlier,
    )
    assert (len(manifest.parts) == 1) == (way == "whole"), manifest.parts
    size = sum(part.bytes for part in manifest.parts)
    seconds = sum(decoded(tmp_path / part.path)[0] for part in manifest.parts)
    assert band[0] < size * 8 / seconds / 1000 < band[1], (way, size, seconds)
    assert all(part.bytes <= limit for part in manifest.parts)
    if way == "streamed" and base64:
        longest = max(part.end - part.start for part in manifest.parts)
        assert longest > limit / planned_rate("opus", 24_000), longest


def test_a_part_planned_for_the_earlier_lower_rate_still_fits_when_written_again(
    tmp_path: Path,
) -> None:
    """A job planned before the rate went up to 24 kbit/s (the store keeps no rate) has a
    lost file written again: a part over the byte limit at the new rate is written at the
    earlier 16 kbit/s, at which it was planned to fit; a part that fits keeps the new rate."""
    earlier = [
        Part(0.0, 20.0, 0.0, 20.0, "", 0, index=0),
        Part(20.0, 30.7, 20.0, 30.7, "", 0, index=1),
    ]
    limit = 40_000  # 20 s of the reading: about 47 kB at 24 kbit/s, 33 kB at 16
    manifest = prepare(
        LONG,
        tmp_path,
        "opus",
        audio_limit=limit,
        section=section(),
        max_duration=3600,
        parts=earlier,
    )
    first, second = manifest.parts
    assert (first.start, first.end, second.start, second.end) == (0.0, 20.0, 20.0, 30.7)
    assert first.bytes <= limit and (tmp_path / first.path).stat().st_size == first.bytes
    assert BASE64_BAND[0] < kbits_per_second(tmp_path / first.path) < BASE64_BAND[1]  # 16 kbit/s
    assert MULTIPART_BAND[0] < kbits_per_second(tmp_path / second.path) < MULTIPART_BAND[1]


def decodes_writing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[Part], **request: Any
) -> tuple[int, list[PartFile]]:
    """How many times the worker decodes the recording to write ``parts`` again, in this
    process (the worker's own code, its decoder counted), and the files it wrote."""
    calls = []
    real = compact.pcm_pieces

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(compact, "pcm_pieces", counted)
    asked = CompactRequest(
        source=str(LONG),
        workdir=str(tmp_path),
        format="opus",
        max_seconds=600,
        max_duration=3600,
        parts=tuple(cuts.Part(p.start, p.end, p.keep_start, p.keep_end) for p in parts),
        **request,
    )
    written = list(compact.compact(asked).parts)
    return len(calls), written


def test_parts_of_an_earlier_plan_over_the_limit_are_written_again_in_one_more_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part over the limit at the new rate is written at the earlier one in the
    same second decode: one decode each made a restart of a long recording's plan
    decode it as many more times as it has parts, past prepare_timeout_seconds."""
    at_24 = decodes_writing_again(tmp_path / "24", monkeypatch, THIRDS, max_bytes=10**6)[1]
    limit = min(part.bytes for part in at_24) - 1  # each is over it at 24 kbit/s
    decodes, written = decodes_writing_again(
        tmp_path / "16", monkeypatch, THIRDS, max_bytes=limit, bit_rate=24_000
    )
    assert decodes == 2
    assert [part.path for part in written] == ["part-0000.ogg", "part-0001.ogg", "part-0002.ogg"]
    assert all(part.bytes <= limit for part in written)
    assert all((tmp_path / "16" / part.path).stat().st_size == part.bytes for part in written)


def test_a_part_over_the_limit_at_the_earlier_rate_already_is_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In base64 the rate is the earlier one: writing a part again at it would only
    decode the recording once more for the same bytes."""
    limit = 10_000  # each third is about 17 kB at 16 kbit/s
    decodes, written = decodes_writing_again(
        tmp_path, monkeypatch, THIRDS, max_bytes=limit, bit_rate=16_000
    )
    assert decodes == 1
    assert all(part.bytes > limit for part in written)


def test_a_file_that_is_not_audio_is_one_clear_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "notes.wav"
    fake.write_text("these are meeting notes, not a recording\n" * 50)
    with pytest.raises(BadInput, match=r"^The file could not be decoded as audio; .*format\.$"):
        prepare(
            fake, tmp_path / "work", "opus", audio_limit=10**8, section=section(), max_duration=3600
        )


def test_a_recording_over_the_duration_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="more than the configured maximum of 10 s"):
        prepare(LONG, tmp_path, "opus", audio_limit=10**8, section=section(), max_duration=10)


def test_the_worker_runs_under_its_memory_limit(tmp_path: Path) -> None:
    # 40 MB of address space is not even enough to start: the limit is real, and the
    # daemon reports the stopped worker as one sentence instead of failing itself
    # (which sentence depends on the first step to run out: decoding, or the worker).
    tight = section(prepare_memory_mb=40)
    stopped = "The worker preparing the upload stopped on this file|could not be decoded"
    with pytest.raises(BadInput, match=stopped):
        prepare(LONG, tmp_path, "opus", audio_limit=10**8, section=tight, max_duration=3600)


def test_format_choice_and_body_arithmetic() -> None:
    assert choose_format("auto", ("opus", "mp3")) == "opus"
    assert choose_format("mp3", ("opus", "mp3")) == "mp3"
    assert choose_format("original", ("opus",)) is None
    # base64 makes four bytes of three; JSON and multipart need a little room.
    assert audio_bytes_within(10 * 2**20, base64=True) < 10 * 2**20 * 3 // 4
    assert audio_bytes_within(25 * 2**20, base64=False) < 25 * 2**20
    assert clock_time(65.2) == "1:05" and clock_time(3725) == "1:02:05"


@pytest.mark.parametrize("name", ["octoai", "runpod", "openai"])
def test_a_body_over_the_services_limit_is_refused_as_the_service_does(
    tmp_path: Path, name: str
) -> None:
    server = SERVERS[name]()
    server.token = TOKEN
    server.max_body_bytes = 50_000
    with server:
        backend = make_backend(tmp_path, name, server.url)
        path = AUDIO / "weather.wav"  # 148 kB
        request = Request(1, path, path.name, path.stat().st_size, "auto", "transcribe")
        try:
            if name == "openai":
                outcome = backend.poll(backend.submit(request), 0)
                error = getattr(outcome, "error", None)
            else:
                with pytest.raises(Permanent) as raised:
                    backend.submit(request)
                error = raised.value
        finally:
            backend.close()
    assert isinstance(error, Permanent) and "(413)" in str(error)
    assert server.refused_bodies == 1 and server.submissions == []


def test_chunks_borrow_only_idle_slots_and_never_while_another_file_waits(
    tmp_path: Path,
) -> None:
    with SERVERS["octoai"]() as server:
        settings = load_settings(remote_config(tmp_path, "octoai", server.url, concurrency=3))
        store = Store(tmp_path / "state.sqlite3")
        finisher = Finisher(settings, store, Outbox(tmp_path / "out", ["json"]), Hooks([], [], 1))
        now = 1000.0
        dispatcher = Dispatcher(lambda: settings, store, finisher, lambda: now, threading.Event())
        dispatcher.runner.backend("octoai")
        dispatcher.active["octoai"] = 1  # one long recording in flight
        assert dispatcher.borrow_slot("octoai")
        assert dispatcher.borrow_slot("octoai")
        assert not dispatcher.borrow_slot("octoai")  # concurrency 3 reached
        dispatcher.return_slot("octoai")
        # Another file is due: the freed slot is kept for it, not lent to a chunk.
        job = store.add_job(
            path="short.wav",
            sha256="0" * 64,
            size=1,
            mtime=0,
            output_name="short",
            backend="octoai",
            language="auto",
            task="transcribe",
            settings_key="k",
        )
        store.move(job.id, JobState.QUEUED, next_attempt_at=now)
        assert not dispatcher.borrow_slot("octoai")
        assert [j.path for j in store.claim("octoai", 3 - dispatcher.active["octoai"], now)] == [
            "short.wav"
        ]
        store.close()


def test_without_silero_an_energy_detector_finds_the_pauses_between_words() -> None:
    from dropscribe.audio import SAMPLE_RATE
    from dropscribe.audio.speech_blocks import loud_spans

    rng = np.random.default_rng(7)
    noise = rng.normal(0, 0.001, SAMPLE_RATE * 6).astype(np.float32)  # a quiet room
    tone = 0.3 * np.sin(np.linspace(0, 2 * np.pi * 220, SAMPLE_RATE)).astype(np.float32)
    audio = noise.copy()
    audio[SAMPLE_RATE : 2 * SAMPLE_RATE] += tone  # "speech" from 1 s to 2 s
    audio[4 * SAMPLE_RATE : 5 * SAMPLE_RATE] += tone  # and from 4 s to 5 s
    spans = loud_spans(audio)
    assert len(spans) == 2
    assert spans[0] == pytest.approx((1.0, 2.0), abs=0.04)
    assert spans[1] == pytest.approx((4.0, 5.0), abs=0.04)


def test_the_audio_track_is_chosen_by_rule_and_a_video_without_sound_is_one_sentence(
    tmp_path: Path,
) -> None:
    two = prepare(
        AUDIO / "two_tracks.mkv",
        tmp_path / "a",
        "opus",
        audio_limit=10**8,
        section=section(),
        max_duration=3600,
        audio_track=1,
    )
    assert two.track is not None and two.track["track"] == 1 and two.track["tracks"] == 2
    with pytest.raises(BadInput, match=r"^The file holds no audio track"):
        prepare(
            AUDIO / "silent_video.mp4",
            tmp_path / "b",
            "opus",
            audio_limit=10**8,
            section=section(),
            max_duration=3600,
        )


def test_the_upload_worker_dies_with_the_daemon_that_started_it() -> None:
    """A daemon killed mid-preparation leaves no worker decoding on (PR_SET_PDEATHSIG)."""
    import signal as signals
    import subprocess
    import sys

    read_end, write_end = os.pipe()  # held open here: the worker's stdin never ends
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-m', 'dropscribe.workers.child',"
            " 'dropscribe.audio.compact:main', '--parent', str(os.getpid()), '--with-thread'],"
            f" stdin={read_end}, pass_fds=[{read_end}])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        pass_fds=[read_end],
        text=True,
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        parent.send_signal(signals.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.05)
        assert not _alive(worker), "the worker outlived its daemon"
    finally:
        os.close(read_end)
        os.close(write_end)
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_coverage_stretch_longer_than_the_byte_limit_goes_in_pieces_within_it() -> None:
    """FLAC on octoai (10 MB bodies in base64) holds about 245 s, under the 600 s chunk
    length: a stretch the server skipped is cut to what the bytes allow, not to 600 s."""
    from dropscribe.jobs.chunking.coverage import pieces
    from dropscribe.jobs.chunking.uploads import seconds_within

    limit = audio_bytes_within(10 * 1024 * 1024, base64=True)
    cap = min(600.0, seconds_within(limit, "flac", base64=True))
    assert 200 < cap < 300
    cut = pieces((100.0, 600.0), 900.0, cap)
    assert len(cut) >= 3
    assert all((piece.end - piece.start) * planned_rate("flac", None) <= limit for piece in cut)
    # Opus as multipart bytes at its 24 kbit/s: the chunk length is the tighter bound.
    assert seconds_within(audio_bytes_within(25 * 1024 * 1024, False), "opus", False) > 600
