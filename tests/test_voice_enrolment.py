"""Enrolment hears each sample two ways; the cache keeps both; the line is marked down;
a group half made of a stranger gets no name.

Pure functions on synthetic signals: the real encoder on real voices is in
bench.diarize's names part (bench/README.md, issue 22), the encoder on
espeak-ng voices in test_speaker_names.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.campgraph import EMBEDDING_SIZE as SIZE
from dropscribe.speakers.enrolment import (
    HEARD_ALLOWANCE,
    name_speakers,
    person_scores,
    phone_line,
    piece_support,
    weighted_median,
)
from dropscribe.speakers.naming import WINDOW_SUPPORT, assign_names
from dropscribe.speakers.turns import Pieces
from dropscribe.speakers.vectors import unit
from dropscribe.speakers.voices import NO_VECTORS, Person, Sample, VoiceCache

if TYPE_CHECKING:
    from dropscribe.speakers.campplus import NameEncoder


def tone(frequency: float, seconds: float = 1.0) -> np.ndarray:
    times = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * frequency * times)).astype(np.float32)


def power_at(audio: np.ndarray, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    return float(spectrum[np.abs(frequencies - frequency) < 20].sum())


def test_the_telephone_line_keeps_300_to_3400_hz_only() -> None:
    mix = tone(100) + tone(1000) + tone(6000)
    heard = phone_line(mix)
    assert heard.dtype == np.float32 and len(heard) == len(mix)
    kept = power_at(heard, 1000)
    assert kept > 0.9 * power_at(mix, 1000)
    assert power_at(heard, 100) < 1e-3 * kept and power_at(heard, 6000) < 1e-3 * kept


def test_the_telephone_lines_companding_noise_stays_below_4_khz() -> None:
    # A real line samples at 8 kHz: nothing it carries, its mu-law noise included, lies
    # above 4 kHz. Companded at 16 kHz without the cut, a quiet 1 kHz tone's noise filled
    # 4-8 kHz, where the encoder heard a channel that no call has.
    rng = np.random.default_rng(1)
    speech = tone(1000) * (0.2 + rng.random(SAMPLE_RATE).astype(np.float32))
    heard = phone_line(speech)
    spectrum = np.abs(np.fft.rfft(heard)) ** 2
    frequencies = np.fft.rfftfreq(len(heard), 1 / SAMPLE_RATE)
    above = float(spectrum[frequencies > 4000].sum())
    inside = float(spectrum[(frequencies > 300) & (frequencies < 3400)].sum())
    assert above < 1e-9 * inside


def test_a_match_on_the_telephone_lines_vector_is_marked_down() -> None:
    rows = unit(np.random.default_rng(1).standard_normal((3, SIZE)))
    person = Person("Ann", [Sample(Path("a.wav"), 5.0, rows)])
    for way in range(2):
        score = person_scores(rows[way : way + 1], [person])[0, 0]
        assert score == pytest.approx(1.0 - HEARD_ALLOWANCE[way], abs=1e-5)
    assert HEARD_ALLOWANCE[1] > 0 == HEARD_ALLOWANCE[0]
    nobody = Person("Bo", [Sample(Path("b.wav"), 0.0, NO_VECTORS)])
    assert person_scores(rows[:1], [nobody])[0, 0] == -1.0


def test_the_cache_keeps_every_way_a_sample_was_heard(tmp_path: Path) -> None:
    sample = tmp_path / "a.wav"
    sample.write_bytes(b"RIFF")
    rows = unit(np.random.default_rng(2).standard_normal((3, SIZE)))
    cache = VoiceCache(tmp_path, "v1")
    cache.put("a.wav", os.stat(sample), Sample(sample, 4.2, rows))
    cache.put("silent.wav", os.stat(sample), Sample(sample, 0.0, NO_VECTORS))
    cache.save()
    again = VoiceCache(tmp_path, "v1")
    got = again.get("a.wav", os.stat(sample))
    assert got is not None and got.seconds == pytest.approx(4.2)
    assert np.allclose(got.vectors, rows, atol=1e-5)
    silent = again.get("silent.wav", os.stat(sample))
    assert silent is not None and silent.vectors.shape == (0, SIZE)


def pieces_of(vectors: np.ndarray, owners: list[int], count: int) -> Pieces:
    """Pieces of a second each, their centres the mean of each speaker's."""
    owner = np.array(owners, dtype=np.int64)
    seconds = np.ones(len(owners), np.float32)
    sums = np.zeros((count, vectors.shape[1]))
    np.add.at(sums, owner, vectors)
    return Pieces(vectors.astype(np.float32), owner, seconds, unit(sums))


def test_a_group_half_made_of_a_stranger_is_not_named() -> None:
    rows = unit(np.random.default_rng(3).standard_normal((4, SIZE)))
    ann, stranger = rows[0], rows[1]
    person = Person("Ann", [Sample(Path("a.wav"), 5.0, np.stack([ann, ann, ann]))])
    pure = np.stack([ann] * 6 + [stranger] * 6)
    kept = name_speakers(pieces_of(pure, [0] * 6 + [1] * 6, 2), [3.0, 3.0], [person])
    assert [m.name for m in kept] == ["Ann", None]
    mixed = pieces_of(pure, [0, 1] * 6, 2)  # each group half Ann, half the stranger
    support = piece_support(mixed, 2, [person])
    assert support[0, 0] < WINDOW_SUPPORT
    scores = np.array([[0.95], [0.2]], np.float32)
    assert assign_names(scores, ["Ann"], [3.0, 3.0], support=support)[0].name is None
    assert assign_names(scores, ["Ann"], [3.0, 3.0])[0].name == "Ann"


def test_the_support_is_the_median_by_seconds_not_by_pieces() -> None:
    values = np.array([0.9, 0.1, 0.2], np.float32)
    assert weighted_median(values, np.ones(3, np.float32)) == pytest.approx(0.2)
    # One long piece like the person outweighs two short ones that are not.
    assert weighted_median(values, np.array([5.0, 1.0, 1.0], np.float32)) == pytest.approx(0.9)


def test_each_samples_allowance_follows_its_own_rows() -> None:
    # A sample with one row (a cache written by hand) before one heard both ways: the
    # second sample's line vector still gets the line's allowance.
    rows = unit(np.random.default_rng(4).standard_normal((3, SIZE)))
    samples = [Sample(Path("a.wav"), 5.0, rows[:1]), Sample(Path("b.wav"), 5.0, rows[1:])]
    person = Person("Ann", samples)
    score = person_scores(rows[2:3], [person])[0, 0]
    assert score == pytest.approx(1.0 - HEARD_ALLOWANCE[1], abs=1e-5)
    support = piece_support(pieces_of(rows[2:3], [0], 1), 1, [person])
    assert support[0, 0] == pytest.approx(score, abs=1e-6)


def test_a_damaged_cache_entry_is_embedded_again(tmp_path: Path) -> None:
    sample = tmp_path / "a.wav"
    sample.write_bytes(b"RIFF")
    cache = VoiceCache(tmp_path, "v1")
    cache.put("a.wav", os.stat(sample), Sample(sample, 4.2, NO_VECTORS))
    cache.entries["a.wav"]["vectors"] = [[0.1, 0.2]]  # not SIZE numbers
    cache.put("b.wav", os.stat(sample), Sample(sample, 4.2, NO_VECTORS))
    cache.entries["b.wav"]["vectors"] = [["x"] * SIZE]
    assert cache.get("a.wav", os.stat(sample)) is None
    assert cache.get("b.wav", os.stat(sample)) is None


def test_a_long_sample_is_heard_on_the_line_a_minute_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The channels' FFTs over a whole hour-long sample (``voices add`` of a meeting)
    # took gigabytes; a minute at a time they take tens of megabytes.
    from dropscribe.speakers import enrolment

    lengths: dict[str, list[int]] = {"phone": []}
    heard: list[int] = []

    def recorded(kind: str) -> Callable[[np.ndarray], np.ndarray]:
        def channel(audio: np.ndarray) -> np.ndarray:
            lengths[kind].append(len(audio))
            return audio

        return channel

    def vector(audio: np.ndarray, encoder: object) -> tuple[float, np.ndarray]:
        heard.append(len(audio))
        return len(audio) / SAMPLE_RATE, unit(np.ones((1, SIZE)))[0]

    monkeypatch.setattr(enrolment, "phone_line", recorded("phone"))
    monkeypatch.setattr(enrolment, "sample_vector", vector)
    minute = enrolment.CHANNEL_BLOCK_SECONDS * SAMPLE_RATE
    nobody = cast("NameEncoder", object())  # sample_vector, the encoder's one user, is faked
    seconds, rows = enrolment.sample_vectors(np.zeros(2 * minute + 5, np.float32), nobody)
    assert rows.shape == (2, SIZE) and seconds == pytest.approx((2 * minute + 5) / SAMPLE_RATE)
    assert lengths["phone"] == [minute, minute, 5]
    assert heard == [2 * minute + 5] * 2  # each way's vector is still the whole sample's
