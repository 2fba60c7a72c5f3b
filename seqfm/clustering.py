"""One cluster per motif: filters holding one motif (at another offset, a partial overlap or on
the other strand) merged agglomeratively on TomTom between the clusters' merged matrices, and on
their co-activation. A cluster's PWM is the aligned sum of all its members' site counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .alphabet import Alphabet
from .pwm import PWM, counts_to_probs, reverse_complement_matrix, trim_bounds
from .tomtom import tomtom_pairs


def coactivation(seq_max: np.ndarray) -> np.ndarray:
    """Pearson correlation ``(F, F)`` of the filters' per-sequence maximum activations.

    Two detectors of one motif (at another offset, or its reverse complement) fire on the
    same sequences; detectors of different motifs that happen to share a few letters do not.
    A filter that never varies correlates 0 with every other.
    """
    x = np.asarray(seq_max, dtype=np.float64)
    x = x - x.mean(axis=0)
    sd = np.sqrt((x ** 2).sum(axis=0))
    ok = sd > 0
    x[:, ok] /= sd[ok]
    c = x.T @ x
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)


@dataclass
class Cluster:
    """Filters of one motif and their places in the cluster's merged matrix.

    Attributes
    ----------
    members : list of int
        Indices into the list of PWMs given to :func:`cluster_filters`.
    place : list of (offset, strand)
        Member ``k``'s matrix (reverse-complemented when ``strand`` is 1) covers columns
        ``[offset, offset + width)`` of ``counts``.
    counts : numpy.ndarray, shape ``(W, A)``
        The aligned sum of the members' site counts (:func:`place_counts`).
    """

    members: list
    place: list
    counts: np.ndarray


def place_counts(pwms: Sequence[PWM], members: Sequence[int], place: Sequence[tuple[int, int]],
                 alphabet: Alphabet) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Aligned sum of the members' counts; placements shifted so the first column is 0."""
    lo = min(o for o, _ in place)
    place = [(o - lo, s) for o, s in place]
    width = max(o + pwms[m].width for m, (o, _) in zip(members, place))
    total = np.zeros((width, pwms[members[0]].counts.shape[1]))
    for m, (o, s) in zip(members, place):
        c = reverse_complement_matrix(pwms[m].counts, alphabet) if s else pwms[m].counts
        total[o: o + len(c)] += c
    return total, place


def cluster_filters(pwms: Sequence[PWM], alphabet: Alphabet, max_p: float = 1e-4,
                    coact: np.ndarray | None = None, min_coact: float = 0.0,
                    trim_bits: float = 0.3) -> list[Cluster]:
    """One cluster per motif: agglomerative merging on TomTom between the merged matrices.

    Every PWM starts as its own cluster. Each round compares every cluster's merged matrix
    (its members' aligned site counts, flanks under ``trim_bits`` trimmed) with every other by
    TomTom (:func:`seqfm.tomtom.tomtom_pairs`: any offset, partial overlaps, both strands for DNA; the
    filters' own matrices pad the target set so the p-values keep a stable background). Two
    clusters may merge when TomTom's p-value is at most ``max_p`` in both directions (query
    and target swapped) and, with ``coact`` given, the mean co-activation of their members
    (:func:`coactivation`) is at least ``min_coact``. Mergeable pairs are taken in order of
    p-value (ties by index), each cluster at most once per round; the smaller cluster (by
    sites) is placed in the larger one's frame with TomTom's offset and strand, so its members
    keep their alignment. Rounds repeat until no pair qualifies. A filter covering half of a
    motif joins a filter covering the whole motif, and once merged, the cluster's longer
    matrix recruits the filter covering the other half (which alone overlaps neither enough).
    Deterministic: no random choice, the same input gives the same clusters.

    Parameters
    ----------
    pwms : list of PWM
    alphabet : Alphabet
        With a complement (DNA), the other strand is tried too.
    max_p : float
    coact : numpy.ndarray, shape ``(K, K)``, optional
        Pairwise co-activation of the PWMs' filters.
    min_coact : float
    trim_bits : float

    Returns
    -------
    list of Cluster, in order of their first member.
    """
    n = len(pwms)
    if n == 0:
        return []
    rc = alphabet.complement is not None
    clusters = [Cluster([i], [(0, 0)], pwms[i].counts.astype(np.float64)) for i in range(n)]
    pool = [p.probs for p in pwms]
    while len(clusters) > 1:
        k = len(clusters)
        trimmed, lows = [], []
        for cl in clusters:
            probs = counts_to_probs(cl.counts, pwms[cl.members[0]].pseudocount)
            lo, hi = trim_bounds(probs, trim_bits)
            if hi <= lo:
                lo, hi = 0, len(probs)
            trimmed.append(probs[lo:hi])
            lows.append(lo)
        p, off, strand = tomtom_pairs(trimmed, trimmed + pool, rc)
        p, off, strand = p[:, :k], off[:, :k], strand[:, :k]
        psym = np.maximum(p, p.T)
        np.fill_diagonal(psym, np.inf)
        ok = psym <= max_p
        if coact is not None:
            for i in range(k):
                for j in range(i + 1, k):
                    if ok[i, j]:
                        c = float(np.mean(coact[np.ix_(clusters[i].members, clusters[j].members)]))
                        ok[i, j] = ok[j, i] = c >= min_coact
        pairs = sorted((psym[i, j], i, j) for i in range(k) for j in range(i + 1, k) if ok[i, j])
        if not pairs:
            break
        used: set[int] = set()
        merged: dict[int, Cluster] = {}
        for _, i, j in pairs:
            if i in used or j in used:
                continue
            used |= {i, j}
            a, b = clusters[i], clusters[j]
            if b.counts.sum() > a.counts.sum():
                i, j, a, b = j, i, b, a
            # b (query) placed in a's frame (target): b's trimmed first column sits at column
            # off of a's trimmed matrix, or of its reverse complement when strand is 1
            o, s = int(off[j, i]), int(strand[j, i])
            la, lb = lows[i], lows[j]
            wa, wb = len(trimmed[i]), len(trimmed[j])
            if not s:
                shift = la + o - lb
                place_b = [(shift + po, ps) for po, ps in b.place]
            else:
                width_b = len(b.counts)
                shift = la + (wa - o - wb) - (width_b - (lb + wb))
                place_b = [(shift + width_b - po - pwms[m].width, 1 - ps) for m, (po, ps) in zip(b.members, b.place)]
            members = a.members + b.members
            counts, place = place_counts(pwms, members, a.place + place_b, alphabet)
            merged[min(i, j)] = Cluster(members, place, counts)
        clusters = [merged.get(c, cl) for c, cl in enumerate(clusters) if c not in used or c in merged]
    order = sorted(range(len(clusters)), key=lambda c: min(clusters[c].members))
    out = []
    for c in order:
        cl = clusters[c]
        idx = np.argsort(cl.members, kind="stable")
        out.append(Cluster([cl.members[i] for i in idx], [cl.place[i] for i in idx], cl.counts))
    return out
