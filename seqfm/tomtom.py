"""TomTom, run by memelite (no MEME binary): every query against every target, or each query's
best target in a motif database.

Matrices are ``(W, A)`` probabilities; memelite takes ``(A, W)`` and gets the transpose.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from .jaspar import Database
from .numba_cache import use_numba_cache


def _tomtom():
    use_numba_cache()
    # after use_numba_cache(), which numba reads when memelite defines its kernels; 1.2 s
    from memelite.tomtom import tomtom

    return tomtom


def _run(queries: Sequence[np.ndarray], targets: Sequence[np.ndarray], reverse_complement: bool
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """memelite's TomTom of every query ``(W, A)`` against every target ``(W, A)``: p-values
    (NaN read as 1), offsets, overlaps and strands, each ``(Q, T)``."""
    qs = [np.ascontiguousarray(np.asarray(q, dtype=np.float64).T) for q in queries]
    ts = [np.ascontiguousarray(np.asarray(t, dtype=np.float64).T) for t in targets]
    p, _scores, offsets, overlaps, strands = _tomtom()(qs, ts, reverse_complement=reverse_complement)
    return (np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0), np.asarray(offsets),
            np.asarray(overlaps), np.asarray(strands))


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "few targets": the caller pads the target set
        p, offsets, _overlaps, strands = _run(queries, targets, reverse_complement)
    return p, offsets.astype(np.int64), strands.astype(np.int64)


def tomtom_best(queries: Sequence[np.ndarray], db: Database, reverse_complement: bool = True
                ) -> dict[str, np.ndarray]:
    """Best TomTom match of each query ``(W, A)`` in ``db``.

    Returns
    -------
    dict of arrays ``(Q,)``: ``target`` (index), ``p``, ``q`` (Benjamini-Hochberg over the
    query's p-values against every target), ``E`` (``p * len(db)``), ``offset``, ``overlap``,
    ``strand`` (as memelite reports them).
    """
    out = {k: np.zeros(len(queries)) for k in ("p", "q", "E", "offset", "overlap", "strand")}
    out["target"] = np.zeros(len(queries), dtype=np.int64)
    if not len(queries):
        return out
    p, offsets, overlaps, strands = _run(queries, db.probs, reverse_complement)
    best = np.argmin(p, axis=1)
    rows = np.arange(len(queries))
    out["target"] = best
    out["p"] = p[rows, best]
    out["E"] = out["p"] * len(db)
    out["q"] = np.array([bh_min(row) for row in p])
    out["offset"] = offsets[rows, best]
    out["overlap"] = overlaps[rows, best]
    out["strand"] = strands[rows, best]
    return out


def bh_min(p: np.ndarray) -> float:
    """The smallest Benjamini-Hochberg q-value of a set of p-values."""
    p = np.sort(np.asarray(p, dtype=np.float64))
    n = len(p)
    q = p * n / np.arange(1, n + 1)
    return float(min(1.0, np.min(q)))
