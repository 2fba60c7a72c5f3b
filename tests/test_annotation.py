"""Naming motifs: the calibrated rule annotates real motifs and few random ones."""

import numpy as np
import pytest

from seqfm.annotation import annotate, MatchRule
from seqfm.jaspar import load_jaspar
from seqfm.pwm import random_pwms


def test_match_rule_needs_information_and_shuffles():
    with pytest.raises(Exception):
        MatchRule(n_shuffles=1)


@pytest.mark.slow
def test_false_match_rate_of_random_pwms_is_under_5_percent():
    """TomTom against JASPAR 2026 vertebrates (memelite). Slow only the first time on a
    machine: memelite compiles its numba kernels (about 2 min) into seqfm's numba cache."""
    db = load_jaspar()
    queries = random_pwms(100, seed=11)
    res = annotate(queries, db, MatchRule())
    naive = float(np.mean(res["q"] < 0.05))
    calibrated = float(np.mean(res["significant"]))
    assert calibrated < 0.05 < naive
    # the planted example motif itself is still annotated, with itself
    ctcf = db.probs[db.index("MA0139.2")]
    one = annotate([ctcf[2:17]], db, MatchRule())
    assert one["significant"][0] and db.names[one["target"][0]] == "CTCF"
    # memelite's offset: the query starts 2 columns into the target (logos draw it at -2)
    assert one["offset"][0] == 2 and one["strand"][0] == 0
