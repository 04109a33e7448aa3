"""Which window is whose voice, and how many voices there are.

Average-linkage agglomerative clustering on cosine similarity builds the
whole merge tree; the number of speakers is where the tree is cut:

- a forced count cuts it at that many clusters;
- otherwise merging stops when the two closest clusters are less alike than
  ``MERGE_SIMILARITY`` (calibrated on real voices, see bench/README.md);
  clusters holding less than ``MIN_SHARE`` of the speech are then folded into
  the nearest large one, since a real speaker has more to say than a cough;
  a cluster whose centre is closer than ``BLEND_SIMILARITY`` to the blend of
  two larger clusters' centres is folded too: it holds the windows where those
  two speak at once or hand over; and clusters whose centre vectors are still
  closer than ``CENTROID_SIMILARITY`` are merged, which is what keeps a single
  reader in one piece when their voice drifts through a recording.

A few rounds of nearest-centre assignment (k-means on the unit sphere) then
tidy the windows up. Long recordings cluster a stride-sampled subset of at
most ``MAX_TREE_WINDOWS`` windows and assign the rest to the nearest centre.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.request import CountLimits

MERGE_SIMILARITY = 0.63
CENTROID_SIMILARITY = 0.8
BLEND_SIMILARITY = 0.8
MIN_SHARE = 0.05
MAX_TREE_WINDOWS = 800
REFINE_ROUNDS = 3

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Merge:
    """Clusters ``kept`` and ``absorbed`` became one at average similarity ``similarity``."""

    kept: int
    absorbed: int
    similarity: float


def merge_tree(vectors: Floats) -> list[Merge]:
    """Return the average-linkage merges of unit ``vectors``, most alike first."""
    count = len(vectors)
    similarity = (vectors @ vectors.T).astype(np.float64)
    np.fill_diagonal(similarity, -np.inf)
    sizes = np.ones(count)
    merges: list[Merge] = []
    for _ in range(count - 1):
        flat = int(np.argmax(similarity))
        kept, absorbed = divmod(flat, count)
        best = float(similarity[kept, absorbed])
        kept, absorbed = min(kept, absorbed), max(kept, absorbed)
        merges.append(Merge(kept, absorbed, best))
        # Average linkage: the merged row is the size-weighted mean of both rows.
        total = sizes[kept] + sizes[absorbed]
        row = (sizes[kept] * similarity[kept] + sizes[absorbed] * similarity[absorbed]) / total
        row[kept] = -np.inf
        similarity[kept, :] = row
        similarity[:, kept] = row
        similarity[absorbed, :] = -np.inf
        similarity[:, absorbed] = -np.inf
        sizes[kept] = total
    return merges


def cut_tree(count: int, merges: list[Merge], clusters: int) -> Ints:
    """Return cluster numbers (0..clusters-1, by first member) after all but the last merges."""
    parent = np.arange(count)
    for merge in merges[: max(0, count - clusters)]:
        parent[parent == merge.absorbed] = merge.kept
    _, labels = np.unique(parent, return_inverse=True)
    return _by_first_appearance(labels.astype(np.int64))


def clusters_above(merges: list[Merge], count: int, threshold: float) -> int:
    """Return how many clusters remain when merging stops below ``threshold``."""
    done = sum(1 for merge in merges if merge.similarity >= threshold)
    return count - done


def _by_first_appearance(labels: Ints) -> Ints:
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    return np.array([order[label] for label in labels.tolist()], dtype=np.int64)


@dataclass(frozen=True)
class Tuning:
    """The counting thresholds; the defaults are the calibrated ones."""

    merge_similarity: float = MERGE_SIMILARITY
    centroid_similarity: float = CENTROID_SIMILARITY
    min_share: float = MIN_SHARE
    blend_similarity: float = BLEND_SIMILARITY


def assign_speakers(
    vectors: Floats,
    weights: npt.NDArray[np.float64],
    limits: CountLimits,
    tuning: Tuning = Tuning(),
) -> Ints:
    """Return a speaker number per window (0, 1, … in order of first appearance).

    ``weights`` is each window's length (frames), so that short windows count less
    towards a cluster's share of the speech.
    """
    count = len(vectors)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    tree_rows = _tree_sample(count)
    sample = vectors[tree_rows]
    merges = merge_tree(sample)
    if limits.speakers > 0:
        wanted = min(limits.speakers, len(sample))
        labels = cut_tree(len(sample), merges, wanted)
        centres = _centres(sample, labels, wanted)
        return _refine(vectors, centres)
    clusters = clusters_above(merges, len(sample), tuning.merge_similarity)
    clusters = min(max(clusters, limits.minimum), limits.maximum, len(sample))
    labels = cut_tree(len(sample), merges, clusters)
    centres = _centres(sample, labels, clusters)
    centres = _fold_small(centres, vectors, weights, tuning.min_share, limits.minimum)
    centres = _fold_blends(centres, vectors, weights, tuning.blend_similarity, limits.minimum)
    centres = _merge_close(centres, tuning.centroid_similarity, limits.minimum)
    return _refine(vectors, centres)


def _tree_sample(count: int) -> Ints:
    if count <= MAX_TREE_WINDOWS:
        return np.arange(count, dtype=np.int64)
    return np.linspace(0, count - 1, MAX_TREE_WINDOWS).round().astype(np.int64)


def _centres(vectors: Floats, labels: Ints, clusters: int) -> Floats:
    sums = np.zeros((clusters, vectors.shape[1]), np.float64)
    np.add.at(sums, labels, vectors)
    return _unit(sums)


def _unit(rows: npt.NDArray[np.floating[Any]]) -> Floats:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    result: Floats = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def _nearest(vectors: Floats, centres: Floats) -> Ints:
    nearest: Ints = np.argmax(vectors @ centres.T, axis=1).astype(np.int64)
    return nearest


def _fold_small(
    centres: Floats, vectors: Floats, weights: npt.NDArray[np.float64], share: float, keep: int
) -> Floats:
    """Drop the centres whose windows hold less than ``share`` of the speech, smallest first."""
    while len(centres) > keep:
        owners = _nearest(vectors, centres)
        held = np.bincount(owners, weights=weights, minlength=len(centres)) / weights.sum()
        smallest = int(np.argmin(held))
        if held[smallest] >= share:
            break
        centres = np.delete(centres, smallest, axis=0)
    return centres


def _fold_blends(
    centres: Floats, vectors: Floats, weights: npt.NDArray[np.float64], threshold: float, keep: int
) -> Floats:
    """Drop a centre that lies near the blend of two centres holding more speech than it."""
    while len(centres) > max(keep, 2):
        owners = _nearest(vectors, centres)
        held = np.bincount(owners, weights=weights, minlength=len(centres))
        blended = None
        for candidate in np.argsort(held).tolist():
            larger = [other for other in range(len(centres)) if held[other] > held[candidate]]
            for first, second in itertools.combinations(larger, 2):
                blend = _unit((centres[first] + centres[second])[None, :])[0]
                if float(centres[candidate] @ blend) >= threshold:
                    blended = candidate
                    break
            if blended is not None:
                break
        if blended is None:
            break
        centres = np.delete(centres, blended, axis=0)
    return centres


def _merge_close(centres: Floats, threshold: float, keep: int) -> Floats:
    """Merge the two most alike centres while they are more alike than ``threshold``."""
    while len(centres) > max(keep, 1):
        similarity = centres @ centres.T
        np.fill_diagonal(similarity, -np.inf)
        first, second = divmod(int(np.argmax(similarity)), len(centres))
        if similarity[first, second] < threshold:
            break
        merged = _unit((centres[first] + centres[second])[None, :])
        centres = np.vstack([np.delete(centres, [first, second], axis=0), merged])
    return centres


def _refine(vectors: Floats, centres: Floats) -> Ints:
    """A few rounds of nearest-centre assignment; empty clusters disappear."""
    labels = _nearest(vectors, centres)
    for _ in range(REFINE_ROUNDS):
        present = np.unique(labels)
        labels = np.searchsorted(present, labels)
        centres = _centres(vectors, labels, len(present))
        labels = _nearest(vectors, centres)
    return _by_first_appearance(labels)
