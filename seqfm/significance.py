"""Significance of binding-site calls: one null, one set of p- and q-values for
``seqfm sites`` (test-set sequences) and ``seqfm scan`` (whole genomes).

The question a p-value answers is *would this filter fire this high on random sequence with
this conservation?* The null is the evaluated sequence itself, dinucleotide-shuffled, with
every conservation track **kept in place** (:func:`shuffled_copies`): a conserved block with
no motif in it then scores like the null, and conservation alone is never a call.

Conservation still earns its place as a prior on *where* to look: candidates are stratified
by the track's mean over their window (:func:`window_means`; stratum edges at quantiles of
the null's positions, :func:`strata_edges`), every detector has one null distribution per
stratum (a *group*, ``group = detector * S + stratum``), and Benjamini–Hochberg runs within
each group (stratified FDR, Sun et al. 2006; separate classes, Efron 2008): conserved DNA,
where binding sites are dense, is tested as its own family, and a motif detector is not
diluted by the tests of the others. The false discovery rate of the union of the calls is the
weighted average of the groups' rates, so it stays at most the threshold.

Tests counted per stratum: a test is a local maximum of a detector's map; the maxima that come
back as candidates carry their stratum, and those that do not (ReLU zeros, values below the
scan's thresholds) are split over the strata in the proportion the null's maxima of the same
detector fall into them (the null holds the same tracks, position for position).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import InputError

#: default stratum edges, as quantiles of the window means of the null's positions
DEFAULT_STRATA = (0.5, 0.9, 0.97, 0.99)


# ---------------------------------------------------------------------- the null's sequences
def shuffled_copies(codes: np.ndarray, tracks: np.ndarray | None, copies: int, seed: int,
                    order: int = 2):
    """Seeded dinucleotide-shuffled copies of ``codes`` with every track kept in place.

    Parameters
    ----------
    codes : numpy.ndarray, uint8, ``(N, L)``
    tracks : numpy.ndarray ``(N, T, L)`` or None
        Yielded unchanged with every copy: position ``i`` of a shuffled sequence keeps the
        conservation of position ``i`` of its source.
    copies : int
    seed : int
        Copy ``k`` is shuffled with seed ``seed * 1000003 + k``; the same seed gives the same
        copies.
    order : int
        2 keeps dinucleotide (residue-pair) counts, 1 letter composition.

    Yields
    ------
    (codes_k, tracks) for k = 0 .. copies - 1.
    """
    from .negatives import shuffle_batch

    codes = np.ascontiguousarray(codes)
    for k in range(copies):
        yield shuffle_batch(codes, seed=seed * 1000003 + k, order=order), tracks


# ---------------------------------------------------------------------- strata
def window_means(tracks: np.ndarray, width: int) -> np.ndarray:
    """Mean of the tracks over every window ``[j, j + width)``.

    Parameters
    ----------
    tracks : numpy.ndarray ``(T, L)`` or ``(N, T, L)``
    width : int

    Returns
    -------
    numpy.ndarray, float64, ``(L - width + 1,)`` or ``(N, L - width + 1)``: averaged over the
    tracks and the window (NaN counts as 0).
    """
    t = np.nan_to_num(np.asarray(tracks, np.float64)).mean(axis=-2)
    c = np.cumsum(t, axis=-1)
    pad = np.zeros(t.shape[:-1] + (1,))
    c = np.concatenate([pad, c], axis=-1)
    return (c[..., width:] - c[..., :-width]) / width


def strata_edges(means: np.ndarray, quantiles=DEFAULT_STRATA) -> np.ndarray:
    """Stratum edges: the given quantiles of ``means`` (distinct values only, increasing)."""
    means = np.asarray(means, np.float64).ravel()
    if not len(means) or not len(quantiles):
        return np.zeros(0)
    edges = np.unique(np.quantile(means, np.clip(np.asarray(quantiles, np.float64), 0, 1)))
    return edges[edges > means.min()]  # an edge at the minimum would leave a stratum empty


def stratum_of(means: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Stratum of each window mean: 0 below the first edge, ``len(edges)`` at or above the last."""
    return np.searchsorted(np.asarray(edges, np.float64), np.asarray(means, np.float64),
                           side="right").astype(np.int64)


def tests_by_stratum(returned: np.ndarray, n_tests: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Tests per detector and stratum ``(D, S)``.

    ``returned`` ``(D, S)``: maxima that came back, with their stratum; ``n_tests`` ``(D,)``:
    every maximum of each detector; the rest (``n_tests - returned``) is split over the strata
    by ``share`` ``(D, S)`` (rows summing to 1).
    """
    returned = np.asarray(returned, np.float64)
    rest = np.maximum(np.asarray(n_tests, np.float64) - returned.sum(axis=1), 0)
    return returned + rest[:, None] * np.asarray(share, np.float64)


#: levels (fractions of the target FDR) tried by :func:`site_level_q`, loosest first
SITE_LEVELS = (1.0, 0.8, 0.65, 0.5, 0.4, 0.3, 0.22, 0.16, 0.12, 0.08, 0.05, 0.03, 0.02, 0.01)


def site_level_q(q: np.ndarray, p: np.ndarray, group: np.ndarray, alpha: float, merged_real,
                 null_p: np.ndarray, null_group: np.ndarray, merged_null, ratio: float
                 ) -> tuple[np.ndarray, float]:
    """q-values of the calls as sites: the false share after overlapping calls are merged,
    measured on the null (target-decoy at the level of sites).

    Several detectors call one binding site (redundant filters, both halves of a motif), and
    merging keeps one call per site, while false calls mostly fall apart and stay single: the
    per-group rate of :func:`stratified_bh` then understates the false share of the merged
    calls. So the null's peaks are called with the same per-group p-value thresholds and
    merged the same way; the groups' level is lowered (``alpha`` times each of
    :data:`SITE_LEVELS` in turn) until the merged null calls, scaled by ``ratio`` (real tests
    per null test), are at most ``alpha`` of the merged real calls.

    Parameters
    ----------
    q, p, group : ``(k,)`` per-group q-values, p-values and groups of the real candidates
    alpha : float, the target FDR
    merged_real : callable, a boolean mask over the real candidates -> merged calls left
    null_p, null_group : ``(n,)`` p-values and groups of the null's (top) peaks
    merged_null : callable, a boolean mask over the null peaks -> merged calls left
    ratio : float, real tests per null test

    Returns
    -------
    (q_site ``(k,)``: ``q / f`` capped at 1, so that the calls passing at the chosen level
    ``alpha f`` have ``q_site <= alpha``; the estimated false share at that level).
    """
    q, p = np.asarray(q, np.float64), np.asarray(p, np.float64)
    group, null_group = np.asarray(group, np.int64), np.asarray(null_group, np.int64)
    n_groups = int(max(group.max(initial=-1), null_group.max(initial=-1))) + 1
    est, f = 0.0, 1.0
    for f in SITE_LEVELS:
        passed = q <= alpha * f
        n_real = merged_real(passed) if passed.any() else 0
        if not n_real:
            break
        t = np.full(n_groups, -1.0)  # each group's p-value threshold at this level
        np.maximum.at(t, group[passed], p[passed])
        null_pass = np.asarray(null_p) <= t[null_group]
        est = (merged_null(null_pass) if null_pass.any() else 0) * ratio / n_real
        if est <= alpha:
            break
    return np.minimum(q / f, 1.0), est


def site_level_by_family(q: np.ndarray, p: np.ndarray, group: np.ndarray, cam: np.ndarray,
                         alpha: float, null: "ScanNull", tests: np.ndarray, merged_real,
                         null_merger) -> np.ndarray:
    """:func:`site_level_q` for the filters' calls and the CAM's apart, on the null's stored
    peaks called and merged as the real candidates are.

    Parameters
    ----------
    q, p, group : ``(k,)`` per-group q-values, p-values and groups of the real candidates
    cam : ``(k,)`` bool, the CAM's candidates
    alpha : float, the target FDR
    null : ScanNull with its peaks
    tests : ``(D, S)`` real tests per detector and stratum, the CAM last
    merged_real : callable, a boolean mask over every real candidate -> merged calls left
    null_merger : callable, ``(peaks, D)`` -> a callable taking indices into ``peaks`` ->
        merged calls left; ``peaks`` are the null's peaks that can pass (``dict`` of ``start``,
        ``end``, ``key``, ``p``, ``group``, ``detector``), ``D`` the null's detectors (the CAM
        is detector ``D - 1``)

    Returns
    -------
    numpy.ndarray ``(k,)``: the q-values of the calls as sites.
    """
    n_det = null.n_detectors
    null_p = null.peak_pvalues()
    near = null_p <= alpha  # no real call passes above alpha: the other null peaks never do
    peaks = {k: v[near] for k, v in null.peaks.items()}
    peaks["p"], peaks["group"] = null_p[near], null.peak_groups()[near]
    peaks["detector"] = peaks["group"] // null.n_strata
    merged_null = null_merger(peaks, n_det)
    counts = np.asarray(null.null.counts, np.float64).reshape(n_det, null.n_strata)
    tests = np.asarray(tests, np.float64)
    out = np.asarray(q, np.float64).copy()
    for is_cam in (False, True):
        fam = np.asarray(cam) == is_cam
        nfam = (peaks["detector"] == n_det - 1) == is_cam
        if not fam.any():
            continue
        rows = n_det - 1 if is_cam else slice(0, n_det - 1)
        ratio = tests[rows].sum() / max(counts[rows].sum(), 1.0)
        out[fam] = site_level_q(out[fam], p[fam], group[fam], alpha,
                                lambda k, fam=fam: merged_real(_within(fam, k)),
                                peaks["p"][nfam], peaks["group"][nfam],
                                lambda k, nfam=nfam: merged_null(np.flatnonzero(nfam)[k]), ratio)[0]
    return out


def _within(family: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A mask over the family's members as a mask over every candidate."""
    out = np.zeros(len(family), dtype=bool)
    out[np.flatnonzero(family)[mask]] = True
    return out


def sort_by_group(group: np.ndarray, value: np.ndarray, n_groups: int, **extra
                  ) -> tuple[list[np.ndarray], dict]:
    """Values sorted within each group (a list of ``n_groups`` arrays) and the ``extra`` arrays
    in the same order, flat (aligned with the groups' values one after the other)."""
    group = np.asarray(group, np.int64)
    order = np.lexsort((value, group))
    g, v = group[order], np.asarray(value)[order]
    bounds = np.searchsorted(g, np.arange(n_groups + 1))
    values = [v[bounds[k]:bounds[k + 1]].astype(np.float32) for k in range(n_groups)]
    return values, {k: np.asarray(x)[order] for k, x in extra.items()}


def shares(counts: np.ndarray) -> np.ndarray:
    """Rows of ``counts`` ``(D, S)`` normalised to sum to 1 (uniform where a row is empty)."""
    counts = np.asarray(counts, np.float64)
    tot = counts.sum(axis=1, keepdims=True)
    return np.where(tot > 0, counts / np.where(tot > 0, tot, 1), 1.0 / counts.shape[1])


def stratified_bh(p: np.ndarray, family: np.ndarray, stratum: np.ndarray,
                  m: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg within each (family, stratum).

    Parameters
    ----------
    p : ``(k,)`` p-values of the candidates kept (the others have larger p-values)
    family : ``(k,)`` int, e.g. the detector (filters ``0..F-1``, the CAM ``F``)
    stratum : ``(k,)`` int
    m : ``(n_families, S)`` tests of each family and stratum (at least the candidates in it)

    Returns
    -------
    ``(k,)`` q-values.
    """
    p = np.asarray(p, np.float64)
    q = np.ones(len(p))
    fam = np.asarray(family, np.int64)
    st = np.asarray(stratum, np.int64)
    for f, s in set(zip(fam.tolist(), st.tolist())):
        sel = (fam == f) & (st == s)
        n = int(sel.sum())
        q[sel] = bh(p[sel], max(int(round(float(m[f, s]))), n))
    return q


def bh(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg q-values.

    Parameters
    ----------
    p : numpy.ndarray, shape ``(k,)``
        p-values.
    m : int, optional
        Total number of tests when ``p`` holds only some of them (the others having larger
        p-values than every value here, e.g. all above the threshold of interest); default
        ``len(p)``. The q-values returned are exact whenever they are at most
        ``min(p_dropped)``.

    Returns
    -------
    numpy.ndarray, float64, shape ``(k,)``: ``q_i = min_{j: p_j >= p_i} p_j m / rank_j``, capped at 1.
    """
    p = np.asarray(p, dtype=np.float64)
    k = len(p)
    m = k if m is None else int(m)
    if k == 0:
        return np.zeros(0)
    if m < k:
        raise ValueError(f"m = {m} is smaller than the number of p-values ({k})")
    order = np.argsort(p)  # any order of ties gives them the same q-value
    ranked = p[order] * m / np.arange(1, k + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(k)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


@dataclass
class NullModel:
    """Per-detector empirical null distributions of peak values.

    Attributes
    ----------
    values : list of numpy.ndarray
        Sorted null peak values above ``floors[d]`` for each detector ``d`` (filters
        ``0..F-1``, then the CAM at index ``F``).
    counts : numpy.ndarray, int64, ``(F + 1,)``
        All null peaks of each detector (including those at or below the floor).
    floors : numpy.ndarray, ``(F + 1,)``
        Values at or below the floor get p = 1 (0 for filters, -inf for the CAM).
    """

    values: list[np.ndarray]
    counts: np.ndarray
    floors: np.ndarray

    @classmethod
    def from_flat(cls, flat: np.ndarray, lengths: np.ndarray, counts: np.ndarray,
                  floors: np.ndarray) -> "NullModel":
        """Every detector's sorted values one after the other (``lengths`` each), as saved."""
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        null = cls([flat[offsets[d]:offsets[d + 1]] for d in range(len(lengths))], counts, floors)
        flat64 = np.asarray(flat, np.float64)
        null.__dict__["_flat"] = (flat64, offsets, np.asarray(counts, np.float64),
                                  np.asarray(floors, np.float64))  # the search's layout, primed
        return null

    @cached_property
    def _flat(self) -> tuple:
        """Every detector's values in one array, with offsets (for the compiled search)."""
        lengths = [len(v) for v in self.values]
        flat = (np.concatenate([np.asarray(v, np.float64) for v in self.values]) if sum(lengths)
                else np.zeros(0))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return (flat, offsets, np.asarray(self.counts, np.float64),
                np.asarray(self.floors, np.float64))

    def pvalues(self, detector: np.ndarray, x: np.ndarray, above: np.ndarray | None = None,
                tails: tuple | None = None) -> np.ndarray:
        """Empirical p-values ``(1 + #null >= x) / (1 + n_null)`` (detector index, value); 1 at
        or below a detector's floor. One compiled binary search per value; ``above`` (one value
        per detector, at most every ``x`` of that detector, e.g. the thresholds a scan returned
        candidates above) narrows each search to the null values from there on. ``tails``:
        exponential upper tails ``(u, p_u, scale)`` per detector (see
        :class:`seqfm.scan.ScanNull`)."""
        from .scan_kernels import empirical_pvalues

        detector = np.asarray(detector, dtype=np.int64)
        x = np.asarray(x, dtype=np.float64)
        flat, offsets, counts, floors = self._flat
        if tails is None:
            none = np.full(len(counts), np.inf)
            tails = (none, none, none)
        u, pu, scale = (np.asarray(t, np.float64) for t in tails)
        above = (np.full(len(counts), -np.inf) if above is None
                 else np.asarray(above, np.float64))
        return empirical_pvalues(flat, offsets, counts, floors, detector, x, above, u, pu, scale)

    def maxima(self) -> np.ndarray:
        """Largest null value of each detector (1 where a detector never fired)."""
        return np.array([v[-1] if len(v) and v[-1] > 0 else 1.0 for v in self.values])


@dataclass
class ScanNull:
    """Null of peak values per group (detector x stratum) with an exponential upper tail.

    Attributes
    ----------
    null : NullModel
        Sorted null peak values above the floor per group, their total counts and floors.
        Groups are ``detector * S + stratum`` (detectors: filters, then the CAM last; ``S``
        strata, 1 without tracks).
    tail_u : numpy.ndarray ``(G,)``
        Tail threshold of each group (+inf: no tail model).
    tail_p : numpy.ndarray ``(G,)``
        Empirical p-value at ``tail_u``.
    tail_scale : numpy.ndarray ``(G,)``
        Mean excess over ``tail_u`` of the null peaks beyond it.
    fingerprint : str
        Digest of the model the null was made with.
    info : dict
        ``strata_edges`` (list, the window-mean edges of the strata; absent: one stratum) and
        how the null was made.
    """

    null: object
    tail_u: np.ndarray
    tail_p: np.ndarray
    tail_scale: np.ndarray
    fingerprint: str = ""
    info: dict = field(default_factory=dict)
    #: where the null's (top) peaks lie, aligned with the groups' values one after the
    #: other: ``key`` (the sequence or window), ``start``, ``end`` (the call's interval);
    #: merged like real calls to measure the false share of merged calls
    peaks: dict | None = None

    @classmethod
    def fit(cls, null, tail_fraction: float = 0.01, min_tail: int = 20, fingerprint: str = "",
            info: dict | None = None, peaks: dict | None = None) -> "ScanNull":
        """Fit the exponential tails of a :class:`NullModel`."""
        d = len(null.values)
        u, pu, sc = np.full(d, np.inf), np.ones(d), np.ones(d)
        for k, vals in enumerate(null.values):
            n_tail = int(max(min_tail, round(tail_fraction * len(vals))))
            if len(vals) < 2 * min_tail or n_tail >= len(vals):
                continue
            thr = float(vals[len(vals) - n_tail - 1])
            excess = vals[vals > thr] - thr
            if len(excess) < min_tail or not np.isfinite(thr) or excess.mean() <= 0:
                continue
            u[k], sc[k] = thr, float(excess.mean())
            pu[k] = (1.0 + len(excess)) / (1.0 + null.counts[k])
        return cls(null, u, pu, sc, fingerprint, dict(info or {}), peaks)

    # ------------------------------------------------------------ strata
    @property
    def edges(self) -> np.ndarray:
        """Window-mean edges of the strata (empty: one stratum)."""
        return np.asarray(self.info.get("strata_edges", []), np.float64)

    @property
    def n_strata(self) -> int:
        return len(self.edges) + 1

    @property
    def n_detectors(self) -> int:
        return len(self.null.values) // self.n_strata

    def group(self, detector: np.ndarray, stratum: np.ndarray | None = None) -> np.ndarray:
        """Group index of each (detector ``0..F``, stratum) pair (stratum 0 when None)."""
        detector = np.asarray(detector, np.int64)
        if stratum is None:
            return detector * self.n_strata
        return detector * self.n_strata + np.asarray(stratum, np.int64)

    def shares(self) -> np.ndarray:
        """``(D, S)``: the share of each detector's null maxima in each stratum."""
        return shares(np.asarray(self.null.counts, np.float64).reshape(-1, self.n_strata))

    def pvalues(self, detector: np.ndarray, x: np.ndarray, above: np.ndarray | None = None,
                stratum: np.ndarray | None = None) -> np.ndarray:
        """p-values: empirical (:meth:`NullModel.pvalues`; ``above`` per group, as there) up
        to the tail threshold, ``tail_p * exp(-(x - tail_u) / tail_scale)`` beyond it.
        ``detector``: index ``0..F`` (``F`` = the CAM); ``stratum``: each value's stratum
        (None: stratum 0, the only one of a null without strata)."""
        return self.null.pvalues(self.group(detector, stratum), x, above,
                                 (self.tail_u, self.tail_p, self.tail_scale))

    def detector_thresholds(self, p: float) -> np.ndarray:
        """``(D,)``: the smallest of each detector's group thresholds (:meth:`thresholds`), so
        that a scan cut there loses nothing that passes in any stratum."""
        return self.thresholds(p).reshape(-1, self.n_strata).min(axis=1)

    def peak_groups(self) -> np.ndarray:
        """The group of each of :attr:`peaks` (the groups' values one after the other)."""
        return np.repeat(np.arange(len(self.null.values)), [len(v) for v in self.null.values])

    def peak_pvalues(self) -> np.ndarray:
        """p-values of the null's own stored peaks (as real values of their group get)."""
        flat = np.concatenate(self.null.values) if len(self.null.values) else np.zeros(0)
        return self.null.pvalues(self.peak_groups(), flat, None,
                                 (self.tail_u, self.tail_p, self.tail_scale))

    def detector_maxima(self) -> np.ndarray:
        """``(D,)``: the largest null value of each detector over its strata."""
        return self.maxima().reshape(-1, self.n_strata).max(axis=1)

    def thresholds(self, p: float) -> np.ndarray:
        """Smallest value of each detector whose p-value is at most ``p`` (``(D,)``, float32;
        +inf where none can reach it). Candidates below it can never pass a q-value of ``p``."""
        out = np.full(len(self.null.values), np.inf)
        for k, vals in enumerate(self.null.values):
            n = int(self.null.counts[k])
            floor = float(self.null.floors[k])
            # empirical: (1 + #{v >= x}) / (1 + n) <= p  <=>  #{v >= x} <= p (1 + n) - 1
            allowed = int(math.floor(p * (1 + n) - 1 + 1e-9))
            if allowed < 0:
                emp = np.inf
            elif allowed >= len(vals):
                emp = np.nextafter(floor, np.inf) if np.isfinite(floor) else -np.inf
            else:
                emp = float(np.nextafter(vals[len(vals) - allowed - 1], np.inf))
            u = self.tail_u[k]
            if not np.isfinite(u) or emp <= u:
                out[k] = emp
            elif self.tail_p[k] <= p:
                out[k] = np.nextafter(u, np.inf)
            else:
                out[k] = u + self.tail_scale[k] * math.log(self.tail_p[k] / p)
        # float32 comparisons on the device: round down so nothing that passes is cut
        out32 = out.astype(np.float32)
        return np.where(np.isfinite(out32), np.nextafter(out32, np.float32(-np.inf)), out32)

    def maxima(self) -> np.ndarray:
        return self.null.maxima()

    def save(self, path: str | os.PathLike) -> None:
        """Write the null as ``.npz`` (atomically)."""
        from .io import atomic_write

        lengths = np.array([len(v) for v in self.null.values], dtype=np.int64)
        flat = (np.concatenate(self.null.values).astype(np.float32) if lengths.sum()
                else np.zeros(0, np.float32))
        with atomic_write(path, "wb") as handle:
            peaks = {f"peak_{k}": v for k, v in (self.peaks or {}).items()}
            np.savez(handle, values=flat, lengths=lengths, counts=self.null.counts, **peaks,
                     floors=self.null.floors, tail_u=self.tail_u, tail_p=self.tail_p,
                     tail_scale=self.tail_scale, fingerprint=np.array(self.fingerprint),
                     info=np.array(json.dumps(self.info)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ScanNull":
        """Read a null written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such null file (make it with `seqfm scan-null`)")
        try:
            z = np.load(path, allow_pickle=False)
            null = NullModel.from_flat(z["values"], z["lengths"], z["counts"], z["floors"])
            peaks = ({k: z[f"peak_{k}"] for k in ("key", "start", "end")}
                     if "peak_key" in z else None)
            return cls(null, z["tail_u"], z["tail_p"], z["tail_scale"], str(z["fingerprint"]),
                       json.loads(str(z["info"])), peaks)
        except (OSError, KeyError, ValueError) as err:
            raise InputError(f"{path}: not a seqfm scan null ({err})") from None


def trimmed(values: list[np.ndarray], floors: np.ndarray, keep: float = 0.1, min_keep: int = 2000,
            extra: dict | None = None) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Keep the top ``keep`` share (at least ``min_keep``) of each group's sorted values (and
    of the ``extra`` flat arrays aligned with them).

    A call needs a small p-value, so only the upper tail of a null is ever searched; the
    dropped values stay counted (the group's ``counts`` are unchanged) and the group's floor
    rises to the largest dropped value, so anything at or below it gets p = 1 (exact above it).
    """
    out, floors, take, base = [], np.array(floors, np.float64), [], 0
    for g, v in enumerate(values):
        n = max(min_keep, int(math.ceil(keep * len(v))))
        lo = 0
        if len(v) > n:
            floors[g] = max(floors[g], float(v[len(v) - n - 1]))
            lo = len(v) - n
            while lo < len(v) and v[lo] <= floors[g]:
                lo += 1
        out.append(v[lo:])
        take.append(np.arange(base + lo, base + len(v)))
        base += len(v)
    idx = np.concatenate(take) if take else np.zeros(0, np.int64)
    return out, floors, {k: np.asarray(x)[idx] for k, x in (extra or {}).items()}
