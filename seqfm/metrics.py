"""Classification metrics in numpy: AUROC, AUPRC (average precision) and their curves.

Ties in the scores are handled exactly: tied scores form one threshold, so
AUROC counts a tied positive/negative pair as one half (the Mann-Whitney U
statistic), and the PR curve has one point per distinct score.
"""

from __future__ import annotations

import numpy as np


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if np.isnan(s).any():
        raise ValueError("scores hold NaN")
    return y, s


def _thresholds(y: np.ndarray, s: np.ndarray):
    """Cumulative true/false positives at each distinct score, highest score first.

    Returns
    -------
    tps, fps : numpy.ndarray, shape ``(K,)``, counts of positives/negatives with score >= each
        of the K distinct thresholds, descending.
    thresholds : numpy.ndarray, shape ``(K,)``
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # last index of each run of equal scores
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    return tps, fps, s_sorted[last]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve.

    Parameters
    ----------
    labels : array-like, shape ``(N,)``, 0/1
    scores : array-like, shape ``(N,)``, higher = more positive

    Returns
    -------
    fpr, tpr : numpy.ndarray, shape ``(K + 1,)``, starting at (0, 0)
    thresholds : numpy.ndarray, shape ``(K + 1,)`` (``inf`` first)
    """
    y, s = _check(labels, scores)
    tps, fps, thr = _thresholds(y, s)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return (np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos], np.r_[np.inf, thr])


def auroc(labels, scores) -> float:
    """Area under the ROC curve (probability that a positive outscores a negative, ties = 1/2).

    Parameters
    ----------
    labels : array-like, shape ``(N,)``, 0/1
    scores : array-like, shape ``(N,)``

    Returns
    -------
    float, NaN when one class is absent.
    """
    y, s = _check(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    tps, fps, _ = _thresholds(y, s)
    # trapezoids between consecutive distinct thresholds = U statistic with ties as 1/2
    tpr = np.r_[0.0, tps] / n_pos
    fpr = np.r_[0.0, fps] / n_neg
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve, one point per distinct score.

    Returns
    -------
    precision, recall : numpy.ndarray, shape ``(K + 1,)``; recall ascending from 0
        (precision 1 at recall 0, by convention)
    thresholds : numpy.ndarray, shape ``(K + 1,)`` (``inf`` first)
    """
    y, s = _check(labels, scores)
    tps, fps, thr = _thresholds(y, s)
    n_pos = max(int(y.sum()), 1)
    precision = tps / (tps + fps)
    return np.r_[1.0, precision], np.r_[0.0, tps / n_pos], np.r_[np.inf, thr]


def auprc(labels, scores) -> float:
    """Area under the precision-recall curve as average precision.

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over the distinct thresholds, highest first
    (step interpolation, no optimistic linear interpolation).

    Returns
    -------
    float, NaN when there is no positive.
    """
    y, s = _check(labels, scores)
    if not y.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, s)
    return float(np.sum(np.diff(recall) * precision[1:]))


def summary(labels, scores) -> dict:
    """``{"auroc", "auprc", "n", "n_positive"}`` for one split (NaN -> None for JSON)."""
    y = np.asarray(labels).astype(bool).ravel()
    out = {"auroc": auroc(y, scores), "auprc": auprc(y, scores),
           "n": int(y.size), "n_positive": int(y.sum())}
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in out.items()}
