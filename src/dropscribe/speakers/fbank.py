"""Log mel filterbank frames as the naming encoder (CAM++) was trained on them.

A numpy copy of ``torchaudio.compliance.kaldi.fbank`` with the settings of
3D-Speaker's recipes: 16 kHz audio, 25 ms frames every 10 ms (no padding:
only whole frames), dither 0, each frame's mean removed, pre-emphasis 0.97,
Povey's window, a 512-point power spectrum through 80 triangular mel filters
from 20 Hz to 8 kHz, the log of each (floored at float32's epsilon); then
the recording's mean frame is subtracted, as 3D-Speaker does before the
model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from dropscribe.audio import SAMPLE_RATE

FRAME = SAMPLE_RATE * 25 // 1000
SHIFT = SAMPLE_RATE * 10 // 1000
N_FFT = 512
N_BINS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97

Floats = npt.NDArray[np.float32]


def _mel(hz: npt.NDArray[np.floating[Any]] | float) -> npt.NDArray[np.float64]:
    return np.asarray(1127.0 * np.log(1.0 + np.asarray(hz) / 700.0))


@cache
def _filters() -> npt.NDArray[np.float64]:
    """The (N_FFT / 2 + 1, N_BINS) mel filters, Kaldi's: triangles on the mel scale,
    the Nyquist bin left out."""
    low, high = float(_mel(LOW_HZ)), float(_mel(SAMPLE_RATE / 2))
    step = (high - low) / (N_BINS + 1)
    bins = _mel(SAMPLE_RATE / N_FFT * np.arange(N_FFT // 2))
    filters = np.zeros((N_FFT // 2 + 1, N_BINS))
    for number in range(N_BINS):
        left, centre, right = (low + (number + k) * step for k in range(3))
        rising = (bins - left) / (centre - left)
        falling = (right - bins) / (right - centre)
        filters[: N_FFT // 2, number] = np.maximum(0.0, np.minimum(rising, falling))
    return filters


@cache
def _window() -> npt.NDArray[np.float64]:
    return np.asarray((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85)


def fbank(audio: Floats) -> Floats:
    """Return the (frames, 80) mean-normalised log filterbank of 16 kHz ``audio``
    (no rows when it is shorter than one frame)."""
    count = 1 + (len(audio) - FRAME) // SHIFT if len(audio) >= FRAME else 0
    if count == 0:
        return np.zeros((0, N_BINS), np.float32)
    index = np.arange(FRAME)[None, :] + SHIFT * np.arange(count)[:, None]
    frames = audio[index].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= PREEMPHASIS * frames[:, :-1].copy()
    frames[:, 0] *= 1.0 - PREEMPHASIS
    power = np.abs(np.fft.rfft(frames * _window(), N_FFT)) ** 2
    energies = np.log(np.maximum(power @ _filters(), np.finfo(np.float32).eps))
    result: Floats = (energies - energies.mean(axis=0)).astype(np.float32)
    return result
