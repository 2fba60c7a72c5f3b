"""Position weight matrices: counts to probabilities, information content, consensus, trimmed
flanks, the other strand, and the best ungapped alignment of two matrices.

Matrices are ``(W, A)``: one row per position, one column per letter in alphabet order (``ACGT``
for DNA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .alphabet import Alphabet, get as get_alphabet


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


def random_pwms(n: int, seed: int, widths: tuple[int, int] = (8, 20), alpha: float = 1.0,
                n_letters: int = 4) -> list[np.ndarray]:
    """Random probability matrices ``(W, A)`` with Dirichlet(``alpha``) columns."""
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.full(n_letters, alpha), size=int(rng.integers(widths[0], widths[1] + 1)))
            for _ in range(n)]
