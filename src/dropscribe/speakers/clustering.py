"""Which window is whose voice, and how many voices there are.

Average-linkage agglomerative clustering on cosine similarity builds the
whole merge tree. The speakers are then found by a *guarded cut*: the tree
is cut at the wanted count, and one more, and one more, until that many
clusters each hold ``GUARD_SHARE`` of the windows; those are the speakers and
the small clusters (windows at a turn change or in overlap, which a plain
cut at two makes "the second speaker" of a call) join the nearest of them.

The wanted count is ``speakers`` when given; otherwise merging stops when the
two closest clusters are less alike than ``MERGE_SIMILARITY`` (calibrated on
real voices, see bench/README.md), and the groups that are not a speaker of
their own are folded away (``folding``: too little speech, a blend of two
others, or too close to another), before the guarded cut at that count.

Counting works on the voice vectors as they come, where its thresholds were
calibrated. Once there are two speakers or more, *who is who* is settled in
the recording's own space (``partition``): the recording's mean vector is
subtracted (the channel, the room, what its voices share) and the vectors
projected onto their ``count - 1 + EXTRA_DIMENSIONS`` leading principal
directions, as x-vector diarization centres and reduces its embeddings
before clustering. There the guarded cut and a few rounds of nearest-centre
assignment (k-means on the unit sphere) make the groups; then every window
takes the nearest of the groups' centres among the vectors as they come,
which keeps what the few directions leave out. Two similar voices on one
line, which the raw vectors barely tell apart, separate there (issue 22 in
bench/README.md: 93 % of words right to 96 % with the count given). When
counted, three groups or more made there are checked again by the folding
rules, since a group that was a speaker of its own among the raw vectors'
groups can turn out to be part of another (``fold_again``). Long
recordings cluster a stride-sampled subset of at most ``MAX_TREE_WINDOWS``
windows and assign the rest to the nearest centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.folding import fold_blends, fold_small, merge_close
from dropscribe.speakers.request import CountLimits
from dropscribe.speakers.vectors import Floats, Ints, centres, nearest, recording_space

MERGE_SIMILARITY = 0.63
CENTROID_SIMILARITY = 0.8
BLEND_SIMILARITY = 0.8
MIN_SHARE = 0.05
MAX_TREE_WINDOWS = 800
REFINE_ROUNDS = 3
GUARD_SHARE = 0.10
#: The guarded cut looks this many clusters past the wanted count at most.
MAX_GUARD_CLUSTERS = 40
#: Directions kept beyond the ``count - 1`` that separate ``count`` speakers, for
#: what else varies between windows (measured on the benchmark: 3 beats 2 and 4).
EXTRA_DIMENSIONS = 3


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
    clustered: Ints | None = None,
) -> Ints:
    """Return a speaker number per window (0, 1, … in order of first appearance).

    ``clustered`` picks the windows that are counted and grouped (default: all of
    them); the others (dense labelling windows) only take the nearest speaker.
    ``weights`` is each clustered window's length (frames), so that short windows
    count less towards a cluster's share of the speech.
    """
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.arange(len(vectors), dtype=np.int64) if clustered is None else clustered
    found = speaker_centres(vectors[chosen], weights, limits, tuning)
    if len(found) < 2:
        return refine(vectors, found)
    labels = partition(vectors, chosen, len(found))
    if limits.speakers > 0:
        return labels
    return fold_again(vectors, chosen, weights, labels, max(2, limits.minimum), tuning)


def fold_again(
    vectors: Floats,
    clustered: Ints,
    weights: npt.NDArray[np.float64],
    labels: Ints,
    floor: int,
    tuning: Tuning = Tuning(),
) -> Ints:
    """Return ``labels`` with groups folded that, as made in the recording's space, turn
    out not to be a speaker of their own (near the blend of two others, or as alike as
    one voice's halves), and the groups made again; never fewer than ``floor`` (whether
    there are two voices at all is the counting's call)."""
    while int(labels.max()) + 1 > floor:
        count = int(labels.max()) + 1
        sample = vectors[clustered]
        found = centres(sample, labels[clustered], count)
        kept = fold_blends(found, sample, weights, tuning.blend_similarity, floor)
        kept = merge_close(kept, tuning.centroid_similarity, floor)
        if len(kept) == count:
            break
        labels = partition(vectors, clustered, len(kept))
    return labels


def partition(vectors: Floats, clustered: Ints, count: int) -> Ints:
    """Return ``count`` speakers' numbers for every window, the groups made among the
    ``clustered`` windows in the recording's own space (see the module's notes)."""
    space = recording_space(vectors, vectors[clustered], count - 1 + EXTRA_DIMENSIONS)
    sample = space[clustered[_tree_sample(len(clustered))]]
    groups = refine(space, guarded_cut(sample, merge_tree(sample), count))
    found = centres(vectors, groups, int(groups.max()) + 1)
    return _by_first_appearance(nearest(vectors, found))


def speaker_centres(
    vectors: Floats,
    weights: npt.NDArray[np.float64],
    limits: CountLimits,
    tuning: Tuning = Tuning(),
) -> Floats:
    """Return one unit centre per speaker found among the (non-empty) ``vectors``."""
    sample = vectors[_tree_sample(len(vectors))]
    merges = merge_tree(sample)
    if limits.speakers > 0:
        return guarded_cut(sample, merges, min(limits.speakers, len(sample)))
    clusters = clusters_above(merges, len(sample), tuning.merge_similarity)
    clusters = min(max(clusters, limits.minimum), limits.maximum, len(sample))
    labels = cut_tree(len(sample), merges, clusters)
    found = centres(sample, labels, clusters)
    found = fold_small(found, vectors, weights, tuning.min_share, limits.minimum)
    found = fold_blends(found, vectors, weights, tuning.blend_similarity, limits.minimum)
    found = merge_close(found, tuning.centroid_similarity, limits.minimum)
    if len(found) < 2:
        return found
    # Counted: the groups are then made by the guarded cut, as for a given count.
    return guarded_cut(sample, merges, len(found))


def guarded_cut(sample: Floats, merges: list[Merge], wanted: int) -> Floats:
    """Return ``wanted`` centres: the tree cut at ``wanted``, ``wanted + 1``, … clusters
    until ``wanted`` of them each hold ``GUARD_SHARE`` of the windows; those are the
    speakers, and the rest (a few windows at a turn change or in overlap, which the
    plain cut at ``wanted`` would have made a speaker) go to the nearest of them."""
    count = len(sample)
    for clusters in range(wanted, min(count, wanted + MAX_GUARD_CLUSTERS) + 1):
        labels = cut_tree(count, merges, clusters)
        shares = np.bincount(labels, minlength=clusters) / count
        large = np.flatnonzero(shares >= GUARD_SHARE)
        if len(large) >= wanted:
            kept = large[np.argsort(-shares[large], kind="stable")][:wanted]
            return centres(sample, labels, clusters)[np.sort(kept)]
    return centres(sample, cut_tree(count, merges, wanted), wanted)


def _tree_sample(count: int) -> Ints:
    if count <= MAX_TREE_WINDOWS:
        return np.arange(count, dtype=np.int64)
    return np.linspace(0, count - 1, MAX_TREE_WINDOWS).round().astype(np.int64)


def refine(vectors: Floats, found: Floats) -> Ints:
    """A few rounds of nearest-centre assignment; empty clusters disappear."""
    labels = nearest(vectors, found)
    for _ in range(REFINE_ROUNDS):
        present = np.unique(labels)
        labels = np.searchsorted(present, labels)
        labels = nearest(vectors, centres(vectors, labels, len(present)))
    return _by_first_appearance(labels)
