"""TomTom through memelite: offsets and strands as memelite reports them, and the best match's
q- and E-values by hand."""

import numpy as np

from seqfm.alphabet import DNA
from seqfm.jaspar import Database
from seqfm.pwm import random_pwms, reverse_complement_matrix
from seqfm.tomtom import bh_min, tomtom_best, tomtom_pairs

from planted import MOTIF_A, motif_probs


def test_pairs_find_a_part_of_a_motif_at_its_offset_and_on_its_strand():
    whole = motif_probs(MOTIF_A, top=0.9)
    part = whole[3:9]
    background = random_pwms(30, seed=4)  # targets enough for TomTom's background
    p, off, strand = tomtom_pairs([part, reverse_complement_matrix(part, DNA)], [whole] + background)
    assert np.argmin(p[0]) == 0 and np.argmin(p[1]) == 0 and p[0, 0] < 1e-4
    assert (off[0, 0], strand[0, 0]) == (3, 0)
    assert strand[1, 0] == 1  # the reverse complement matches the other strand
    # without the other strand, the reverse complement finds nothing as good
    p1, _, strand1 = tomtom_pairs([reverse_complement_matrix(part, DNA)], [whole] + background,
                                  reverse_complement=False)
    assert (strand1 == 0).all() and p1[0, 0] > p[1, 0]


def test_best_match_q_and_e_values():
    assert bh_min(np.array([0.01, 0.04, 0.03])) == 0.03  # min(0.01*3/1, 0.03*3/2, 0.04*3/3)
    assert bh_min(np.array([0.9, 0.8])) == 0.9
    whole = motif_probs(MOTIF_A, top=0.9)
    targets = random_pwms(30, seed=5)
    targets.insert(7, whole)
    db = Database([f"t{i}" for i in range(len(targets))], [f"n{i}" for i in range(len(targets))], targets)
    res = tomtom_best([whole[2:10], np.full((6, 4), 0.25)], db)
    assert res["target"][0] == 7 and res["offset"][0] == 2 and res["strand"][0] == 0
    np.testing.assert_allclose(res["E"], res["p"] * len(db))
    assert res["q"][0] >= res["p"][0] and res["q"][0] < 0.05
    empty = tomtom_best([], db)
    assert len(empty["p"]) == 0 and empty["target"].dtype == np.int64
