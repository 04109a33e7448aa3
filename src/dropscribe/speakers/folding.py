"""Counting's tidying rules: groups of windows that are not a speaker of their own.

A group holding less than ``MIN_SHARE`` of the speech is folded into the
nearest large one, since a real speaker has more to say than a cough; a group
whose centre is closer than ``BLEND_SIMILARITY`` to the blend of two larger
groups' centres is folded too: it holds the windows where those two speak at
once or hand over; and groups whose centres are still closer than
``CENTROID_SIMILARITY`` are merged, which keeps a single reader in one piece
when their voice drifts through a recording.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.vectors import Floats, nearest, unit


def fold_small(
    centres: Floats, vectors: Floats, weights: npt.NDArray[np.float64], share: float, keep: int
) -> Floats:
    """Drop the centres whose windows hold less than ``share`` of the speech, smallest first."""
    while len(centres) > keep:
        owners = nearest(vectors, centres)
        held = np.bincount(owners, weights=weights, minlength=len(centres)) / weights.sum()
        smallest = int(np.argmin(held))
        if held[smallest] >= share:
            break
        centres = np.delete(centres, smallest, axis=0)
    return centres


def fold_blends(
    centres: Floats, vectors: Floats, weights: npt.NDArray[np.float64], threshold: float, keep: int
) -> Floats:
    """Drop a centre that lies near the blend of two centres holding more speech than it."""
    while len(centres) > max(keep, 2):
        owners = nearest(vectors, centres)
        held = np.bincount(owners, weights=weights, minlength=len(centres))
        blended = None
        for candidate in np.argsort(held).tolist():
            larger = [other for other in range(len(centres)) if held[other] > held[candidate]]
            for first, second in itertools.combinations(larger, 2):
                blend = unit((centres[first] + centres[second])[None, :])[0]
                if float(centres[candidate] @ blend) >= threshold:
                    blended = candidate
                    break
            if blended is not None:
                break
        if blended is None:
            break
        centres = np.delete(centres, blended, axis=0)
    return centres


def merge_close(centres: Floats, threshold: float, keep: int) -> Floats:
    """Merge the two most alike centres while they are more alike than ``threshold``."""
    while len(centres) > max(keep, 1):
        similarity = centres @ centres.T
        np.fill_diagonal(similarity, -np.inf)
        first, second = divmod(int(np.argmax(similarity)), len(centres))
        if similarity[first, second] < threshold:
            break
        merged = unit((centres[first] + centres[second])[None, :])
        centres = np.vstack([np.delete(centres, [first, second], axis=0), merged])
    return centres
