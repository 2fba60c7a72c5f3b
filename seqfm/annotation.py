"""Naming a motif: its best TomTom match in a database (JASPAR, or a MEME file), kept only when a
calibrated rule says it is more than composition (:class:`MatchRule`; measured by
``bench/bench_tomtom_calibration.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import InputError
from .jaspar import Database
from .pwm import column_ic
from .tomtom import tomtom_best


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
    dict of arrays ``(Q,)``: those of :func:`seqfm.tomtom.tomtom_best` plus ``ic``, ``null_z`` and
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
