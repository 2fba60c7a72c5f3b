"""The k-mer baseline: L2-regularised logistic regression on k-mer counts.

It shows what a CNN adds over composition alone. Features are ``log(1 + count)`` of
every k-mer (DNA: k-mers and their reverse complements pooled, so the baseline is
strand-symmetric like the CNN), standardised on the training split. The L2 strength
is picked on the validation split by AUROC. Windows that hold an ambiguity code are
not counted.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import metrics
from .alphabet import Alphabet

log = logging.getLogger("seqfm")

#: default k per alphabet (4^5 = 1024 DNA 5-mers, 20^2 = 400 protein 2-mers)
DEFAULT_K = {"dna": 5, "protein": 2}
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)


def kmer_index_map(alphabet: Alphabet, k: int, canonical: bool) -> tuple[np.ndarray, list[str]]:
    """Column of each k-mer index, and the column names.

    Returns
    -------
    column : numpy.ndarray, int64, shape ``(A**k,)``
        k-mer index (base-A number, first letter most significant) -> feature column.
    names : list of str, one per column (the lexicographically smaller k-mer when canonical)
    """
    a = alphabet.size
    n = a ** k
    digits = (np.arange(n)[:, None] // a ** np.arange(k - 1, -1, -1)[None, :]) % a  # (n, k)
    if canonical:
        comp = alphabet.complement_codes()[: a].astype(np.int64)
        rc = comp[digits[:, ::-1]] @ (a ** np.arange(k - 1, -1, -1))
        key = np.minimum(np.arange(n), rc)
    else:
        key = np.arange(n)
    uniq, column = np.unique(key, return_inverse=True)
    letters = np.array(list(alphabet.letters))
    udigits = (uniq[:, None] // a ** np.arange(k - 1, -1, -1)[None, :]) % a
    names = ["".join(row) for row in letters[udigits]]
    return column.astype(np.int64), names


def kmer_counts(codes: np.ndarray, alphabet: Alphabet, k: int, canonical: bool | None = None,
                chunk: int = 4096) -> np.ndarray:
    """k-mer counts of each sequence.

    Parameters
    ----------
    codes : numpy.ndarray, uint8, shape ``(N, L)``
    alphabet : Alphabet
    k : int
    canonical : bool, optional
        Pool each k-mer with its reverse complement (default: True for DNA).
    chunk : int
        Rows per vectorised step (bounds memory).

    Returns
    -------
    numpy.ndarray, float32, shape ``(N, n_features)``
    """
    if canonical is None:
        canonical = alphabet.complement is not None
    column, names = kmer_index_map(alphabet, k, canonical)
    n, length = codes.shape
    a = alphabet.size
    out = np.zeros((n, len(names)), dtype=np.float32)
    n_win = length - k + 1
    if n_win <= 0:
        return out
    for lo in range(0, n, chunk):
        c = np.asarray(codes[lo: lo + chunk]).astype(np.int64)
        m = c.shape[0]
        idx = np.zeros((m, n_win), dtype=np.int64)
        valid = np.ones((m, n_win), dtype=bool)
        for j in range(k):
            part = c[:, j: j + n_win]
            idx = idx * a + np.minimum(part, a - 1)
            valid &= part < a
        rows = np.broadcast_to(np.arange(m)[:, None], idx.shape)
        flat = rows[valid] * len(names) + column[idx[valid]]
        out[lo: lo + m] = np.bincount(flat, minlength=m * len(names)).reshape(m, len(names))
    return out


class KmerLogistic:
    """Logistic regression on standardised ``log1p`` k-mer counts (full-batch L-BFGS, float64).

    Parameters
    ----------
    alphabet : Alphabet
    k : int, optional
        Default :data:`DEFAULT_K` for the alphabet.
    l2 : float
        L2 penalty on the weights (mean loss + ``l2 * ||w||^2 / 2``).
    """

    def __init__(self, alphabet: Alphabet, k: int | None = None, l2: float = 1e-3) -> None:
        self.alphabet = alphabet
        self.k = int(k or DEFAULT_K[alphabet.name])
        self.l2 = float(l2)
        self.mean = self.std = self.weight = None
        self.bias = 0.0

    def _features(self, codes: np.ndarray) -> torch.Tensor:
        x = np.log1p(kmer_counts(codes, self.alphabet, self.k))
        return torch.from_numpy((x - self.mean) / self.std).double()

    def fit(self, codes: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> "KmerLogistic":
        """Fit on codes ``(N, L)`` and 0/1 labels ``(N,)``; returns self."""
        x = np.log1p(kmer_counts(codes, self.alphabet, self.k))
        self.mean = x.mean(0)
        self.std = x.std(0) + 1e-6
        return self._fit_features(torch.from_numpy((x - self.mean) / self.std).double(),
                                  labels, max_iter)

    def _fit_features(self, x: torch.Tensor, labels: np.ndarray, max_iter: int) -> "KmerLogistic":
        y = torch.as_tensor(np.asarray(labels), dtype=torch.float64)
        n_pos = float(y.sum())
        pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0), dtype=torch.float64)
        w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                x @ w + b, y, pos_weight=pos_weight) + 0.5 * self.l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight, self.bias = w.detach(), float(b.detach())
        return self

    def decision_function(self, codes: np.ndarray) -> np.ndarray:
        """Logits ``(N,)`` for codes ``(N, L)``."""
        if self.weight is None:
            raise RuntimeError("fit the baseline first")
        return (self._features(codes) @ self.weight + self.bias).numpy()


def fit_baseline(train_codes: np.ndarray, train_labels: np.ndarray, valid_codes: np.ndarray,
                 valid_labels: np.ndarray, alphabet: Alphabet, k: int | None = None,
                 l2_grid=L2_GRID, max_train: int = 200_000, seed: int = 0) -> KmerLogistic:
    """Fit the baseline, choosing the L2 strength by validation AUROC.

    Parameters
    ----------
    train_codes, valid_codes : numpy.ndarray, uint8, shape ``(N, L)``
    train_labels, valid_labels : numpy.ndarray, shape ``(N,)``
    max_train : int
        At most this many training rows (a seeded subsample) to bound memory and time.

    Returns
    -------
    KmerLogistic, fitted.
    """
    train_labels = np.asarray(train_labels)
    if len(train_labels) > max_train:
        keep = np.sort(np.random.default_rng(seed).choice(len(train_labels), max_train, replace=False))
        train_codes, train_labels = np.asarray(train_codes)[keep], train_labels[keep]
    model = KmerLogistic(alphabet, k)
    x = np.log1p(kmer_counts(np.asarray(train_codes), alphabet, model.k))
    model.mean, model.std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - model.mean) / model.std).double()
    valid_labels = np.asarray(valid_labels)
    can_select = len(l2_grid) > 1 and 0 < valid_labels.sum() < len(valid_labels)
    if not can_select:
        model.l2 = float(l2_grid[len(l2_grid) // 2])
        return model._fit_features(xt, train_labels, 200)
    xv = model._features(np.asarray(valid_codes))
    best = None
    for l2 in l2_grid:
        model.l2 = float(l2)
        model._fit_features(xt, train_labels, 200)
        score = metrics.auroc(valid_labels, (xv @ model.weight + model.bias).numpy())
        log.debug("k-mer baseline: l2=%g valid AUROC %.4f", l2, score)
        if best is None or score > best[0]:
            best = (score, model.l2, model.weight, model.bias)
    _, model.l2, model.weight, model.bias = best
    return model
