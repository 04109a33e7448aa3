"""Resemblyzer's voice encoder in numpy: mel frames in, 256-d voice vectors out.

Three stacked LSTM layers of 256 units (PyTorch's gate order i, f, g, o), the
last hidden state through a 256x256 linear layer, a ReLU and L2
normalisation. Windows of equal length go through together: the input
projection of a whole batch is one matrix product, and only the recurrent
step loops over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.weights import Weights, load_weights

Floats = npt.NDArray[np.float32]
LAYERS = 3
HALF = np.float32(0.5)


@dataclass(frozen=True)
class _Layer:
    """One LSTM layer, its sigmoid gates' rows pre-scaled by 1/2 (see ``_scaled``)."""

    input_weights_t: Floats  # (inputs, 4 * hidden)
    hidden_weights_t: Floats  # (hidden, 4 * hidden)
    bias: Floats  # (4 * hidden,)


def _scaled(rows: Floats) -> Floats:
    """Halve the rows of the i, f and o gates: sigmoid(x) = (tanh(x / 2) + 1) / 2, so
    one tanh over all four gates serves the three sigmoids and the candidate."""
    size = rows.shape[0] // 4
    scale = np.full(rows.shape[0], 0.5, np.float32)
    scale[2 * size : 3 * size] = 1.0
    result: Floats = rows * scale.reshape((-1,) + (1,) * (rows.ndim - 1))
    return result


class VoiceEncoder:
    """Turns batches of mel windows into unit-length voice vectors."""

    def __init__(self, weights: Weights) -> None:
        self._layers = [
            _Layer(
                np.ascontiguousarray(_scaled(weights[f"lstm.weight_ih_l{n}"]).T),
                np.ascontiguousarray(_scaled(weights[f"lstm.weight_hh_l{n}"]).T),
                _scaled(weights[f"lstm.bias_ih_l{n}"] + weights[f"lstm.bias_hh_l{n}"]),
            )
            for n in range(LAYERS)
        ]
        self._linear_t = np.ascontiguousarray(weights["linear.weight"].T)
        self._linear_bias = weights["linear.bias"]

    @classmethod
    def load(cls, path: Path | None = None) -> VoiceEncoder:
        """Return the encoder with the installed Resemblyzer weights (or those at ``path``).

        Raises:
            WeightsError: the weights are missing or unreadable.
        """
        return cls(load_weights(path))

    def embed(self, windows: Floats) -> Floats:
        """Return one unit vector per window of a (windows, frames, 40) batch."""
        sequence = windows.astype(np.float32, copy=False)
        hidden: Floats = np.zeros((len(windows), 0), np.float32)
        for number, layer in enumerate(self._layers):
            sequence, hidden = _run_layer(layer, sequence, keep_sequence=number < LAYERS - 1)
        raw = np.maximum(hidden @ self._linear_t + self._linear_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        result: Floats = raw / np.maximum(norms, 1e-12)
        return result


def _run_layer(layer: _Layer, sequence: Floats, *, keep_sequence: bool) -> tuple[Floats, Floats]:
    batch, steps, inputs = sequence.shape
    size = layer.hidden_weights_t.shape[0]
    projected = (sequence.reshape(batch * steps, inputs) @ layer.input_weights_t).reshape(
        batch, steps, 4 * size
    )
    projected += layer.bias
    hidden = np.zeros((batch, size), np.float32)
    cell = np.zeros((batch, size), np.float32)
    outputs = np.empty((batch, steps, size), np.float32) if keep_sequence else sequence[:, :0]
    for step in range(steps):
        gates = np.tanh(projected[:, step] + hidden @ layer.hidden_weights_t)
        input_gate = HALF * gates[:, :size] + HALF
        forget_gate = HALF * gates[:, size : 2 * size] + HALF
        candidate = gates[:, 2 * size : 3 * size]
        output_gate = HALF * gates[:, 3 * size :] + HALF
        cell = forget_gate * cell + input_gate * candidate
        hidden = output_gate * np.tanh(cell)
        if keep_sequence:
            outputs[:, step] = hidden
    return outputs, hidden
