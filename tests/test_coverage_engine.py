"""The coverage pass and the language warning on the real engine (tiny.en) and real speech.

The recordings of tests/fixtures/audio, joined with 1.5 s pauses as issue 25
tried them (decoded sequentially, as a busy worker does), and padded with
leading silence (a 0.5 s pad made "Go forward ten meters" sound foreign).
"""

from __future__ import annotations

import dataclasses
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import jiwer
import numpy as np
import pytest
import structlog

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import decode_file
from dropscribe.audio.speech import detect_speech
from dropscribe.backends.base import Done
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.backends.local.batching import CLIP_SECONDS
from dropscribe.backends.local.decoding import Decoded
from dropscribe.backends.local.engine import Engine, heard
from dropscribe.backends.local.protocol import Job
from dropscribe.backends.local.recovery import recover_speech
from dropscribe.config import load_settings
from dropscribe.transcript import Segment, Transcription, make_segment
from tests.helpers import AUDIO, reference, tiny_engine_options, write_config
from tests.test_local_engine import request, settle

PAUSE = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
#: In this order, decoded sequentially, tiny.en skips 24.6-31.4 s and 38.2-41.4 s
#: (64 words of 94; found among 60 random orders, 10 of which lost words): the
#: coverage pass brings all 30 back. Through the worker (two decodes of one thread)
#: on another CPU it skipped 27-32 s alone (11 words): the int8 kernels differ.
CLIPS = ["numbers", "numbers", "weather", "fox", "fox", "numbers", "numbers"]
FOREIGN = "does not sound like English"
#: The daemon test's job, numbered apart from other tests' jobs (see its log filter).
JOB_ID = 2525

Audio = np.ndarray


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    options = tiny_engine_options(cpu_threads=2, parallel_decodes=1, batched="off")
    yield Engine(options)


def clip(name: str) -> Audio:
    return decode_file(AUDIO / name, 600.0).samples


@pytest.fixture(scope="module")
def joined() -> tuple[Audio, list[tuple[float, float, list[str]]]]:
    """The clips with 1.5 s pauses, and where each one lies with its words."""
    pieces, where, at = [], [], 0.0
    for name in CLIPS:
        audio = clip(f"{name}.wav")
        pieces += [audio, PAUSE]
        length = len(audio) / SAMPLE_RATE
        where.append((at, at + length, words(reference(name))))
        at += length + len(PAUSE) / SAMPLE_RATE
    return np.concatenate(pieces), where


def transcribe(engine: Engine, audio: Audio, mode: str = "off") -> Transcription:
    engine.options = dataclasses.replace(engine.options, batched=mode)
    result, _ = engine.transcribe(
        Job(1, "joined.wav", "auto", "transcribe", 600.0), audio, 1, lambda _seconds: None
    )
    return result


def heard_in(segments: list[Segment], start: float, end: float) -> list[str]:
    return [
        token
        for segment in segments
        for word in segment["words"]
        if start - 0.5 <= (word["start"] + word["end"]) / 2 <= end + 0.5
        for token in words(word["word"])
    ]


def deletions(expected: list[str], heard: list[str]) -> int:
    return int(jiwer.process_words(" ".join(expected), " ".join(heard or ["-"])).deletions)


def test_the_joined_recording_keeps_every_clips_words(
    engine: Engine, joined: tuple[Audio, list[tuple[float, float, list[str]]]]
) -> None:
    audio, where = joined
    result = transcribe(engine, audio)
    for start, end, expected in where:
        assert deletions(expected, heard_in(result.segments, start, end)) <= 1, (start, end)
    every = [word for segment in result.segments for word in segment["words"]]
    assert [w["start"] for w in every] == sorted(w["start"] for w in every)
    assert all(word["end"] - word["start"] <= 3.0 for word in every)
    assert result.warnings == []


def test_a_clip_the_decoder_skipped_is_decoded_again_and_spliced_in(
    engine: Engine, joined: tuple[Audio, list[tuple[float, float, list[str]]]]
) -> None:
    """The issue's shape on real audio: the words of the third clip gone, the last
    word before it stretched over it, as Whisper leaves them when it skips ahead."""
    audio, where = joined
    result = transcribe(engine, audio)
    start, end, expected = where[2]
    kept: list[Segment] = []
    for segment in result.segments:
        if segment["words"][0]["start"] < start - 0.2 or segment["start"] > end + 0.5:
            own = [w for w in segment["words"] if w["start"] < start - 0.2 or w["start"] > end]
            kept.append(make_segment(segment["text"], segment["start"], segment["end"], own))
    before = max((s for s in kept if s["start"] < start), key=lambda s: s["start"])
    before["words"][-1] = {**before["words"][-1], "end": end}
    before["end"] = end
    speech = detect_speech(audio, SAMPLE_RATE, max_speech_seconds=CLIP_SECONDS)
    damaged = Decoded(segments=kept, language="en")
    options = {"language": "en", "task": "transcribe", "beam_size": 5, "word_timestamps": True}
    repaired, recovery = recover_speech(
        engine.model, audio, damaged, speech, options, heard(speech)
    )
    assert recovery.stretches and recovery.missing == []
    assert recovery.recovered_words >= len(expected) - 1
    assert deletions(expected, heard_in(repaired.segments, start, end)) <= 1
    every = [word for segment in repaired.segments for word in segment["words"]]
    assert [w["start"] for w in every] == sorted(w["start"] for w in every)
    assert all(word["end"] - word["start"] <= 3.0 for word in every)


@pytest.mark.parametrize(
    "name", ["go_forward.wav", "move.wav", "weather.wav", "fox.wav", "numbers.wav", "weather.mp3"]
)
@pytest.mark.parametrize("pad", [0.0, 0.5, 1.0, 2.0])
def test_no_clean_english_recording_sounds_foreign_with_or_without_leading_silence(
    engine: Engine, name: str, pad: float
) -> None:
    audio = np.concatenate([np.zeros(int(pad * SAMPLE_RATE), dtype=np.float32), clip(name)])
    result = transcribe(engine, audio)
    assert result.segments
    assert not [warning for warning in result.warnings if FOREIGN in warning]


@pytest.mark.parametrize("pad", [0.0, 0.5])
def test_french_still_sounds_foreign_with_leading_silence(engine: Engine, pad: float) -> None:
    audio = np.concatenate(
        [np.zeros(int(pad * SAMPLE_RATE), dtype=np.float32), clip("french.flac")]
    )
    assert any(FOREIGN in warning for warning in transcribe(engine, audio).warnings)


def test_the_daemons_engine_logs_what_the_pass_recovered(
    tmp_path: Path, joined: tuple[Audio, list[tuple[float, float, list[str]]]]
) -> None:
    """Through the worker process, as the daemon runs it (sequential, as when busy)."""
    audio, where = joined
    path = tmp_path / "joined.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    config = write_config(tmp_path, {"backends.local": {"batched": "off", "cpu_threads": 2}})
    backend = LocalBackend(load_settings(config))
    try:
        with structlog.testing.capture_logs() as logs:
            outcome = settle(backend, request(path, job_id=JOB_ID), timeout=300)
    finally:
        backend.close()
    assert isinstance(outcome, Done), outcome
    # The capture hears every thread of the process: a backend another test left behind
    # logs its own jobs' passes (job 1, as most tests number theirs) into it too.
    recovered = [
        entry
        for entry in logs
        if entry["event"] == "speech_recovered" and entry.get("job") == JOB_ID
    ]
    # How much tiny.en skips in this order depends on the CPU's int8 kernels (30 words on
    # one machine, 11 on another, both of one 5 s stretch or two): the pass must have
    # found some and left nothing missing; the words' count is checked below, against
    # the clips' own words, whatever was skipped.
    assert recovered and int(recovered[0]["recovered_words"]) >= 5, recovered
    assert recovered[0]["still_missing"] == []
    assert outcome.result.warnings == []
    heard = [token for segment in outcome.result.segments for token in words(segment["text"])]
    expected = [word for _, _, clip_words in where for word in clip_words]
    assert deletions(expected, heard) <= len(where)
