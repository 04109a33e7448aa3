"""The ONNX graph of CAM++ against a second, independent forward pass in plain numpy.

The numpy pass below is written from 3D-Speaker's ``speakerlab/models/campplus``
(``DTDNN.py`` and ``layers.py``: the FCM head of residual blocks, the TDNN layer,
the CAM dense layers whose gate is the mean of the input and of each 100-frame
segment, the transits, statistics pooling with torch.std's Bessel correction and the
dense layer's affine-free batch norm) with explicit loops and einsums, no ONNX: the
two must agree on real speech, so a wrong node in the graph fails here.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.speakers.campplus import INSTALL_HINT, NameEncoder, default_naming_weights
from dropscribe.speakers.fbank import fbank
from dropscribe.speakers.zipweights import load_state_dict

AUDIO = Path(__file__).parent / "fixtures" / "audio"
Array = np.ndarray[Any, Any]


class Reference:
    """CAM++ in numpy, one recording at a time."""

    def __init__(self) -> None:
        self.p = load_state_dict(default_naming_weights(), INSTALL_HINT)

    def norm(self, x: Array, key: str, affine: bool = True) -> Array:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean, var = self.p[f"{key}.running_mean"], self.p[f"{key}.running_var"]
        y: Array = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5)
        if affine:
            y = y * self.p[f"{key}.weight"].reshape(shape) + self.p[f"{key}.bias"].reshape(shape)
        return y

    def conv1d(self, x: Array, key: str, stride: int = 1, pad: int = 0, dil: int = 1) -> Array:
        w = self.p[f"{key}.weight"]
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
        steps = (x.shape[2] - dil * (w.shape[2] - 1) - 1) // stride + 1
        reach = stride * (steps - 1) + 1
        taps = [x[:, :, j * dil : j * dil + reach : stride] for j in range(w.shape[2])]
        y: Array = np.einsum("oik,bikt->bot", w, np.stack(taps, 2))
        bias = self.p.get(f"{key}.bias")
        return y if bias is None else y + bias[None, :, None]

    def conv2d(self, x: Array, key: str, stride: int = 1) -> Array:
        w = self.p[f"{key}.weight"]
        size = w.shape[2]
        x = np.pad(x, ((0, 0), (0, 0), (size // 2, size // 2), (size // 2, size // 2)))
        rows = (x.shape[2] - size) // stride + 1
        cols = x.shape[3] - size + 1
        y = np.zeros((x.shape[0], w.shape[0], rows, cols))
        for i in range(size):
            for j in range(size):
                patch = x[:, :, i : i + stride * (rows - 1) + 1 : stride, j : j + cols]
                y += np.einsum("oi,bihw->bohw", w[:, :, i, j], patch)
        return y

    def residual(self, x: Array, key: str, stride: int) -> Array:
        r = np.maximum(0, self.norm(self.conv2d(x, f"{key}.conv1", stride), f"{key}.bn1"))
        r = self.norm(self.conv2d(r, f"{key}.conv2"), f"{key}.bn2")
        if f"{key}.shortcut.0.weight" in self.p:
            x = self.norm(self.conv2d(x, f"{key}.shortcut.0", stride), f"{key}.shortcut.1")
        summed: Array = np.maximum(0, r + x)
        return summed

    def dense(self, x: Array, key: str, dil: int) -> Array:
        h = np.maximum(0, self.norm(x, f"{key}.nonlinear1.batchnorm"))
        h = self.norm(self.conv1d(h, f"{key}.linear1"), f"{key}.nonlinear2.batchnorm")
        h = np.maximum(0, h)
        local = self.conv1d(h, f"{key}.cam_layer.linear_local", pad=dil, dil=dil)
        frames = h.shape[2]
        segments = [h[:, :, s : s + 100].mean(2) for s in range(0, frames, 100)]
        context = h.mean(2, keepdims=True) + np.repeat(np.stack(segments, 2), 100, 2)[..., :frames]
        gate = np.maximum(0, self.conv1d(context, f"{key}.cam_layer.linear1"))
        gate = 1 / (1 + np.exp(-self.conv1d(gate, f"{key}.cam_layer.linear2")))
        joined: Array = np.concatenate([x, local * gate], 1)
        return joined

    def __call__(self, feats: Array) -> Array:
        x = feats.T[None, None].astype(np.float64)
        x = np.maximum(0, self.norm(self.conv2d(x, "head.conv1"), "head.bn1"))
        for key, stride in (("layer1.0", 2), ("layer1.1", 1), ("layer2.0", 2), ("layer2.1", 1)):
            x = self.residual(x, f"head.{key}", stride)
        x = np.maximum(0, self.norm(self.conv2d(x, "head.conv2", 2), "head.bn2"))
        x = x.reshape(1, -1, x.shape[3])
        x = self.conv1d(x, "xvector.tdnn.linear", stride=2, pad=2)
        x = np.maximum(0, self.norm(x, "xvector.tdnn.nonlinear.batchnorm"))
        for block, (layers, dil) in enumerate(((12, 1), (24, 2), (16, 2)), 1):
            for layer in range(1, layers + 1):
                x = self.dense(x, f"xvector.block{block}.tdnnd{layer}", dil)
            key = f"xvector.transit{block}"
            x = np.maximum(0, self.norm(x, f"{key}.nonlinear.batchnorm"))
            x = self.conv1d(x, f"{key}.linear")
        x = np.maximum(0, self.norm(x, "xvector.out_nonlinear.batchnorm"))
        stats = np.concatenate([x.mean(2), x.std(2, ddof=1)], 1)[:, :, None]
        e = self.conv1d(stats, "xvector.dense.linear")
        result: Array = self.norm(e, "xvector.dense.nonlinear.batchnorm", affine=False)[0, :, 0]
        return result


def read(path: Path) -> Array:
    with wave.open(str(path)) as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
    return pcm.astype(np.float32) / 32768


def test_the_graph_gives_the_numpy_forward_passs_vector_on_real_speech() -> None:
    # 2.5 s of speech crosses a 100-frame segment boundary of the CAM gates (frames at
    # 20 ms after the TDNN's stride: 125 of them).
    audio = read(AUDIO / "fox.wav")[: int(2.5 * 16000)]
    expected = Reference()(fbank(audio))
    got = NameEncoder.load().embed(audio)
    assert got is not None
    assert np.allclose(got, expected / np.linalg.norm(expected), atol=1e-4)
