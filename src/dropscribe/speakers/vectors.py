"""Unit voice vectors: centres of groups, and the nearest centre of each vector."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
#: The encoder's voice vectors have this many dimensions (speakers/encoder.py).
VECTOR_SIZE = 256


def unit(rows: npt.NDArray[np.floating[Any]]) -> Floats:
    """Return ``rows`` scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    result: Floats = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def centres(vectors: Floats, labels: Ints, clusters: int) -> Floats:
    """Return the unit mean of each label's vectors (labels 0..clusters-1)."""
    sums = np.zeros((clusters, vectors.shape[1]), np.float64)
    np.add.at(sums, labels, vectors)
    return unit(sums)


def nearest(vectors: Floats, centres: Floats) -> Ints:
    """Return the index of the most similar centre of each vector."""
    found: Ints = np.argmax(vectors @ centres.T, axis=1).astype(np.int64)
    return found


def recording_space(vectors: Floats, fit: Floats, dimensions: int) -> Floats:
    """Return ``vectors`` less the mean of ``fit`` (the recording's windows), projected
    onto the ``dimensions`` directions along which ``fit`` varies most, at unit length.

    The mean is what every window of the recording shares: the channel, the room,
    and what its voices have in common. The leading directions are where the
    voices differ; the rest is mostly what is said and noise.
    """
    mean = fit.mean(axis=0)
    _, spread, directions = np.linalg.svd(fit - mean, full_matrices=False)
    kept = directions[: max(1, min(dimensions, len(spread)))]
    return unit((vectors - mean) @ kept.T)
