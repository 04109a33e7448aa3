"""Every engine path ends in the same segments and cues: the real engine batched and
sequential on one recording, and every remote protocol's answer."""

from __future__ import annotations

import time
from pathlib import Path

import jsonschema
import pytest

from dropscribe.backends.base import Done, Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.config import load_settings
from dropscribe.outbox.document import build_document, load_schema
from dropscribe.outbox.formats import cues_of
from dropscribe.transcript import Document
from dropscribe.transcript.segments import MAX_SEGMENT_CHARS, MAX_SEGMENT_SECONDS
from tests.helpers import AUDIO, reference, word_error_rate, write_config
from tests.remote_setup import SERVERS, TOKEN, make_backend
from tests.servers import OpenAIServer

READING = AUDIO / "long_reading.flac"  # 31 s of continuous speech


#: The longest segment each engine path gave before the segments were tidied.
LONGEST_RAW: dict[str, float] = {}


def transcribe(directory: Path, batched: str) -> Document:
    config = write_config(directory, {"backends.local": {"batched": batched}})
    backend = LocalBackend(load_settings(config))
    try:
        future = backend.submit(
            Request(1, READING, READING.name, READING.stat().st_size, "en", "transcribe")
        )
        deadline = time.monotonic() + 110
        outcome = backend.poll(future, 0.5)
        while isinstance(outcome, Pending) and time.monotonic() < deadline:
            outcome = backend.poll(future, 0.5)
    finally:
        backend.close()
    assert isinstance(outcome, Done), outcome
    LONGEST_RAW[batched] = max(s["end"] - s["start"] for s in outcome.result.segments)
    return build_document(
        outcome.result, source_path=READING.name, sha256="0" * 64, size=1, backend="local"
    )


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    return {mode: transcribe(tmp_path_factory.mktemp(mode), mode) for mode in ("on", "off")}


def test_batched_and_sequential_give_the_same_words(documents: dict[str, Document]) -> None:
    expected = reference("long_reading")
    errors = {
        mode: word_error_rate(expected, doc["transcription"]) for mode, doc in documents.items()
    }
    assert errors["on"] < 0.1 and abs(errors["on"] - errors["off"]) <= 0.01, errors


@pytest.mark.parametrize("mode", ["on", "off"])
def test_segments_are_about_a_sentence_on_both_paths(
    documents: dict[str, Document], mode: str
) -> None:
    document = documents[mode]
    jsonschema.validate(document, load_schema())
    segments = document["response"]["segments"]
    if mode == "on":  # batched decoding alone gives one ~27 s segment per window
        assert LONGEST_RAW[mode] > MAX_SEGMENT_SECONDS
    assert len(segments) >= 8
    assert all(s["end"] - s["start"] <= MAX_SEGMENT_SECONDS for s in segments)
    assert all(len(s["text"]) <= MAX_SEGMENT_CHARS for s in segments)


@pytest.mark.parametrize("mode", ["on", "off"])
def test_cues_keep_the_broadcast_limits_on_both_paths(
    documents: dict[str, Document], mode: str
) -> None:
    cues = cues_of(documents[mode])
    assert len(cues) >= 8
    assert all(len(line) <= 42 for cue in cues for line in cue.lines)
    assert all(len(cue.lines) <= 2 and 1.0 <= cue.end - cue.start <= 7.0 for cue in cues)


@pytest.mark.parametrize(
    ("name", "style"),
    [(name, "openai") for name in SERVERS] + [("openai", "segments"), ("openai", "text")],
)
def test_every_remote_protocol_gets_the_same_cues_from_its_answer(
    tmp_path: Path, name: str, style: str
) -> None:
    with SERVERS[name]() as server:
        server.token = TOKEN
        if isinstance(server, OpenAIServer):
            server.style = style
        backend = make_backend(tmp_path, name, server.url)
        try:
            weather = AUDIO / "weather.mp3"
            future = backend.submit(
                Request(1, weather, weather.name, weather.stat().st_size, "en", "transcribe")
            )
            deadline = time.monotonic() + 30
            outcome = backend.poll(future, 0.2)
            while isinstance(outcome, Pending) and time.monotonic() < deadline:
                outcome = backend.poll(future, 0.2)
        finally:
            backend.close()
    assert isinstance(outcome, Done), outcome
    document = build_document(
        outcome.result, source_path="w", sha256="0" * 64, size=1, backend=name
    )
    (cue,) = cues_of(document)
    # Words with or without punctuation, or no words at all: one cue reading the whole text.
    assert " ".join(cue.lines) == outcome.result.text.strip()
    words = document["response"]["word_segments"]
    assert len(words) == (0 if style == "text" else 3)
    first = words[0]["start"] if words else document["response"]["segments"][0]["start"]
    assert cue.start == first and cue.end >= max((w["end"] for w in words), default=first)
    assert cue.end - cue.start >= 1.0
