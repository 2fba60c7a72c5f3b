"""First-layer filters -> PWMs -> motif clusters -> JASPAR annotation (TomTom).

The path from a trained :class:`~seqfm.model.SeqCNN` to named motifs:

1. :func:`filter_counts` -- Basset's rule. Over a set of (positive) sequences, a filter's
   activation threshold is ``mean + frac * (max - mean)`` of all its activations (both
   strands, every position). Every window whose activation passes it is a site; the window
   is read on the strand where the filter fired (reverse-complemented for strand 1) and its
   letters are counted. Computed batch by batch on the device as a correlation of the
   site mask with the one-hot input, never materialising the windows.
2. :func:`filter_pwms` -- counts + pseudocounts -> probabilities; fewer than ``min_sites``
   sites means no PWM; low-information flanks are trimmed.
3. :func:`ablation_effects` -- influence: logits with a set of first-layer channels zeroed
   (one set per row of a mask matrix), in batches, several masks per forward pass.
4. :func:`track_response` / :func:`track_only_filters` -- conservation's share by
   intervention (tracks at background; shuffled sequence with the tracks in place); filters
   that respond to the track without a sequence motif are reported as ``track-only``.
5. :func:`cluster_filters` -- redundant filters (one motif at another offset, a partial
   overlap or on the other strand) merged agglomeratively on TomTom between the clusters'
   merged matrices; a cluster's PWM is the aligned sum of all its members' site counts.
5. :func:`annotate` -- memelite's TomTom against a JASPAR release (:func:`seqfm.jaspar.load_jaspar`), with a
   calibrated significance rule (:class:`MatchRule`; see ``bench/bench_tomtom_calibration.py``).
6. :func:`seqfm.io.write_meme` -- the PWMs in MEME motif format version 4.

Matrices are ``(W, A)``: one row per position, one column per letter in alphabet order
(``ACGT`` for DNA). TomTom takes ``(A, W)`` and gets the transpose.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .alphabet import Alphabet, get as get_alphabet
from .errors import InputError
from .io import atomic_path, atomic_write, write_meme
from .jaspar import JASPAR_RELEASE, Database, load_jaspar, load_meme_database, releases
from .numba_cache import use_numba_cache

if TYPE_CHECKING:
    from .dataset import Dataset
    from .model import SeqCNN

log = logging.getLogger("seqfm")


def _tomtom():
    use_numba_cache()
    # after use_numba_cache(), which numba reads when memelite defines its kernels; 1.2 s
    from memelite.tomtom import tomtom

    return tomtom


# ---------------------------------------------------------------------- motifs
@dataclass
class PWM:
    """A position weight matrix with its counts.

    Attributes
    ----------
    name : str
    counts : numpy.ndarray, float64, shape ``(W, A)``
        Letter counts per position (sites, fractional for ambiguity letters), without
        pseudocounts.
    n_sites : int
    alphabet : str
    pseudocount : float
        Added to every count (per letter) when probabilities are taken.
    altname : str
        Free text (MEME's alternate name).
    """

    name: str
    counts: np.ndarray
    n_sites: int
    alphabet: str = "dna"
    pseudocount: float = 0.5
    altname: str = ""

    @property
    def width(self) -> int:
        return int(self.counts.shape[0])

    @property
    def probs(self) -> np.ndarray:
        """Letter probabilities ``(W, A)``, rows summing to 1."""
        return counts_to_probs(self.counts, self.pseudocount)

    @property
    def ic(self) -> float:
        """Information content in bits (sum over positions)."""
        return float(column_ic(self.probs).sum())

    def consensus(self) -> str:
        return consensus(self.probs, get_alphabet(self.alphabet))


def counts_to_probs(counts: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """Counts ``(W, A)`` + ``pseudocount`` per letter -> probabilities ``(W, A)``."""
    c = np.asarray(counts, dtype=np.float64) + pseudocount
    s = c.sum(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return c / s


def column_ic(probs: np.ndarray) -> np.ndarray:
    """Information content of each position in bits, ``(W,)``: ``log2(A) - H(p)``."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return np.log2(p.shape[1]) + (p * np.log2(p)).sum(axis=1)


def consensus(probs: np.ndarray, alphabet: Alphabet) -> str:
    """One letter per position: the top letter in capitals when it has p >= 0.5, in lower case
    when it leads with p >= 0.3, ``N``/``X`` otherwise."""
    letters = alphabet.letters
    other = "N" if alphabet.name == "dna" else "X"
    out = []
    for row in np.asarray(probs):
        k = int(np.argmax(row))
        out.append(letters[k] if row[k] >= 0.5 else letters[k].lower() if row[k] >= 0.3 else other)
    return "".join(out)


def trim_bounds(probs: np.ndarray, min_bits: float) -> tuple[int, int]:
    """``[start, end)`` left after dropping flank positions with less than ``min_bits``.

    ``(0, 0)`` when no position has ``min_bits``.
    """
    keep = np.flatnonzero(column_ic(probs) >= min_bits)
    if not len(keep):
        return 0, 0
    return int(keep[0]), int(keep[-1]) + 1


def reverse_complement_matrix(m: np.ndarray, alphabet: Alphabet) -> np.ndarray:
    """A ``(W, A)`` matrix on the other strand (positions reversed, letters complemented)."""
    comp = alphabet.complement_codes()[: alphabet.size].astype(np.int64)
    return np.asarray(m)[::-1][:, comp]


# ---------------------------------------------------------------------- activations -> counts
@dataclass
class FilterSites:
    """What :func:`filter_counts` found, per filter.

    Attributes
    ----------
    counts : numpy.ndarray, float64, shape ``(F, W, A)``
        Letters of the sites, read on the strand where the filter fired.
    n_sites : numpy.ndarray, int64, shape ``(F,)``
    threshold : numpy.ndarray, float64, shape ``(F,)``
        ``mean + frac * (max - mean)`` of the activations.
    act_mean, act_max : numpy.ndarray, float64, shape ``(F,)``
    track_at_sites : numpy.ndarray, float64, shape ``(F, T)``
        Mean conservation over the site windows (T = 0 without tracks).
    n_sequences : int
    seq_max : numpy.ndarray, float32, shape ``(M, F)``
        Each sequence's largest activation of each filter (either strand); filters that
        detect one motif fire on the same sequences (:func:`coactivation`).
    """

    counts: np.ndarray
    n_sites: np.ndarray
    threshold: np.ndarray
    act_mean: np.ndarray
    act_max: np.ndarray
    track_at_sites: np.ndarray
    n_sequences: int
    seq_max: np.ndarray | None = None


def filter_counts(model, source, index: np.ndarray, frac: float = 0.7,
                  batch_size: int = 256, progress: bool = False, keep_bytes: int = 2 ** 28) -> FilterSites:
    """Basset's rule: count the letters of every window that activates a filter strongly.

    Parameters
    ----------
    model : SeqCNN
        In eval mode, on ``source.device``.
    source : seqfm.batching.BatchSource
        Batches of one-hot inputs ``(B, C, L)`` made on the device.
    index : numpy.ndarray, int, shape ``(M,)``
        The sequences to read (seqfm uses the train and valid positives).
    frac : float
        Threshold fraction: a window is a site of filter f when its activation (either
        strand) is above ``mean_f + frac * (max_f - mean_f)``.
    batch_size : int
    keep_bytes : int
        The first pass (the threshold) keeps the activations for the second (the counts) up to
        this size; the rest are computed again.

    Returns
    -------
    FilterSites
    """
    import torch

    if not 0.0 <= frac < 1.0:
        raise InputError(f"activation threshold fraction must be in [0, 1), got {frac}")
    if len(index) == 0:
        raise InputError("no sequences to build filter PWMs from (no positive in the train/valid splits)")
    model.eval()
    dev = source.device
    n_f, width = model.conv1.out_channels, model.filter_width
    n_a = model.alphabet.size
    total = torch.zeros(n_f, dtype=torch.float64, device=dev)
    amax = torch.zeros(n_f, dtype=torch.float32, device=dev)
    count = 0
    seq_max = []
    bar = _bar(progress, 2 * len(index), "filter activations")
    kept, kept_bytes, keeping = [], 0, True
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            size = sum(t.numel() * t.element_size() for t in (fwd, rev) if t is not None)
            keeping = keeping and kept_bytes + size <= keep_bytes
            if keeping:  # the first batches, while they fit
                kept.append((fwd, rev))
                kept_bytes += size
            acts = fwd if rev is None else torch.cat([fwd, rev], dim=2)
            total += acts.sum(dim=(0, 2), dtype=torch.float64)
            smax = acts.amax(dim=2)
            amax = torch.maximum(amax, smax.amax(dim=0))
            seq_max.append(smax.float().cpu())
            count += acts.shape[0] * acts.shape[2]
            bar.update(len(x))
        mean = total / max(count, 1)
        thr = (mean + frac * (amax.double() - mean)).float()
        # a filter that never fires has max == mean == 0: no window passes "> 0"
        counts = torch.zeros(n_f, model.n_channels, width, dtype=torch.float64, device=dev)
        n_sites = torch.zeros(n_f, dtype=torch.float64, device=dev)
        for k, (x, _) in enumerate(source.iterate(index, batch_size)):
            fwd, rev = kept[k] if k < len(kept) else model.first_layer(x)
            windows = x.unfold(2, width, 1)  # (B, C, L1, W), a view
            m = (fwd > thr[None, :, None]).float()
            n_sites += m.sum(dim=(0, 2), dtype=torch.float64)
            counts += torch.einsum("bfi,bciw->fcw", m, windows).double()
            if rev is not None:
                m = (rev > thr[None, :, None]).float()
                n_sites += m.sum(dim=(0, 2), dtype=torch.float64)
                c = torch.einsum("bfi,bciw->fcw", m, windows).double()
                # a reverse-strand site read 5'->3' on its own strand
                counts += c.index_select(1, model.rc_perm).flip(-1)
            bar.update(len(x))
    bar.close()
    counts = counts.cpu().numpy()
    n_sites_np = np.rint(n_sites.cpu().numpy()).astype(np.int64)
    tracks = counts[:, n_a:, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        track_mean = np.where(n_sites_np[:, None] > 0,
                              tracks.sum(axis=2) / (np.maximum(n_sites_np, 1)[:, None] * width), np.nan)
    return FilterSites(counts=counts[:, :n_a, :].transpose(0, 2, 1).copy(), n_sites=n_sites_np,
                       threshold=thr.double().cpu().numpy(), act_mean=mean.cpu().numpy(),
                       act_max=amax.double().cpu().numpy(), track_at_sites=track_mean,
                       n_sequences=int(len(index)), seq_max=torch.cat(seq_max).numpy())


def filter_pwms(sites: FilterSites, alphabet: str = "dna", min_sites: int = 10,
                trim_bits: float = 0.3, pseudocount: float = 0.5
                ) -> tuple[list[PWM | None], np.ndarray]:
    """PWMs of the filters with at least ``min_sites`` sites, flanks under ``trim_bits`` trimmed.

    Returns
    -------
    pwms : list of PWM or None, length F
        ``filter_{f}``; None for too few sites or no position with ``trim_bits``.
    bounds : numpy.ndarray, int, shape ``(F, 2)``
        The kept ``[start, end)`` of each filter's window (strand-0 orientation).
    """
    out: list[PWM | None] = []
    bounds = np.zeros((len(sites.n_sites), 2), dtype=np.int64)
    for f, (c, n) in enumerate(zip(sites.counts, sites.n_sites)):
        if n < min_sites:
            out.append(None)
            continue
        lo, hi = trim_bounds(counts_to_probs(c, pseudocount), trim_bits)
        bounds[f] = lo, hi
        if hi - lo < 1:
            out.append(None)
            continue
        out.append(PWM(f"filter_{f}", c[lo:hi].copy(), int(n), alphabet, pseudocount))
    return out, bounds


# ---------------------------------------------------------------------- influence
def _channel_maxima(model, fwd, rev):
    """Each first-layer channel's maximum over positions and strands, ``(B, F)``, when that is all
    the logit sees of the first layer (max pooling, no layer between the first one and the pool);
    None otherwise."""
    import torch

    if model.project is not None or model.arch["global_pool"] != "max":
        return None
    return fwd.amax(-1) if rev is None else torch.maximum(fwd, rev).amax(-1)


def _masked_logits(model, fwd, rev, masks, alt=None, maxima=None):
    """Logits ``(K, B)`` with first-layer channels multiplied by ``masks`` ``(K, F)``.

    The masked first layer goes through :meth:`SeqCNN.streams`, strand maximum,
    :meth:`SeqCNN.pool` and the head (eval mode): the mask applies after the first layer's
    activation, on both strands. With ``alt = (fwd_alt, rev_alt)`` a masked channel takes
    its value from ``alt`` instead of 0 (``fwd * m + fwd_alt * (1 - m)``; an intervention on
    the inputs of some filters only).

    ``maxima`` (``(B, F)``, and ``(B, F)`` of ``alt`` with ``alt``; :func:`_channel_maxima`)
    takes a shortcut for masks of 0s and 1s: the maximum of a channel kept, zeroed or
    replaced is the channel's maximum, 0 or the replacement's maximum, so the pooled features
    are masked instead of the feature maps. The numbers are the same, bit for bit.
    """
    import torch

    k, b = masks.shape[0], fwd.shape[0]
    if maxima is not None and bool(((masks == 0) | (masks == 1)).all()):
        mk = masks[:, None, :]
        pooled = maxima[0][None] * mk
        if alt is not None:
            pooled = pooled + maxima[1][None] * (1 - mk)
        return model.head(pooled.reshape(k * b, -1)).squeeze(-1).reshape(k, b)
    mk = masks[:, None, :, None]
    f = _masked(fwd, mk, None if alt is None else alt[0])
    r = None if rev is None else _masked(rev, mk, None if alt is None else alt[1])
    h_f, h_r = model.streams(f, r)
    h = h_f if h_r is None else torch.maximum(h_f, h_r)
    return model.head(model.pool(h)).squeeze(-1).reshape(k, b)


def _masked(acts, mk, alt=None):
    """First-layer activations ``(B, F, L1)`` under each of ``K`` masks ``mk`` ``(K, 1, F, 1)``,
    flattened to ``(K * B, F, L1)``; a masked channel takes ``alt``'s value when given."""
    out = acts[None] * mk
    if alt is not None:
        out = out + alt[None] * (1 - mk)
    return out.reshape(-1, *acts.shape[1:])


def ablation_logits(model, source, index: np.ndarray, masks: np.ndarray, batch_size: int = 256,
                    max_elements: int = 2 ** 26, progress: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Logits of the model with sets of first-layer filters zeroed.

    Parameters
    ----------
    model : SeqCNN
    source : BatchSource
    index : numpy.ndarray, shape ``(M,)``
    masks : numpy.ndarray, shape ``(K, F)``
        1 keeps a filter's output channel, 0 zeroes it (on both strands).
    max_elements : int
        Largest masked feature-map tensor (elements) built at once; masks are processed
        in chunks that fit.

    Returns
    -------
    base : numpy.ndarray, shape ``(M,)``
        Logits of the intact model.
    ablated : numpy.ndarray, shape ``(K, M)``
    """
    import torch

    model.eval()
    dev = source.device
    mt = torch.as_tensor(np.asarray(masks, dtype=np.float32), device=dev)
    base, abl = [], []
    bar = _bar(progress, len(index), "filter ablation")
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            per_mask = fwd.numel() * (1 if rev is None else 2) * 2
            chunk = max(1, int(max_elements // max(per_mask, 1)))
            cmax = _channel_maxima(model, fwd, rev)
            # the intact model's logits from the same first-layer pass (model(x) computes the same)
            base.append((model(x) if cmax is None else model.head(cmax).squeeze(-1)).float())
            maxima = None if cmax is None else (cmax,)
            abl.append(torch.cat([_masked_logits(model, fwd, rev, mt[k: k + chunk], maxima=maxima).float()
                                  for k in range(0, len(mt), chunk)]))
            bar.update(len(x))
    bar.close()
    if not base:
        return np.zeros(0), np.zeros((len(masks), 0))
    return torch.cat(base).cpu().numpy(), torch.cat(abl, dim=1).cpu().numpy()


INFLUENCE_METRICS = ("separation", "auroc", "positives")


def ablation_effects(base: np.ndarray, ablated: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per mask: how much the model loses when the masked filters are zeroed.

    Returns
    -------
    dict of numpy.ndarray ``(K,)``:
        ``separation``: mean logit drop on positives minus mean logit drop on negatives
        (how much the filters separate the classes, in logit units);
        ``positives``: mean logit drop on positives;
        ``auroc``: drop of AUROC (NaN when one class is missing).
    """
    from .metrics import auroc

    y = np.asarray(labels).astype(bool)
    drop = base[None, :] - ablated
    pos = drop[:, y].mean(axis=1) if y.any() else np.full(len(drop), np.nan)
    neg = drop[:, ~y].mean(axis=1) if (~y).any() else np.zeros(len(drop))
    if y.any() and (~y).any():
        a0 = auroc(y.astype(int), base)
        auc = np.array([a0 - auroc(y.astype(int), a) for a in ablated])
    else:
        auc = np.full(len(drop), np.nan)
    return {"separation": pos - neg, "positives": pos, "auroc": auc}


# ---------------------------------------------------------------------- similarity, clustering
def _centered(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return m - 1.0 / m.shape[1]


def motif_similarity(a: np.ndarray, b: np.ndarray, alphabet: Alphabet | None = None
                     ) -> tuple[float, int, int]:
    """Best ungapped alignment of two probability matrices on both strands.

    The score is the cosine of the background-centred matrices (``p - 1/A``) over the
    overlap, normalised by the norms of the *whole* matrices, so a partial overlap is
    penalised and a motif and its reverse complement score 1.

    Parameters
    ----------
    a, b : numpy.ndarray, shapes ``(Wa, A)`` and ``(Wb, A)``
    alphabet : Alphabet, optional
        With a complement (DNA) the reverse complement of ``b`` is tried too.

    Returns
    -------
    (score, offset, strand)
        ``b`` (reverse-complemented when ``strand`` is 1) placed with its first position at
        position ``offset`` of ``a`` (may be negative).
    """
    ca, cb = _centered(a), _centered(b)
    norm = math.sqrt((ca ** 2).sum() * (cb ** 2).sum())
    if norm == 0:
        return 0.0, 0, 0
    cands = [(cb, 0)]
    if alphabet is not None and alphabet.complement is not None:
        cands.append((reverse_complement_matrix(cb, alphabet), 1))
    best = (-np.inf, 0, 0)
    wb = cb.shape[0]
    for m, strand in cands:
        # full cross-correlation summed over letters: index k <-> offset k - (wb - 1)
        xc = sum(np.correlate(ca[:, j], m[:, j], mode="full") for j in range(ca.shape[1]))
        k = int(np.argmax(xc))
        if xc[k] > best[0]:
            best = (float(xc[k]), k - (wb - 1), strand)
    return best[0] / norm, best[1], best[2]


def similarity_matrix(probs: Sequence[np.ndarray], alphabet: Alphabet) -> np.ndarray:
    """Pairwise :func:`motif_similarity` scores, ``(K, K)``, 1 on the diagonal."""
    k = len(probs)
    s = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            s[i, j] = s[j, i] = motif_similarity(probs[i], probs[j], alphabet)[0]
    return s


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


def cluster_labels(sim: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Average-linkage clusters of a similarity matrix; members join above ``threshold``.

    Returns
    -------
    numpy.ndarray, int, shape ``(K,)``: cluster ids 0.. in order of first member.
    """
    k = len(sim)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    d = np.clip(1.0 - np.asarray(sim, dtype=np.float64), 0.0, None)
    np.fill_diagonal(d, 0.0)
    d = (d + d.T) / 2
    z = linkage(squareform(d, checks=False), method="average")
    raw = fcluster(z, t=1.0 - threshold, criterion="distance")
    _, first = np.unique(raw, return_index=True)
    order = {lab: i for i, lab in enumerate(raw[np.sort(first)])}
    return np.array([order[r] for r in raw], dtype=np.int64)


@dataclass
class Member:
    """A filter's place in its cluster's merged matrix: columns ``[offset, offset + width)``,
    reverse-complemented when ``strand`` is 1."""

    filter: int
    offset: int
    strand: int


def merge_counts(pwms: Sequence[PWM], rep: int, alphabet: Alphabet
                 ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Aligned sum of counts, every member aligned to member ``rep``.

    Returns
    -------
    counts : numpy.ndarray, shape ``(W, A)``
        Over the union of the aligned spans.
    placement : list of (offset, strand), one per member, in merged coordinates.
    """
    ref = pwms[rep].probs
    aligned = []
    for p in pwms:
        if p is pwms[rep]:
            aligned.append((0, 0, p.counts))
            continue
        _, off, strand = motif_similarity(ref, p.probs, alphabet)
        c = reverse_complement_matrix(p.counts, alphabet) if strand else p.counts
        aligned.append((off, strand, c))
    lo = min(o for o, _, _ in aligned)
    hi = max(o + c.shape[0] for o, _, c in aligned)
    total = np.zeros((hi - lo, pwms[rep].counts.shape[1]))
    for off, _, c in aligned:
        total[off - lo: off - lo + c.shape[0]] += c
    return total, [(off - lo, strand) for off, strand, _ in aligned]


def tomtom_pairs(queries: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 reverse_complement: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TomTom (memelite) of every query ``(W, A)`` against every target ``(W, A)``.

    Overlap-aware: every offset (partial overlaps included) and, with
    ``reverse_complement``, the other strand are scored; the p-value accounts for the overlap.

    Returns
    -------
    p, offset, strand : numpy.ndarray, shape ``(Q, T)``
        memelite's convention: the query's first column sits at column ``offset`` (may be
        negative) of the target, the target reverse-complemented when ``strand`` is 1.
    """
    tomtom = _tomtom()
    qs = [np.ascontiguousarray(np.asarray(q, dtype=np.float64).T) for q in queries]
    ts = [np.ascontiguousarray(np.asarray(t, dtype=np.float64).T) for t in targets]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "few targets": the caller pads the target set
        p, _scores, offsets, _overlaps, strands = tomtom(qs, ts, reverse_complement=reverse_complement)
    p = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0)
    return p, np.asarray(offsets).astype(np.int64), np.asarray(strands).astype(np.int64)


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
    TomTom (:func:`tomtom_pairs`: any offset, partial overlaps, both strands for DNA; the
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


# ---------------------------------------------------------------------- TomTom
def tomtom_best(queries: Sequence[np.ndarray], db: Database, reverse_complement: bool = True
                ) -> dict[str, np.ndarray]:
    """Best TomTom match of each query ``(W, A)`` in ``db``.

    Returns
    -------
    dict of arrays ``(Q,)``: ``target`` (index), ``p``, ``q`` (Benjamini-Hochberg over the
    query's p-values against every target), ``E`` (``p * len(db)``), ``offset``, ``overlap``,
    ``strand`` (as memelite reports them).
    """
    tomtom = _tomtom()
    qs = [np.ascontiguousarray(np.asarray(q, dtype=np.float64).T) for q in queries]
    ts = [np.ascontiguousarray(np.asarray(t, dtype=np.float64).T) for t in db.probs]
    out = {k: np.zeros(len(qs)) for k in ("p", "q", "E", "offset", "overlap", "strand")}
    out["target"] = np.zeros(len(qs), dtype=np.int64)
    if not qs:
        return out
    p, _scores, offsets, overlaps, strands = tomtom(qs, ts, reverse_complement=reverse_complement)
    p = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0)
    best = np.argmin(p, axis=1)
    rows = np.arange(len(qs))
    out["target"] = best
    out["p"] = p[rows, best]
    out["E"] = out["p"] * len(db)
    out["q"] = np.array([bh_min(row) for row in p])
    out["offset"] = np.asarray(offsets)[rows, best]
    out["overlap"] = np.asarray(overlaps)[rows, best]
    out["strand"] = np.asarray(strands)[rows, best]
    return out


def bh_min(p: np.ndarray) -> float:
    """The smallest Benjamini-Hochberg q-value of a set of p-values."""
    p = np.sort(np.asarray(p, dtype=np.float64))
    n = len(p)
    q = p * n / np.arange(1, n + 1)
    return float(min(1.0, np.min(q)))


def shuffle_columns(probs: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """``n`` copies of a matrix with its positions permuted (same columns, same IC)."""
    rng = np.random.default_rng(seed)
    return [np.asarray(probs)[rng.permutation(len(probs))] for _ in range(n)]


@dataclass
class MatchRule:
    """When a TomTom match counts as an annotation.

    A query is annotated with its best target when all hold:

    - its information content is at least ``min_ic`` bits in all and ``min_ic_per_position``
      bits per position on average (low-information matrices, and long sparse ones with a few
      informative letters, "match" long GC-rich targets such as CTCF's by composition);
    - the best match's E-value (``p * number of targets``) is at most ``max_evalue``;
    - with ``n_shuffles`` > 0, a column-shuffled null: the query's columns are permuted
      ``n_shuffles`` times (same columns, same IC, same composition) and each copy gets its
      own best TomTom p-value; the observed ``-log10 p`` must lie at least ``min_z``
      standard deviations above the copies' mean (``null_z``). The empirical
      ``null_p = (1 + #{copies with p <= observed}) / (1 + n_shuffles)`` is reported too.

    Why: TomTom's p-values take the target columns as their background, and on their own
    they annotate most random matrices (E <= 0.05 for about 80% of Dirichlet(1) PWMs
    against JASPAR 2026 vertebrates). Random and shuffled queries are exchangeable with
    their own shuffles, so the z rule bounds their annotation rate; real motifs stand many
    standard deviations above their shuffles. Measured by ``bench/bench_tomtom_calibration.py``.
    """

    min_ic: float = 4.0
    min_ic_per_position: float = 0.5
    max_evalue: float = 0.05
    n_shuffles: int = 30
    min_z: float = 3.0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.n_shuffles < 0 or self.n_shuffles == 1 or self.max_evalue <= 0 or self.min_ic < 0:
            raise InputError("tomtom rule: n_shuffles must be 0 or >= 2, max_evalue > 0, min_ic >= 0")


def annotate(queries: Sequence[np.ndarray], db: Database, rule: MatchRule | None = None,
             reverse_complement: bool = True) -> dict[str, np.ndarray]:
    """TomTom best matches plus the verdict of ``rule``.

    Parameters
    ----------
    queries : list of numpy.ndarray, shapes ``(W, A)`` (probabilities)
    db : Database
    rule : MatchRule

    Returns
    -------
    dict of arrays ``(Q,)``: those of :func:`tomtom_best` plus ``ic``, ``null_z`` and
    ``null_p`` (column-shuffled null; NaN when not computed) and ``significant`` (bool).
    """
    rule = rule or MatchRule()
    queries = [np.asarray(q, dtype=np.float64) for q in queries]
    res = tomtom_best(queries, db, reverse_complement)
    ic = np.array([column_ic(q).sum() for q in queries]) if len(queries) else np.zeros(0)
    res["ic"] = ic
    res["null_p"] = np.full(len(queries), np.nan)
    res["null_z"] = np.full(len(queries), np.nan)
    width = np.array([len(q) for q in queries], dtype=np.float64)
    ok = ((ic >= rule.min_ic) & (ic >= rule.min_ic_per_position * width)
          & (res["E"] <= rule.max_evalue))
    todo = np.flatnonzero(ok)
    if rule.n_shuffles and len(todo):
        shuffled = []
        for i in todo:
            shuffled += shuffle_columns(queries[i], rule.n_shuffles, rule.seed * 100003 + int(i))
        null = tomtom_best(shuffled, db, reverse_complement)["p"].reshape(len(todo), rule.n_shuffles)
        obs = res["p"][todo]
        res["null_p"][todo] = (1 + (null <= obs[:, None]).sum(axis=1)) / (1 + rule.n_shuffles)
        lo = -np.log10(np.maximum(obs, 1e-300))
        ln = -np.log10(np.maximum(null, 1e-300))
        sd = np.maximum(ln.std(axis=1, ddof=1), 1e-6)
        res["null_z"][todo] = (lo - ln.mean(axis=1)) / sd
        ok[todo] &= res["null_z"][todo] >= rule.min_z
    res["significant"] = ok
    return res


def random_pwms(n: int, seed: int, widths: tuple[int, int] = (8, 20), alpha: float = 1.0,
                n_letters: int = 4) -> list[np.ndarray]:
    """Random probability matrices ``(W, A)`` with Dirichlet(``alpha``) columns."""
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.full(n_letters, alpha), size=int(rng.integers(widths[0], widths[1] + 1)))
            for _ in range(n)]


def _bar(enabled: bool, total: int, desc: str):
    if enabled:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="seq", leave=False)

    class _Null:
        def update(self, n):
            pass

        def close(self):
            pass

    return _Null()


# ---------------------------------------------------------------------- conservation, by intervention
def track_background(tracks: np.ndarray, index: np.ndarray, n: int = 500) -> np.ndarray | None:
    """Background value of each track: its median over (up to ``n`` evenly spaced) sequences of
    ``index`` (seqfm passes the negatives), every position.

    The value a position without the positives' conservation has: about 0 for a centred
    phyloP-like score, the genome's typical value for a non-centred one (phastCons, a
    coverage track). None without tracks.
    """
    if tracks.ndim != 3 or tracks.shape[1] == 0 or len(index) == 0:
        return None
    index = np.sort(np.asarray(index))
    if len(index) > n:
        index = index[np.linspace(0, len(index) - 1, n).round().astype(np.int64)]
    sub = np.asarray(tracks[index], dtype=np.float32)
    return np.median(sub.transpose(1, 0, 2).reshape(sub.shape[1], -1), axis=1)


def _sub_source(codes, tracks, index, alphabet, policy, device, background=None):
    """A BatchSource over the rows ``index`` (in that order), tracks at ``background`` when given."""
    from .batching import BatchSource

    c = np.asarray(codes[np.asarray(index)], dtype=np.uint8)
    t = np.asarray(tracks[np.asarray(index)], dtype=np.float16)
    if background is not None:
        t = np.broadcast_to(np.asarray(background, dtype=np.float16)[None, :, None], t.shape).copy()
    return BatchSource(c, t, np.zeros(len(c), dtype=np.float32), device, alphabet, policy, resident=True)


@dataclass
class TrackResponse:
    """What :func:`track_response` measured, per filter (arrays ``(F,)``).

    Attributes
    ----------
    n_sites : sites (windows passing the filter's threshold, either strand) on the sequences.
    n_sites_background : sites with every track at its background value (same sequences).
    n_sites_shuffled : sites on the sequences dinucleotide-shuffled, the tracks kept in place.
    act_sites : mean activation at the sites.
    act_sites_background : mean activation at the same windows with the tracks at background.
    """

    n_sites: np.ndarray
    n_sites_background: np.ndarray
    n_sites_shuffled: np.ndarray
    act_sites: np.ndarray
    act_sites_background: np.ndarray

    @property
    def kept_background(self) -> np.ndarray:
        """Share of the sites left with the tracks at background (NaN without sites)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_sites > 0, self.n_sites_background / np.maximum(self.n_sites, 1), np.nan)

    @property
    def kept_shuffled(self) -> np.ndarray:
        """Sites on shuffled sequence (tracks in place) per site on the real sequence."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_sites > 0, self.n_sites_shuffled / np.maximum(self.n_sites, 1), np.nan)


def track_response(model, codes: np.ndarray, tracks: np.ndarray, index: np.ndarray,
                   threshold: np.ndarray, background: np.ndarray, seed: int = 1,
                   policy: str = "uniform", batch_size: int = 256) -> TrackResponse:
    """Each filter's sites under two interventions on the input.

    1. The tracks set to ``background`` (:func:`track_background`), the sequence kept: how
       many sites and how much activation at them survive without the conservation.
    2. The sequence dinucleotide-shuffled (:func:`seqfm.negatives.shuffle_batch`, seeded),
       the tracks kept in place: a filter that still fires there reads the track, not a
       sequence motif.

    Parameters
    ----------
    model : SeqCNN
    codes : numpy.ndarray, uint8, ``(N, L)``; tracks : numpy.ndarray, ``(N, T, L)``
    index : numpy.ndarray, ``(M,)``
        The sequences (seqfm: up to ``track_max_seqs`` of the train + valid positives).
    threshold : numpy.ndarray, ``(F,)``
        Site thresholds (:attr:`FilterSites.threshold`).
    background : numpy.ndarray, ``(T,)``

    Returns
    -------
    TrackResponse
    """
    import torch

    from .negatives import shuffle_batch

    dev = next(model.parameters()).device
    alpha = model.alphabet
    index = np.asarray(index)
    real = _sub_source(codes, tracks, index, alpha, policy, dev)
    bg = _sub_source(codes, tracks, index, alpha, policy, dev, background)
    shuffled_codes = shuffle_batch(np.asarray(codes[index], dtype=np.uint8), seed, order=2)
    shuf = _sub_source(shuffled_codes, tracks[index], np.arange(len(index)), alpha, policy, dev)
    thr = torch.as_tensor(np.asarray(threshold, dtype=np.float32), device=dev)[None, :, None]
    n_f = model.conv1.out_channels
    acc = {k: torch.zeros(n_f, dtype=torch.float64, device=dev) for k in ("n", "n_bg", "n_sh", "a", "a_bg")}
    rows = np.arange(len(index))
    model.eval()
    with torch.inference_mode():
        for (x, _), (xb, _), (xs, _) in zip(real.iterate(rows, batch_size), bg.iterate(rows, batch_size),
                                            shuf.iterate(rows, batch_size)):
            maps = [model.first_layer(v) for v in (x, xb, xs)]
            for s in range(2):
                a, ab, ash = (m[s] for m in maps)
                if a is None:
                    continue
                site = a > thr
                acc["n"] += site.sum(dim=(0, 2), dtype=torch.float64)
                acc["a"] += (a * site).sum(dim=(0, 2), dtype=torch.float64)
                acc["a_bg"] += (ab * site).sum(dim=(0, 2), dtype=torch.float64)
                acc["n_bg"] += (ab > thr).sum(dim=(0, 2), dtype=torch.float64)
                acc["n_sh"] += (ash > thr).sum(dim=(0, 2), dtype=torch.float64)
    r = {k: v.cpu().numpy() for k, v in acc.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        act = np.where(r["n"] > 0, r["a"] / np.maximum(r["n"], 1), np.nan)
        act_bg = np.where(r["n"] > 0, r["a_bg"] / np.maximum(r["n"], 1), np.nan)
    return TrackResponse(r["n"], r["n_bg"], r["n_sh"], act, act_bg)


def track_only_filters(response: TrackResponse, pwms: Sequence[PWM | None], n_sites: np.ndarray,
                       min_sites: int, ratio: float = 0.5, min_ic: float = 2.0) -> np.ndarray:
    """Filters that respond to the tracks without a sequence motif, ``(F,)`` bool.

    A filter with at least ``min_sites`` sites is track-only when either

    - on dinucleotide-shuffled sequence with the tracks in place it still has at least
      ``ratio`` times its sites on the real sequence (it fires on conservation alone), or
    - its PWM is flat (no position with ``trim_bits``, or under ``min_ic`` bits in all) and at
      most ``1 - ratio`` of its sites survive the tracks set to background (its activation
      follows the track).
    """
    n_sites = np.asarray(n_sites)
    flat = np.array([p is None or p.ic < min_ic for p in pwms])
    kept_sh = np.nan_to_num(response.kept_shuffled, nan=0.0)
    kept_bg = np.nan_to_num(response.kept_background, nan=1.0)
    return (n_sites >= min_sites) & ((kept_sh >= ratio) | (flat & (kept_bg <= 1.0 - ratio)))


# ---------------------------------------------------------------------- enrichment
def cluster_calls(seq_max: np.ndarray, threshold: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Whether each sequence has a call of each cluster, ``(M, K)`` bool.

    A sequence has a call of a cluster when any member filter has a site in it: its largest
    activation (either strand) passes the filter's site threshold (Basset's rule, the
    threshold that made the PWM's sites; ``seq_max`` ``(M, F)``, ``threshold`` ``(F,)``).
    """
    hit = np.asarray(seq_max) > np.asarray(threshold)[None, :]
    out = np.zeros((hit.shape[0], len(groups)), dtype=bool)
    for k, g in enumerate(groups):
        if len(g):
            out[:, k] = hit[:, list(g)].any(axis=1)
    return out


def enrichment(calls: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per cluster, calls in positive against negative sequences (HOMER / MEME-ChIP style).

    Parameters
    ----------
    calls : numpy.ndarray, bool, shape ``(M, K)``
    labels : numpy.ndarray, shape ``(M,)``, 1 for a positive

    Returns
    -------
    dict of arrays ``(K,)``: ``pos_frac`` and ``neg_frac`` (share of positive / negative
    sequences with a call), ``odds_ratio`` (Haldane-Anscombe: 0.5 added to each cell of the
    2x2 table, finite when a cell is 0) and ``fisher_p`` (one-sided Fisher exact test,
    positives enriched: ``scipy.stats.fisher_exact(alternative="greater")``); NaN where a
    class is missing.
    """
    from scipy.stats import fisher_exact

    calls = np.asarray(calls, dtype=bool)
    y = np.asarray(labels).astype(bool)
    k = calls.shape[1]
    out = {key: np.full(k, np.nan) for key in ("pos_frac", "neg_frac", "odds_ratio", "fisher_p")}
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return out
    a = calls[y].sum(axis=0)
    c = calls[~y].sum(axis=0)
    b, d = n_pos - a, n_neg - c
    out["pos_frac"] = a / n_pos
    out["neg_frac"] = c / n_neg
    out["odds_ratio"] = (a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))
    out["fisher_p"] = np.array([fisher_exact([[int(a[i]), int(b[i])], [int(c[i]), int(d[i])]],
                                             alternative="greater")[1] for i in range(k)])
    return out


def heldout_pass(model, source, index: np.ndarray, masks: np.ndarray, background_source=None,
              batch_size: int = 256, max_elements: int = 2 ** 26
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One pass over (test) sequences: logits, per-sequence filter maxima and an intervention.

    Returns
    -------
    base : numpy.ndarray, ``(M,)``
        The intact model's logits.
    mixed : numpy.ndarray, ``(K, M)`` or None
        Logits when the filters masked out (0 in row k of ``masks`` ``(K, F)``) read the
        sequence with the tracks at background (``background_source``: the same rows, in
        the same order, tracks replaced) while every other filter reads the real input.
        None without ``background_source``.
    seq_max : numpy.ndarray, float32, ``(M, F)``
        Each sequence's largest activation of each filter (either strand).
    """
    import torch

    model.eval()
    dev = source.device
    mt = torch.as_tensor(np.asarray(masks, dtype=np.float32), device=dev)
    base, mixed, smax = [], [], []
    rows = np.arange(len(index))
    bg_iter = background_source.iterate(rows, batch_size) if background_source is not None else None
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            cmax = _channel_maxima(model, fwd, rev)
            base.append((model(x) if cmax is None else model.head(cmax).squeeze(-1)).float())
            acts = fwd if rev is None else torch.maximum(fwd, rev)
            smax.append((acts.amax(dim=2) if cmax is None else cmax).float().cpu())
            if bg_iter is not None:
                xb, _ = next(bg_iter)
                alt = model.first_layer(xb)
                maxima = None if cmax is None else (cmax, _channel_maxima(model, *alt))
                per_mask = fwd.numel() * (1 if rev is None else 2) * 3
                chunk = max(1, int(max_elements // max(per_mask, 1)))
                mixed.append(torch.cat([_masked_logits(model, fwd, rev, mt[k: k + chunk], alt, maxima).float()
                                        for k in range(0, len(mt), chunk)], dim=0))
    if not base:
        return np.zeros(0), None, np.zeros((0, model.conv1.out_channels), dtype=np.float32)
    return (torch.cat(base).cpu().numpy(), torch.cat(mixed, dim=1).cpu().numpy() if mixed else None,
            torch.cat(smax).numpy())


# ---------------------------------------------------------------------- the whole verb
@dataclass
class MotifConfig:
    """Options of ``seqfm motifs`` (the ``motifs:`` section of ``config.yaml``).

    Attributes
    ----------
    frac : float
        Basset's activation threshold fraction (``mean + frac * (max - mean)``).
    min_sites : int
        Fewer sites and a filter gets no PWM.
    trim_bits : float
        Flank positions with less information (bits) are trimmed.
    pseudocount : float
        Per letter, added to the counts.
    cluster_max_p : float
        Two clusters merge when TomTom between their merged matrices (any offset, partial
        overlap, both strands) gives at most this p-value both ways (:func:`cluster_filters`).
    cluster_similarity : float
        Kept so that older configurations still run; no longer used (the clusters are cut
        on ``cluster_max_p``: the whole-matrix similarity it thresholded kept filters covering
        overlapping halves of one motif, or another offset, apart).
    coactivation : bool
        Clusters merge only when the mean correlation of their filters' per-sequence maximum
        activations (:func:`coactivation`) is at least ``min_coactivation``.
    min_coactivation : float
    track_only_ratio : float
        :func:`track_only_filters`: a filter keeping this share of its sites on shuffled
        sequence with the tracks in place is ``track-only``.
    track_max_seqs : int
        At most this many train + valid positives (evenly spaced) for :func:`track_response`.
    influence : str
        ``separation`` (mean logit drop on validation positives minus that on negatives),
        ``auroc`` (drop of validation AUROC) or ``positives`` (mean logit drop on
        positives) when the filter -- for a cluster, all its filters together -- is zeroed.
    jaspar_release, jaspar_collection, jaspar_tax_group : str
        The TomTom targets (pyjaspar, offline); ``jaspar_tax_group`` ``all`` for every taxon;
        ``jaspar_release`` ``none`` leaves the match columns empty (no TomTom).
    rule : MatchRule
    batch_size : int
    device : str
    threads : int
    logos : bool
        Draw the cluster logos (``logos/motif_K``, ``logos/track_K``), PNG + SVG.
    filter_logos : bool
        Also draw a logo of every filter with a PWM (``logos/filters/filter_N``); off by
        default: the report shows the cluster logos, and the filters' PWMs are in
        ``filters.meme``.
    """

    frac: float = 0.7
    min_sites: int = 10
    trim_bits: float = 0.3
    pseudocount: float = 0.5
    cluster_similarity: float = 0.7
    coactivation: bool = True
    cluster_max_p: float = 3e-4
    min_coactivation: float = 0.2
    track_only_ratio: float = 0.5
    track_max_seqs: int = 1000
    influence: str = "separation"
    jaspar_release: str = JASPAR_RELEASE
    jaspar_collection: str = "CORE"
    jaspar_tax_group: str = "vertebrates"
    motif_db: str = ""  # a MEME file annotating instead of JASPAR (any alphabet, e.g. protein motifs)
    rule: MatchRule = field(default_factory=MatchRule)
    batch_size: int = 256
    device: str = "auto"
    threads: int = 0
    logos: bool = True
    filter_logos: bool = False

    def __post_init__(self) -> None:
        if self.influence not in INFLUENCE_METRICS:
            raise InputError(f"influence must be one of {', '.join(INFLUENCE_METRICS)}, got {self.influence!r}")
        if self.min_sites < 1 or self.batch_size < 1:
            raise InputError("min_sites and batch_size must be >= 1")
        if not 0.0 < self.cluster_similarity <= 1.0:
            raise InputError(f"cluster_similarity must be in (0, 1], got {self.cluster_similarity}")
        if not 0.0 < self.cluster_max_p <= 1.0 or not 0.0 < self.track_only_ratio <= 1.0:
            raise InputError("cluster_max_p and track_only_ratio must be in (0, 1]")
        if self.pseudocount < 0 or self.trim_bits < 0:
            raise InputError("pseudocount and trim_bits must be >= 0")


FILTER_COLUMNS = ["filter", "cluster", "influence", "n_sites", "ic", "consensus", "match_id",
                  "match_name", "match_p", "match_q", "match_E", "match_offset", "match_strand",
                  "match_null_p", "match_null_z", "nearest_id", "nearest_name", "match_family",
                  "auroc_drop", "logit_drop_pos", "kind", "track_sites_kept", "track_act_kept",
                  "shuffled_sites_kept", "trim_start", "trim_end", "threshold", "act_max",
                  "logo"]
MOTIF_COLUMNS = ["rank", "cluster", "influence", "n_sites", "ic", "match_id", "match_name",
                 "match_p", "match_q", "filters", "kind", "match_E", "match_offset", "match_strand",
                 "consensus", "logo", "pos_frac", "neg_frac", "odds_ratio", "fisher_p",
                 "track_sites_kept", "track_act_kept", "track_logit_change", "shuffled_sites_kept",
                 "match_null_p", "match_null_z", "nearest_id",
                 "nearest_name", "match_family", "auroc_drop", "logit_drop_pos", "width"]


def _index_split(meta, labels, splits: Sequence[str]) -> np.ndarray:
    sp = meta["split"].to_numpy()
    return np.flatnonzero(np.isin(sp, list(splits)))


def run(model_pt: str | os.PathLike, model_json: str | os.PathLike, dataset_dir: str | os.PathLike,
        out: str | os.PathLike, config: MotifConfig | None = None, progress: bool = False) -> dict:
    """``seqfm motifs``: filters -> PWMs, influence, clusters, JASPAR matches, logos, files.

    Writes under ``out`` (each file atomically):

    ``filters.meme``
        The PWM of every filter with at least ``min_sites`` sites (``filter_N``), trimmed,
        MEME motif format 4 (``strands: + -`` for DNA; uniform background).
    ``interpret/motifs.meme``
        The merged PWM of every cluster (``motif_K``; alternate name: its filters).
    ``motifs.tsv``
        One row per cluster, best (largest influence) first: ``rank cluster influence
        n_sites ic match_id match_name match_p match_q filters``, then ``kind match_E
        match_offset match_strand consensus logo pos_frac neg_frac odds_ratio fisher_p
        track_sites_kept track_act_kept track_logit_change shuffled_sites_kept match_null_p
        match_null_z nearest_id nearest_name match_family auroc_drop logit_drop_pos width``.
        ``kind`` is ``motif`` (a cluster of sequence-motif filters, :func:`cluster_filters`,
        named ``motif_K``) or ``track-only`` (one filter that responds to the tracks without a
        sequence motif, :func:`track_only_filters`, named ``track_K``; K is the rank).
        ``influence`` is measured by zeroing all the cluster's filters together (not the max or
        sum of its members': redundant filters stand in for each other when one is zeroed);
        ``n_sites`` is the sum over its filters. Enrichment (:func:`enrichment`) is counted on
        the test split: a sequence has a call when any member filter passes its Basset site
        threshold in it (:func:`cluster_calls`; not a significance-based call).
        Conservation's share, by intervention (tracks at :func:`track_background`, the
        negatives' median): ``track_sites_kept`` (share of the cluster's sites, train + valid
        positives, left), ``track_act_kept`` (mean activation at its sites, relative),
        ``track_logit_change`` (mean logit change on test positives when only the cluster's
        filters see the background tracks), ``shuffled_sites_kept`` (sites on
        dinucleotide-shuffled sequence with the tracks in place, per real site); empty without
        tracks. ``match_id``/``match_name``/``match_family`` are filled only when
        the match passes ``config.rule``; ``match_p``/``q``/``E``/``offset``/``strand`` and
        ``nearest_*`` always describe the best TomTom target (``match_offset``: memelite's, the
        query's first column sits at that column of the target oriented by ``match_strand``).
    ``interpret/filters.tsv``
        One row per filter (``filter cluster influence n_sites ic consensus match_*
        nearest_* auroc_drop logit_drop_pos kind track_sites_kept track_act_kept
        shuffled_sites_kept trim_start trim_end threshold act_max logo``), most influential
        first; filters without a PWM that are not track-only have an empty ``cluster``.
    ``logos/``
        ``motif_K.png/.svg`` (the cluster beside its best JASPAR match and the conservation
        weights of its most influential filter; ``track_K`` for a track-only row) and, with
        ``config.filter_logos``, ``filters/filter_N.png/.svg``.

    Returns
    -------
    dict: a summary (counts, the top clusters).
    """
    cfg = config or MotifConfig()
    # the logo workers start now: their imports overlap the work before the logos
    with LogoPool(cfg.threads if cfg.logos else 1) as logo_pool:
        return _run(model_pt, model_json, dataset_dir, out, cfg, progress, logo_pool)


def _run(model_pt, model_json, dataset_dir, out, cfg: MotifConfig, progress: bool,
         logo_pool: LogoPool) -> dict:
    """``seqfm motifs`` step by step; see :func:`run`."""
    t0 = time.time()
    _check_jaspar_release(cfg)
    out = Path(out)
    inp = _load_inputs(model_pt, model_json, dataset_dir, cfg)
    fp = _filter_sites_and_pwms(inp, cfg, progress)
    infl = _filter_influence(inp, fp.n_filters, cfg, progress)
    tracks = _track_intervention(inp, fp, cfg)
    groups = _cluster_motif_filters(inp, fp, tracks, infl, cfg)
    held = _heldout_effects(inp, fp, tracks, infl, groups, cfg)
    clusters, logo_bounds = _cluster_records(inp, fp, infl, tracks, groups, held, cfg)
    log.info("%d motif clusters (TomTom p <= %.2g between merged matrices) and %d track-only filters",
             len(groups.found), cfg.cluster_max_p, len(tracks.track_only_filters))
    matches = _annotate_motifs(clusters, fp, inp.alpha, cfg)
    mot_rows = _motif_rows(clusters, matches)
    filt_rows = _filter_rows(fp, infl, tracks, clusters, matches, cfg.logos and cfg.filter_logos)
    _write_outputs(out, inp, fp, infl, clusters, logo_bounds, matches, mot_rows, filt_rows, cfg,
                   logo_pool)
    summary = {"n_filters": fp.n_filters, "n_pwms": len(fp.have), "n_clusters": len(groups.found),
               "n_track_only": len(tracks.track_only_filters), "pwm_sequences": fp.which,
               "influence_split_size": int(len(infl.rows)), "seconds": round(time.time() - t0, 1),
               "top": [(r["cluster"], r["match_id"], r["match_name"], r["influence"]) for r in mot_rows[:8]]}
    log.info("wrote %s/motifs.tsv, filters.meme, logos/, interpret/ in %.1f s", out, summary["seconds"])
    return summary


def _check_jaspar_release(cfg: MotifConfig) -> None:
    """Refuse, before any work, a JASPAR release pyjaspar does not ship (``none``: no annotation)."""
    if str(cfg.jaspar_release).lower() != "none" and cfg.jaspar_release not in releases():
        raise InputError(f"JASPAR release {cfg.jaspar_release!r} is not shipped with pyjaspar; use one "
                         f"of {', '.join(releases())} or 'none'")


@dataclass
class _Inputs:
    """What ``seqfm motifs`` reads: the model, its dataset and the batches made from it.

    Attributes
    ----------
    model : SeqCNN (eval mode, on ``device``)
    info : dict, the parsed ``model.json``
    data : seqfm.dataset.Dataset
    labels : numpy.ndarray, int64, ``(N,)``
    policy : str, the ambiguity policy of the one-hot input
    source : seqfm.batching.BatchSource over every row of ``data``
    device : torch.device
    """

    model: SeqCNN
    info: dict
    data: Dataset
    labels: np.ndarray
    policy: str
    source: Any
    device: Any

    @property
    def alpha(self) -> Alphabet:
        return self.model.alphabet

    def split(self, *splits: str) -> np.ndarray:
        """Rows of the given splits, in dataset order."""
        return _index_split(self.data.meta, self.labels, splits)


def _load_inputs(model_pt, model_json, dataset_dir, cfg: MotifConfig) -> _Inputs:
    """Step 1: the dataset, the model on its device checked against it, and the batch source."""
    # torch and pandas load on use: the logo workers import this module and need neither
    from . import dataset as ds_mod
    from . import model as model_mod
    from .batching import BatchSource
    from .device import pick_device, set_threads

    set_threads(cfg.threads)
    device = pick_device(cfg.device)
    dset_path = Path(dataset_dir)
    data = ds_mod.read(dset_path)
    model, info = model_mod.load(model_pt, model_json, device, dataset=data, dataset_dir=dset_path)
    labels = np.asarray(data.labels).astype(np.int64)
    policy = info.get("policy", data.info.get("policy", "uniform"))
    source = BatchSource(data.codes, data.tracks, labels, device, model.alphabet, policy)
    log.info("model %s: %d filters of width %d on %s; dataset %s: %d sequences",
             model_pt, model.conv1.out_channels, model.filter_width, device, dset_path, len(labels))
    return _Inputs(model, info, data, labels, policy, source, device)


@dataclass
class _FilterPWMs:
    """Step 2's result: each filter's sites and PWM.

    Attributes
    ----------
    fit : numpy.ndarray, int, ``(M,)``
        The rows the sites were counted on.
    which : str
        What they are (``train+valid positives``, else ``all positives``).
    sites : FilterSites
    pwms : list of PWM or None, length F
    bounds : numpy.ndarray, int, ``(F, 2)``
        The trimmed ``[start, end)`` of each filter's window (:func:`filter_pwms`).
    """

    fit: np.ndarray
    which: str
    sites: FilterSites
    pwms: list
    bounds: np.ndarray

    @property
    def n_filters(self) -> int:
        return len(self.pwms)

    @property
    def have(self) -> list[int]:
        """The filters with a PWM."""
        return [f for f in range(self.n_filters) if self.pwms[f] is not None]


def _filter_sites_and_pwms(inp: _Inputs, cfg: MotifConfig, progress: bool) -> _FilterPWMs:
    """Step 2: Basset's sites of every filter over the train + valid positives (all positives
    when those splits hold none), and the PWMs of the filters with ``min_sites`` sites."""
    pos = np.flatnonzero(inp.labels == 1)
    fit = np.intersect1d(pos, inp.split("train", "valid"))
    which = "train+valid positives"
    if len(fit) == 0:
        fit, which = pos, "all positives"
    sites = filter_counts(inp.model, inp.source, fit, cfg.frac, cfg.batch_size, progress)
    pwms, bounds = filter_pwms(sites, inp.alpha.name, cfg.min_sites, cfg.trim_bits, cfg.pseudocount)
    fp = _FilterPWMs(fit, which, sites, pwms, bounds)
    log.info("filter PWMs from %d %s: %d of %d filters have >= %d sites", len(fit), which,
             len(fp.have), fp.n_filters, cfg.min_sites)
    return fp


@dataclass
class _Influence:
    """Step 3's result: the intact logits and each filter's ablation effects.

    Attributes
    ----------
    rows : numpy.ndarray, int, ``(M,)``  the influence split
    base : numpy.ndarray, ``(M,)``  the intact model's logits on it
    effects : dict of numpy.ndarray ``(F,)``  :func:`ablation_effects` of each filter zeroed
    metric : str  the effect that is the influence (``MotifConfig.influence``)
    """

    rows: np.ndarray
    base: np.ndarray
    effects: dict
    metric: str

    @property
    def of_filter(self) -> np.ndarray:
        """Each filter's influence ``(F,)``."""
        return self.effects[self.metric]


def _influence_rows(inp: _Inputs) -> np.ndarray:
    """The validation split, else the test split, else every row: the first holding both classes."""
    ev = inp.split("valid")
    if len(np.unique(inp.labels[ev])) < 2:
        ev = inp.split("test")
    if len(np.unique(inp.labels[ev])) < 2:
        ev = np.arange(len(inp.labels))
    return ev


def _filter_influence(inp: _Inputs, n_f: int, cfg: MotifConfig, progress: bool) -> _Influence:
    """Step 3: influence by ablation, each filter zeroed alone (:func:`ablation_logits`)."""
    ev = _influence_rows(inp)
    base, abl = ablation_logits(inp.model, inp.source, ev, 1.0 - np.eye(n_f), cfg.batch_size,
                                progress=progress)
    return _Influence(ev, base, ablation_effects(base, abl, inp.labels[ev]), cfg.influence)


@dataclass
class _TrackEffect:
    """Step 4's result: conservation's share, by intervention (all None / False without tracks).

    Attributes
    ----------
    background : numpy.ndarray ``(T,)`` or None  :func:`track_background` of the negatives
    response : TrackResponse or None
    track_only : numpy.ndarray, bool, ``(F,)``  :func:`track_only_filters`
    """

    background: np.ndarray | None
    response: TrackResponse | None
    track_only: np.ndarray

    @property
    def track_only_filters(self) -> list[int]:
        return [int(f) for f in np.flatnonzero(self.track_only)]


def _track_intervention(inp: _Inputs, fp: _FilterPWMs, cfg: MotifConfig) -> _TrackEffect:
    """Step 4: the filters' sites with the tracks at background and on shuffled sequence
    (:func:`track_response`, on up to ``track_max_seqs`` of the PWM rows); the filters that
    respond to the tracks without a sequence motif are track-only."""
    data, labels, n_f = inp.data, inp.labels, fp.n_filters
    n_tracks = data.tracks.shape[1] if data.tracks.ndim == 3 else 0
    neg = np.flatnonzero(labels == 0)
    background = track_background(data.tracks, neg if len(neg) else np.arange(len(labels))) if n_tracks else None
    if background is None:
        return _TrackEffect(None, None, np.zeros(n_f, dtype=bool))
    sub = fp.fit
    if len(sub) > cfg.track_max_seqs:
        sub = fp.fit[np.linspace(0, len(fp.fit) - 1, cfg.track_max_seqs).round().astype(np.int64)]
    response = track_response(inp.model, data.codes, data.tracks, sub, fp.sites.threshold, background,
                              cfg.rule.seed, inp.policy, cfg.batch_size)
    track_only = track_only_filters(response, fp.pwms, fp.sites.n_sites, cfg.min_sites, cfg.track_only_ratio)
    log.info("tracks at background (%s): %d of %d filters keep half their sites or less; %d filters "
             "are track-only (fire on shuffled sequence with the tracks in place, or a flat PWM "
             "following the track)", ", ".join(f"{b:.3g}" for b in background),
             int((response.kept_background <= 0.5).sum()), n_f, int(track_only.sum()))
    return _TrackEffect(background, response, track_only)


@dataclass
class _Groups:
    """Step 5's result: the clusters, then one group per track-only filter.

    Attributes
    ----------
    found : list of Cluster  the motif clusters (:func:`cluster_filters`)
    members : list of list of int  each group's filters (clusters first)
    kinds : list of str  ``motif`` or ``track-only``, per group
    masks : numpy.ndarray ``(K, F)``  0 on each group's filters
    effects : dict of numpy.ndarray ``(K,)``  :func:`ablation_effects` of each group zeroed
    order : numpy.ndarray ``(K,)``  the groups by decreasing influence
    """

    found: list
    members: list
    kinds: list
    masks: np.ndarray
    effects: dict
    order: np.ndarray


def _cluster_motif_filters(inp: _Inputs, fp: _FilterPWMs, tracks: _TrackEffect, infl: _Influence,
                           cfg: MotifConfig) -> _Groups:
    """Step 5: cluster the motif filters (TomTom between merged matrices, and co-activation),
    then measure each group's influence with all its filters zeroed together."""
    n_f = fp.n_filters
    motif_f = [f for f in fp.have if not tracks.track_only[f]]
    coact = None
    if fp.sites.seq_max is not None and cfg.coactivation:
        coact = coactivation(fp.sites.seq_max)[np.ix_(motif_f, motif_f)]
    found = cluster_filters([fp.pwms[f] for f in motif_f], inp.alpha, cfg.cluster_max_p, coact,
                            cfg.min_coactivation, cfg.trim_bits)
    track_f = tracks.track_only_filters
    members = [[motif_f[i] for i in cl.members] for cl in found] + [[f] for f in track_f]
    kinds = ["motif"] * len(found) + ["track-only"] * len(track_f)
    masks = np.ones((len(members), n_f))
    for c, g in enumerate(members):
        masks[c, g] = 0.0
    if members:
        _, abl = ablation_logits(inp.model, inp.source, infl.rows, masks, cfg.batch_size)
        effects = ablation_effects(infl.base, abl, inp.labels[infl.rows])
    else:
        effects = {k: np.zeros(0) for k in INFLUENCE_METRICS}
    order = np.argsort(-np.nan_to_num(effects[cfg.influence], nan=-np.inf), kind="stable")
    return _Groups(found, members, kinds, masks, effects, order)


def _heldout_effects(inp: _Inputs, fp: _FilterPWMs, tracks: _TrackEffect, infl: _Influence,
                     groups: _Groups, cfg: MotifConfig) -> tuple[dict, np.ndarray]:
    """Step 6, on the held-out (test) sequences: each group's enrichment of calls
    (:func:`enrichment`), and the mean logit change on positives when only its filters read
    the tracks at background (the last entry: every filter).

    Returns
    -------
    (enrichment, logit_change ``(K + 1,)``, NaN without tracks)
    """
    labels, n_f = inp.labels, fp.n_filters
    held = inp.split("test")
    held_name = "test"
    if len(np.unique(labels[held])) < 2:
        held, held_name = infl.rows, "influence split"
    bsrc = (_sub_source(inp.data.codes, inp.data.tracks, held, inp.alpha, inp.policy, inp.device,
                        tracks.background)
            if tracks.background is not None else None)
    gmasks = np.vstack([groups.masks, np.zeros((1, n_f))])  # last row: every filter at background
    hbase, hmixed, hmax = heldout_pass(inp.model, inp.source, held, gmasks, bsrc, cfg.batch_size)
    enr = enrichment(cluster_calls(hmax, fp.sites.threshold, groups.members), labels[held])
    hpos = labels[held] == 1
    logit_change = np.full(len(gmasks), np.nan)
    if hmixed is not None and hpos.any():
        logit_change = (hmixed - hbase[None])[:, hpos].mean(axis=1)
        log.info("tracks at background for every filter: mean logit change %.3g on %d %s positives",
                 logit_change[-1], int(hpos.sum()), held_name)
    return enr, logit_change


def _track_kept(response: TrackResponse | None):
    """``kept(filters, num, den)``: a share of ``response``'s per-filter sums over a group's
    filters (``n``, ``n_bg``, ``n_sh``: sites; ``act``, ``act_bg``: summed activation at them),
    NaN without tracks or sites."""
    per_filter = {}
    if response is not None:
        per_filter = {"n": response.n_sites, "n_bg": response.n_sites_background,
                      "n_sh": response.n_sites_shuffled,
                      "act": np.nan_to_num(response.act_sites * response.n_sites),
                      "act_bg": np.nan_to_num(response.act_sites_background * response.n_sites)}

    def kept(g: list[int], num: str, den: str) -> float:
        if not per_filter:
            return float("nan")
        d = float(per_filter[den][g].sum())
        return float(per_filter[num][g].sum()) / d if d > 0 else float("nan")

    return kept


def _cluster_records(inp: _Inputs, fp: _FilterPWMs, infl: _Influence, tracks: _TrackEffect,
                     groups: _Groups, held: tuple[dict, np.ndarray], cfg: MotifConfig
                     ) -> tuple[list[dict], np.ndarray]:
    """Step 7: one record per group, most influential first (``motif_K`` / ``track_K``, K the
    rank): its merged, trimmed PWM and every number of its ``motifs.tsv`` row.

    Returns
    -------
    (records, logo_bounds): ``logo_bounds`` ``(F, 2)`` is :attr:`_FilterPWMs.bounds` with a
    track-only filter without a PWM spanning its whole window (its logo's track weights).
    """
    enr, logit_change = held
    sites, alpha = fp.sites, inp.alpha
    kept = _track_kept(tracks.response)
    logo_bounds = fp.bounds.copy()
    records = []
    for rank, c in enumerate(groups.order, start=1):
        g = groups.members[c]
        rep_i = int(np.argmax([infl.of_filter[f] for f in g]))
        if groups.kinds[c] == "motif":
            counts, place = groups.found[c].counts, groups.found[c].place
        else:
            f = g[0]
            if fp.pwms[f] is None:
                logo_bounds[f] = 0, sites.counts.shape[1]
                counts = sites.counts[f]
            else:
                counts = fp.pwms[f].counts
            place = [(0, 0)]
        lo, hi = trim_bounds(counts_to_probs(counts, cfg.pseudocount), cfg.trim_bits)
        if hi <= lo:
            lo, hi = 0, len(counts)
        name = f"motif_{rank}" if groups.kinds[c] == "motif" else f"track_{rank}"
        pwm = PWM(name, counts[lo:hi], int(sum(sites.n_sites[f] for f in g)), alpha.name,
                  cfg.pseudocount, altname="+".join(f"filter_{f}" for f in g))
        ceff = groups.effects
        records.append({"name": name, "rank": rank, "c": c, "filters": g, "rep": g[rep_i], "pwm": pwm,
                        "kind": groups.kinds[c], "rep_place": (place[rep_i][0] - lo, place[rep_i][1]),
                        "influence": float(ceff[cfg.influence][c]),
                        "auroc_drop": float(ceff["auroc"][c]),
                        "logit_drop_pos": float(ceff["positives"][c]),
                        "enrichment": {k: float(v[c]) for k, v in enr.items()},
                        "track_sites_kept": kept(g, "n_bg", "n"),
                        "track_act_kept": kept(g, "act_bg", "act"),
                        "shuffled_sites_kept": kept(g, "n_sh", "n"),
                        "track_logit_change": float(logit_change[c])})
    return records, logo_bounds


#: the TomTom columns of motifs.tsv and filters.tsv (:meth:`_Matches.columns`)
MATCH_COLUMNS = ("match_id", "match_name", "match_p", "match_q", "match_E", "match_offset",
                 "match_strand", "match_null_p", "match_null_z", "nearest_id", "nearest_name",
                 "match_family")


@dataclass
class _Matches:
    """Step 8's result: TomTom's answer for the queries, the clusters first, then the filters
    with a PWM (``db`` and ``ann`` None without annotation)."""

    db: Database | None = None
    ann: dict | None = None

    def columns(self, i: int) -> dict:
        """The :data:`MATCH_COLUMNS` of query ``i`` (empty strings without annotation)."""
        ann, db = self.ann, self.db
        if ann is None:
            return dict.fromkeys(MATCH_COLUMNS, "")
        t = int(ann["target"][i])
        sig = bool(ann["significant"][i])
        return {"match_id": db.ids[t] if sig else "", "match_name": db.names[t] if sig else "",
                "match_p": _g(ann["p"][i]), "match_q": _g(ann["q"][i]), "match_E": _g(ann["E"][i]),
                "match_offset": int(ann["offset"][i]), "match_strand": "-" if ann["strand"][i] else "+",
                "match_null_p": _g(ann["null_p"][i]),
                "match_null_z": _g(ann["null_z"][i]), "nearest_id": db.ids[t],
                "nearest_name": db.names[t], "match_family": _family(db, t) if sig else ""}

    def logo_match(self, i: int) -> dict:
        """Keywords of :func:`seqfm.logos.save_logo` drawing query ``i``'s best target beside it."""
        ann, db = self.ann, self.db
        if ann is None:
            return {}
        t = int(ann["target"][i])
        return dict(match_probs=db.probs[t], match_offset=int(ann["offset"][i]),
                    match_strand=int(ann["strand"][i]),
                    match_title=f"{db.ids[t]} {db.names[t]}  p={ann['p'][i]:.2g} "
                                f"E={ann['E'][i]:.2g}" + ("" if ann["significant"][i] else " (n.s.)"))


def _annotate_motifs(clusters: list[dict], fp: _FilterPWMs, alpha: Alphabet, cfg: MotifConfig) -> _Matches:
    """Step 8: the clusters' and the filters' PWMs against the motif database in one TomTom
    call: ``motif_db`` when given, else JASPAR for DNA (none with release ``none``)."""
    queries = [cl["pwm"].probs for cl in clusters] + [fp.pwms[f].probs for f in fp.have]
    if cfg.motif_db and queries:
        db = load_meme_database(cfg.motif_db, alpha)
        ann = annotate(queries, db, cfg.rule, reverse_complement=alpha.complement is not None)
        log.info("TomTom against %s (%d matrices): %d of %d queries annotated", db.label, len(db),
                 int(ann["significant"].sum()), len(queries))
        return _Matches(db, ann)
    if str(cfg.jaspar_release).lower() == "none":
        log.info("JASPAR annotation turned off (jaspar release 'none')")
    elif alpha.name == "dna" and queries:
        db = load_jaspar(cfg.jaspar_release, cfg.jaspar_collection, cfg.jaspar_tax_group)
        t1 = time.time()
        ann = annotate(queries, db, cfg.rule)
        log.info("TomTom against %s (%d matrices): %d of %d queries annotated (%.1f s)", db.label,
                 len(db), int(ann["significant"].sum()), len(queries), time.time() - t1)
        return _Matches(db, ann)
    elif queries:
        log.info("no motif database for the %s alphabet: no annotation", alpha.name)
    return _Matches()


def _motif_rows(clusters: list[dict], matches: _Matches) -> list[dict]:
    """Step 9a: the ``motifs.tsv`` rows (:data:`MOTIF_COLUMNS`), one per cluster record."""
    rows = []
    for k, cl in enumerate(clusters):
        enr = cl["enrichment"]
        row = {"rank": cl["rank"], "cluster": cl["name"], "influence": _g(cl["influence"]),
               "n_sites": cl["pwm"].n_sites, "ic": round(cl["pwm"].ic, 3),
               "filters": ",".join(f"filter_{f}" for f in cl["filters"]), "kind": cl["kind"],
               "consensus": cl["pwm"].consensus(), "logo": f"logos/{cl['name']}.png",
               "pos_frac": _g(enr["pos_frac"]), "neg_frac": _g(enr["neg_frac"]),
               "odds_ratio": _g(enr["odds_ratio"]), "fisher_p": _g(enr["fisher_p"]),
               "track_sites_kept": _g(cl["track_sites_kept"]), "track_act_kept": _g(cl["track_act_kept"]),
               "track_logit_change": _g(cl["track_logit_change"]),
               "shuffled_sites_kept": _g(cl["shuffled_sites_kept"]),
               "auroc_drop": _g(cl["auroc_drop"]), "logit_drop_pos": _g(cl["logit_drop_pos"]),
               "width": cl["pwm"].width}
        row.update(matches.columns(k))
        rows.append(row)
    return rows


def _filter_rows(fp: _FilterPWMs, infl: _Influence, tracks: _TrackEffect, clusters: list[dict],
                 matches: _Matches, filter_logos: bool) -> list[dict]:
    """Step 9b: the ``interpret/filters.tsv`` rows (:data:`FILTER_COLUMNS`), one per filter,
    most influential first."""
    sites, response, eff = fp.sites, tracks.response, infl.effects
    cluster_of = _cluster_of(clusters)
    query_of = {f: len(clusters) + j for j, f in enumerate(fp.have)}
    rows = []
    for f in range(fp.n_filters):
        p = fp.pwms[f]
        row = {"filter": f"filter_{f}", "cluster": cluster_of.get(f, ""), "influence": _g(infl.of_filter[f]),
               "n_sites": int(sites.n_sites[f]), "ic": round(p.ic, 3) if p else "",
               "consensus": p.consensus() if p else "", "auroc_drop": _g(eff["auroc"][f]),
               "logit_drop_pos": _g(eff["positives"][f]),
               "kind": ("track-only" if tracks.track_only[f] else "motif" if f in cluster_of else ""),
               "track_sites_kept": _g(response.kept_background[f]) if response is not None else "",
               "track_act_kept": (_g(response.act_sites_background[f] / response.act_sites[f])
                                  if response is not None and response.act_sites[f] > 0 else ""),
               "shuffled_sites_kept": _g(response.kept_shuffled[f]) if response is not None else "",
               "trim_start": int(fp.bounds[f, 0]) if p else "", "trim_end": int(fp.bounds[f, 1]) if p else "",
               "threshold": _g(sites.threshold[f]), "act_max": _g(sites.act_max[f]),
               "logo": f"logos/filters/filter_{f}.png" if p and filter_logos else ""}
        row.update(matches.columns(query_of[f]) if p else dict.fromkeys(MATCH_COLUMNS, ""))
        rows.append(row)
    rows.sort(key=lambda r: -float(r["influence"]) if r["influence"] != "" else np.inf)
    return rows


def _cluster_of(clusters: list[dict]) -> dict[int, str]:
    """The cluster record's name of each clustered filter."""
    return {f: cl["name"] for cl in clusters for f in cl["filters"]}


def _write_outputs(out: Path, inp: _Inputs, fp: _FilterPWMs, infl: _Influence, clusters: list[dict],
                   logo_bounds: np.ndarray, matches: _Matches, mot_rows: list[dict],
                   filt_rows: list[dict], cfg: MotifConfig, logo_pool: LogoPool) -> None:
    """Step 10: the logos, ``filters.meme``, ``interpret/motifs.meme``, ``interpret/filters.tsv``
    and ``motifs.tsv``, each written atomically; ``logos/`` is drawn beside and swapped in last
    (a killed run's leftover is removed next time)."""
    import pandas as pd

    alpha = inp.alpha
    filter_logos = cfg.logos and cfg.filter_logos
    with atomic_path(out / "logos", folder=True, ours=_is_logos_folder,
                     what="a seqfm logos folder") as logo_tmp:
        if cfg.logos:
            log.info("drawing %d cluster logos%s (PNG + SVG)", len(clusters),
                     f" and {len(fp.have)} filter logos" if filter_logos else "")
            weight = inp.model.first_layer_weights().detach().cpu().numpy()
            track_names = inp.data.track_names
            jobs = [_cluster_logo_job(logo_tmp, cl, matches.logo_match(k), weight, alpha, logo_bounds,
                                      track_names) for k, cl in enumerate(clusters)]
            cluster_of = _cluster_of(clusters)
            jobs += [_filter_logo_job(logo_tmp, f, fp, infl.of_filter[f], cluster_of.get(f, ""), weight,
                                      alpha, track_names) for f in (fp.have if filter_logos else [])]
            logo_pool.draw(jobs)

        (out / "interpret").mkdir(parents=True, exist_ok=True)
        write_meme([fp.pwms[f] for f in fp.have], out / "filters.meme", alpha.name)
        write_meme([cl["pwm"] for cl in clusters], out / "interpret" / "motifs.meme", alpha.name)
        _write_tsv(pd.DataFrame(filt_rows, columns=FILTER_COLUMNS), out / "interpret" / "filters.tsv")
        _write_tsv(pd.DataFrame(mot_rows, columns=MOTIF_COLUMNS), out / "motifs.tsv")


def _cluster_logo_job(folder: Path, cl: dict, match: dict, weight: np.ndarray, alpha: Alphabet,
                      bounds: np.ndarray, track_names: list[str]) -> dict:
    """The :func:`seqfm.logos.save_logo` keywords of a cluster record's logo (``folder/NAME``)."""
    tw = _cluster_track_weights(weight, alpha, cl, bounds)
    return dict(stem=folder / cl["name"], probs=cl["pwm"].probs, alphabet=alpha.name,
                title=f"{cl['name']}  {len(cl['filters'])} filter(s)"
                      f"{'  track-only' if cl['kind'] != 'motif' else ''}  n={cl['pwm'].n_sites}  "
                      f"influence={cl['influence']:.3g}",
                track_weights=tw, track_names=track_names, **match)


def _filter_logo_job(folder: Path, f: int, fp: _FilterPWMs, influence: float, cluster: str,
                     weight: np.ndarray, alpha: Alphabet, track_names: list[str]) -> dict:
    """The :func:`seqfm.logos.save_logo` keywords of filter ``f``'s logo (``folder/filters/filter_f``)."""
    lo, hi = fp.bounds[f]
    tw = weight[f, alpha.size:, lo:hi].T if weight.shape[1] > alpha.size else None
    pwm = fp.pwms[f]
    return dict(stem=folder / "filters" / f"filter_{f}", probs=pwm.probs, alphabet=alpha.name,
                title=f"filter_{f}  n={pwm.n_sites}  influence={influence:.3g}  {cluster}",
                track_weights=tw, track_names=track_names)


class LogoPool:
    """Processes that draw :func:`seqfm.logos.save_logo` jobs, one per core of ``threads``.

    Spawned, not forked: a worker imports matplotlib and logomaker, never this process's torch
    and its threads. The workers start with the pool (``seqfm motifs`` opens it first thing, so
    their imports overlap its other work); with one core, or fewer than two jobs, the logos are
    drawn here. Jobs go out largest first, one at a time, so that both cores finish together.
    """

    def __init__(self, threads: int = 0) -> None:
        cpus = _available_cpus()
        self.workers = min(threads if threads and threads > 0 else cpus, cpus)
        self._pool = None
        if self.workers >= 2:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_logo_worker_start)
            for _ in range(self.workers):  # one task each starts every worker now
                self._pool.submit(int)

    def draw(self, jobs: list[dict]) -> None:
        if self._pool is None or len(jobs) < 2:
            from .logos import save_logo

            for job in jobs:
                save_logo(**job)
            return
        from concurrent.futures import wait

        futures = [self._pool.submit(_save_logo_job, job) for job in sorted(jobs, key=_logo_cost, reverse=True)]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:  # nothing keeps writing once the caller cleans up
                f.cancel()
            wait(futures)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "LogoPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _available_cpus() -> int:
    """Cores this process may run on, as :func:`seqfm.device.available_cpus` says, without
    importing torch (the logo workers start before it is)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _logo_worker_start() -> None:
    """A logo worker's first act: the imports every logo needs."""
    from . import logos

    logos._plt()
    import logomaker  # noqa: F401


def _logo_cost(job: dict) -> int:
    """Letters to draw: what a logo's time grows with."""
    match = job.get("match_probs")
    return np.size(job["probs"]) + (0 if match is None else np.size(match))


def _save_logo_job(job: dict) -> None:
    from .logos import save_logo

    save_logo(**job)


def _g(x) -> str:
    """A number for a TSV cell (4 significant digits; empty for NaN)."""
    x = float(x)
    return "" if math.isnan(x) else f"{x:.4g}"


def _family(db: Database, t: int) -> str:
    fam = getattr(db, "families", None)
    return fam[t] if fam else ""


def _track_scale(tracks: np.ndarray, index: np.ndarray, n: int = 500) -> np.ndarray | None:
    """Spread (99th - 1st percentile) of each track over (up to ``n``) of the sequences ``index``."""
    if tracks.ndim != 3 or tracks.shape[1] == 0:
        return None
    sub = np.asarray(tracks[np.sort(index[:n])], dtype=np.float32)
    lo, hi = np.percentile(sub, [1, 99], axis=(0, 2))
    s = hi - lo
    return np.where(s > 0, s, 1.0)


def _cluster_track_weights(weight: np.ndarray, alpha: Alphabet, cl: dict, bounds: np.ndarray):
    """The representative filter's conservation weights placed on the cluster's positions ``(W, T)``."""
    if weight.shape[1] <= alpha.size:
        return None
    f = cl["rep"]
    lo, hi = bounds[f]
    tw = weight[f, alpha.size:, lo:hi].T  # (w, T), strand-0 orientation
    off, strand = cl["rep_place"]
    if strand:
        tw = tw[::-1]
    out = np.zeros((cl["pwm"].width, tw.shape[1]))
    for i in range(len(tw)):
        j = off + i
        if 0 <= j < len(out):
            out[j] = tw[i]
    return out


def _is_logos_folder(folder: Path) -> bool:
    """Whether ``folder`` holds only logos (PNG/SVG files and a ``filters/`` folder of them)."""
    for path in folder.rglob("*"):
        if not (path.is_dir() and path.name == "filters" or path.suffix in (".png", ".svg")):
            return False
    return True


def _write_tsv(df, path: Path) -> None:
    with atomic_write(path) as fh:
        fh.write(df.to_csv(sep="\t", index=False))
