"""Long recordings in parts at pauses, on the real engine (tiny.en) and real speech.

The recordings of tests/fixtures/audio joined with 1.5 s pauses: every word of
every recording must come out exactly once, in order, whatever the cuts.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator

import jiwer
import numpy as np
import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import decode_file
from dropscribe.backends.local.engine import Engine
from dropscribe.backends.local.protocol import Job
from dropscribe.transcript import Transcription
from tests.helpers import AUDIO, reference, tiny_engine_options

PAUSE = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
CLIPS = ["fox", "numbers", "weather", "fox", "weather"]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    options = tiny_engine_options(cpu_threads=1, parallel_decodes=3, batched="parts")
    yield Engine(options)


@pytest.fixture(scope="module")
def joined() -> tuple[Audio, list[list[str]]]:
    pieces, texts = [], []
    for name in CLIPS:
        audio = decode_file(AUDIO / f"{name}.wav", 600.0).samples
        pieces += [audio, PAUSE]
        texts.append(words(reference(name)))
    return np.concatenate(pieces), texts


Audio = np.ndarray


def transcribe(
    engine: Engine, audio: Audio, mode: str, decodes: int
) -> tuple[Transcription, str, list[float]]:
    engine.options = dataclasses.replace(engine.options, batched=mode)
    reported: list[float] = []
    result, decoding = engine.transcribe(
        Job(1, "joined.wav", "auto", "transcribe", 600.0), audio, decodes, reported.append
    )
    return result, decoding, reported


def damage_at(boundaries: list[int], reference_words: list[str], heard: list[str]) -> list[str]:
    """Return what went wrong at the given word boundaries of the reference: a word
    missing on either side of one, or a word inserted at one."""
    alignment = jiwer.process_words(" ".join(reference_words), " ".join(heard)).alignments[0]
    damage = []
    for chunk in alignment:
        for boundary in boundaries:  # reference words boundary-1 and boundary meet here
            # ref_end_idx is exclusive: a deletion touching word boundary-1 or boundary.
            if chunk.type == "delete" and chunk.ref_start_idx <= boundary <= chunk.ref_end_idx:
                damage.append(f"lost near word {boundary}: {chunk}")
            if chunk.type == "insert" and chunk.ref_start_idx == boundary:
                damage.append(f"doubled or inserted at word {boundary}: {chunk}")
    return damage


@pytest.mark.parametrize("decodes", [2, 3])
def test_cuts_at_pauses_neither_lose_nor_double_a_word(
    engine: Engine, joined: tuple[Audio, list[list[str]]], decodes: int
) -> None:
    audio, texts = joined
    result, decoding, _ = transcribe(engine, audio, "parts", decodes)
    assert decoding == "parts"
    expected = [word for text in texts for word in text]
    boundaries = list(itertools.accumulate(len(text) for text in texts))[:-1]
    # Every pause between recordings is checked, so whichever the cuts are, they are.
    assert damage_at(boundaries, expected, words(result.text)) == []
    assert len(words(result.text)) == len(expected)
    times = [w["start"] for s in result.segments for w in s["words"]]
    assert times == sorted(times) and times[-1] > len(audio) / SAMPLE_RATE - 8


@pytest.mark.parametrize(("mode", "decoding"), [("parts", "parts"), ("on", "batched")])
def test_progress_moves_part_by_part_and_window_by_window(
    engine: Engine, joined: tuple[Audio, list[list[str]]], mode: str, decoding: str
) -> None:
    audio, _ = joined
    _, used, reported = transcribe(engine, audio, mode, 2)
    assert used == decoding
    duration = len(audio) / SAMPLE_RATE
    # A report per segment or window before the end, never backwards, never past the end.
    assert len(reported) >= 2
    assert reported == sorted(reported)
    assert 0 < reported[0] < duration / 2 and reported[-1] <= duration + 0.5
    assert reported[-1] > duration - 12  # the pauses at the end of the parts are not speech


def test_silence_is_an_empty_transcript_with_a_warning(engine: Engine) -> None:
    silence = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    noise = np.random.default_rng(7).normal(0, 0.05, 10 * SAMPLE_RATE).astype(np.float32)
    for audio in (silence, noise):
        result, _, _ = transcribe(engine, audio, "auto", 2)
        assert result.segments == [] and result.text == ""
        assert any("mostly silence" in warning for warning in result.warnings)
