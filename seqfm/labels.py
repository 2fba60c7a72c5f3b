"""Naming a call after the motif whose sequence explains it best.

A call is made by one detector (a first-layer filter) and its significance is that filter's,
but a filter is not always a clean copy of its cluster's motif: one that reads half of a
CTCF site and half of a GATA site sits in the CTCF cluster and fires on GATA sites too. So the
name of a call comes from the sequence under it: every candidate cluster's PWM
(``interpret/motifs.meme``, trimmed to its informative core) scores the call's window on both
strands, each best score becomes an exact p-value (the PWM's score distribution under the
background letter frequencies, FIMO's method), corrected for the placements tried, and the
call takes the cluster with the smallest. A call whose detector's cluster is not a candidate
takes a candidate's name only at :data:`MAX_P` or less; otherwise it keeps its own.

Candidates are the clusters of kind ``motif`` that are named (a database match) or that hold
at least :data:`MIN_SHARE` of the influence: a weak, unnamed duplicate of a known motif does
not take its calls, a novel motif the model leans on does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .alphabet import Alphabet
from .errors import InputError
from .io import read_meme
from .pwm import trim_bounds

#: a PWM scores on the columns with at least this information (bits): low-information
#: flanks add the same variance to the scores of sites and of background
CORE_BITS = 0.5
#: bases scored each side of a call's interval (a filter core is narrower than a motif)
FLANK = 5
#: a call of a cluster that is no candidate takes a candidate's name only at this p or less
MAX_P = 0.01
#: an unnamed cluster is a candidate when it holds at least this share of the influence
MIN_SHARE = 0.05
#: resolution of the integer scores of the exact p-values (units per bit)
RESOLUTION = 100
#: calls scored at once
CHUNK = 20000
_PSEUDO = 0.01


@dataclass
class MotifNamer:
    """The candidate clusters of a results folder and their scoring tables."""

    clusters: list[str]
    match_names: list[str]
    #: the cluster's database match lies on the reverse strand of its PWM
    match_minus: np.ndarray
    probs: list[np.ndarray]
    alphabet: Alphabet

    def best(self, windows: np.ndarray, lengths: np.ndarray, background: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best candidate of each window.

        Parameters
        ----------
        windows : numpy.ndarray, uint8, ``(N, L)``
            Codes; positions at or past ``lengths`` are ignored.
        lengths : numpy.ndarray, int, ``(N,)``
        background : numpy.ndarray ``(A,)``
            Letter frequencies of the score distributions.

        Returns
        -------
        (index, p, reverse): the candidate ``(N,)`` (-1 when none fits in a window), its
        window p-value (1.0 when none), and whether its best placement is on the reverse strand.
        """
        n = len(windows)
        best_p = np.ones(n)
        best_k = np.full(n, -1, np.int64)
        best_rev = np.zeros(n, bool)
        tables = [score_tail(log_odds(p, background, self.alphabet.size), background)
                  for p in self.probs]
        for lo in range(0, n, CHUNK):  # bounded memory, whatever the number of calls
            sl = slice(lo, lo + CHUNK)
            for k, (scores, tail) in enumerate(tables):
                p, rev = window_p(scores, tail, windows[sl], lengths[sl], self.alphabet)
                better = p < best_p[sl]
                best_p[sl][better], best_k[sl][better], best_rev[sl][better] = p[better], k, rev[better]
        return best_k, best_p, best_rev


def load(folder: str | os.PathLike, alphabet: Alphabet) -> MotifNamer | None:
    """The namer of a results folder (``motifs.tsv`` and ``interpret/motifs.meme``), or None
    when either is missing or no cluster is a candidate."""
    folder = Path(folder)
    tsv, meme = folder / "motifs.tsv", folder / "interpret" / "motifs.meme"
    if not (tsv.is_file() and meme.is_file()):
        return None
    try:
        table = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
        influence = pd.to_numeric(table.get("influence"), errors="coerce").fillna(0.0).clip(lower=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, TypeError) as err:
        raise InputError(f"{tsv}: not a readable motif table ({err})") from None
    _, motifs = read_meme(meme)
    probs = {mid: p for mid, _name, p in motifs}
    share = influence / influence.sum() if influence.sum() > 0 else influence
    out = MotifNamer([], [], np.zeros(0, bool), [], alphabet)
    minus = []
    for i, r in enumerate(table.to_dict("records")):
        name = str(r.get("match_name", "")).strip()
        p = probs.get(str(r.get("cluster", "")).strip())
        if r.get("kind", "motif") != "motif" or p is None or p.shape[1] != alphabet.size:
            continue
        if not name and share.iloc[i] < MIN_SHARE:
            continue
        lo, hi = trim_bounds(p, CORE_BITS)
        if hi - lo < 3:
            continue
        out.clusters.append(str(r["cluster"]).strip())
        out.match_names.append(name or ".")
        out.probs.append(p[lo:hi])
        minus.append(str(r.get("match_strand", "")).strip() == "-")
    out.match_minus = np.array(minus, bool)
    return out if out.clusters else None


def composition(codes: np.ndarray, n_letters: int) -> np.ndarray:
    """Letter frequencies of ``codes`` (other codes ignored), with a pseudocount."""
    return frequencies(np.bincount(np.asarray(codes).ravel(), minlength=256)[:n_letters])


def frequencies(counts: np.ndarray) -> np.ndarray:
    """Letter frequencies from letter counts ``(A,)``, with a pseudocount of one each."""
    counts = np.asarray(counts).astype(np.float64)
    return (counts + 1.0) / (counts.sum() + len(counts))


def score_tail(log_odds: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer scores ``(W, A)`` (shifted so each column's minimum is 0) and the upper tail
    ``P(score >= s)`` of their sum over a background sequence, ``s = 0 .. max``."""
    s = np.round(log_odds * RESOLUTION).astype(np.int64)
    s -= s.min(axis=1, keepdims=True)
    dist = np.ones(1)
    for col in s:
        nxt = np.zeros(len(dist) + col.max())
        for a, v in enumerate(col):
            nxt[v:v + len(dist)] += background[a] * dist
        dist = nxt
    return s, np.minimum(np.cumsum(dist[::-1])[::-1], 1.0)


def log_odds(probs: np.ndarray, background: np.ndarray, n_letters: int) -> np.ndarray:
    """A PWM's log-odds (bits) against the background, with a small pseudocount."""
    return np.log2((probs + _PSEUDO) / (1 + n_letters * _PSEUDO) / background)


def window_p(s: np.ndarray, tail: np.ndarray, windows: np.ndarray, lengths: np.ndarray,
             alphabet: Alphabet) -> tuple[np.ndarray, np.ndarray]:
    """The p-value of a PWM's best placement in each window (both strands for DNA), corrected
    for the placements tried (Sidak), and whether that placement is on the reverse strand;
    ``s`` and ``tail`` are the PWM's integer scores and their tail (:func:`score_tail`)."""
    w = len(s)
    n, length = windows.shape
    a = alphabet.size
    strands = [s]
    if alphabet.complement is not None:
        comp = alphabet.complement_codes()[:a].astype(np.int64)
        strands.append(s[::-1][:, comp])
    n_pos = np.maximum(lengths - w + 1, 0)
    best = np.full(n, -1, np.int64)
    rev = np.zeros(n, bool)
    if length >= w:
        # a code outside the alphabet (N, IUPAC) scores the column's minimum; padding never fits
        codes = np.where(windows < a, windows, a).astype(np.int64)
        starts = np.arange(length - w + 1)
        fits = starts[None, :] < n_pos[:, None]
        for r, table in enumerate(strands):
            t = np.concatenate([table, np.zeros((w, 1), np.int64)], axis=1)
            total = np.zeros((n, len(starts)), np.int64)
            for k in range(w):
                total += t[k][codes[:, k:k + len(starts)]]
            top = np.where(fits, total, -1).max(axis=1)
            rev |= (r == 1) & (top > best)
            best = np.maximum(best, top)
    p1 = np.where(best >= 0, tail[np.clip(best, 0, len(tail) - 1)], 1.0)
    tries = n_pos * len(strands)
    p = -np.expm1(tries * np.log1p(-np.minimum(p1, 1 - 1e-16)))
    return np.where(tries > 0, p, 1.0), rev


#: bases each side of a call read for the background letter frequencies
BG_FLANK = 100


def pad(rows: list[np.ndarray], fill: int) -> tuple[np.ndarray, np.ndarray]:
    """Code arrays of any lengths as one ``(N, L)`` array padded with ``fill``, and the lengths."""
    lengths = np.array([len(r) for r in rows], np.int64)
    out = np.full((len(rows), int(lengths.max(initial=0))), fill, np.uint8)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out, lengths


def choose(namer: MotifNamer, windows: np.ndarray, lengths: np.ndarray, background: np.ndarray,
           clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(take, cluster index, reverse)`` of calls whose detectors belong to ``clusters``
    (names, one per window): the calls to rename (any, when their own cluster is a candidate;
    otherwise a candidate at ``p <= MAX_P``), their candidate, and whether the motif lies on
    the window's reverse strand (the strand of the candidate's database match, when it has one)."""
    k, p, rev = namer.best(windows, lengths, background)
    own = np.isin(np.asarray(clusters, dtype=object), np.asarray(namer.clusters, dtype=object))
    take = (k >= 0) & (own | (p <= MAX_P))
    return take, k, rev ^ np.where(k >= 0, namer.match_minus[np.maximum(k, 0)], False)
