"""Mel filterbank frames as the voice encoder was trained on them.

A numpy copy of what Resemblyzer computes with ``librosa.feature.melspectrogram``
(librosa 0.10 defaults): 16 kHz audio, a 25 ms periodic Hann window every
10 ms, frames centred on their sample with zero padding, the power spectrum
through 40 Slaney-normalised mel filters from 0 to 8 kHz. Not a log-mel: the
encoder takes the power values.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from dropscribe.audio import SAMPLE_RATE

N_FFT = SAMPLE_RATE * 25 // 1000
HOP = SAMPLE_RATE * 10 // 1000
N_MELS = 40
FRAMES_PER_SECOND = SAMPLE_RATE / HOP

Floats = npt.NDArray[np.float32]


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Slaney's scale: linear below 1 kHz, logarithmic above.
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


@cache
def mel_filters() -> Floats:
    """Return the (40, 201) filterbank, as ``librosa.filters.mel`` builds it."""
    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    low, high = _hz_to_mel(np.array([0.0, SAMPLE_RATE / 2.0]))
    mel_points = np.linspace(float(low), float(high), N_MELS + 2)
    mel_freqs = _mel_to_hz(mel_points)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


@cache
def _window() -> Floats:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)).astype(np.float32)


def mel_frames(audio: Floats, chunk_frames: int = 6000) -> Floats:
    """Return the (frames, 40) power mel frames of 16 kHz mono ``audio``.

    Frame ``i`` is centred on sample ``i * 160``; there are ``len(audio) // 160 + 1``.
    Computed a minute at a time so a long recording needs little memory.
    """
    padded = np.pad(audio.astype(np.float32, copy=False), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    out = np.empty((max(count, 0), N_MELS), dtype=np.float32)
    filters_t = mel_filters().T
    window = _window()
    for first in range(0, count, chunk_frames):
        last = min(count, first + chunk_frames)
        starts = np.arange(first, last) * HOP
        frames = padded[starts[:, None] + np.arange(N_FFT)[None, :]] * window
        spectrum = np.fft.rfft(frames, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        out[first:last] = power @ filters_t
    return out
