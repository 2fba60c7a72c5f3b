"""Annotation against a user's MEME motif database (protein motifs have no JASPAR)."""

import numpy as np
import pytest

from seqfm.alphabet import DNA, PROTEIN
from seqfm.errors import InputError
from seqfm.io import read_meme
from seqfm.motifs import annotate, load_meme_database
from seqfm.simulate_protein import MOTIFS, pattern_matrix, write_protein_meme


def test_protein_meme_round_trip(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    letters, motifs = read_meme(path)
    assert letters == PROTEIN.letters
    assert [m[0] for m in motifs] == ["Walker_A", "C2H2_zinc_finger"]
    walker = motifs[0][2]
    assert walker.shape == (8, 20) and np.allclose(walker, pattern_matrix(MOTIFS["Walker_A"]), atol=1e-4)
    assert walker[6, PROTEIN.letters.index("K")] == pytest.approx(1.0)


def test_database_alphabet_must_be_the_samples(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    with pytest.raises(InputError, match="not the sample's dna alphabet"):
        load_meme_database(path, DNA)
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF x\nletter-probability matrix: w= 2\n0.5 0.5 0 0\n1 0\n")
    with pytest.raises(InputError, match="bad.meme line 8: motif 'x' row 2 has 2 values"):
        read_meme(bad)


@pytest.mark.slow  # TomTom compiles with numba on a machine's first call
def test_protein_filter_pwm_is_annotated_and_random_pwms_are_not(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    db = load_meme_database(path, PROTEIN)
    rng = np.random.default_rng(0)
    # a learned-looking Walker A: the pattern with noise and flanks
    walker = pattern_matrix(MOTIFS["Walker_A"]) * 0.9 + 0.1 / 20
    query = np.vstack([rng.dirichlet(np.ones(20), 2), walker, rng.dirichlet(np.ones(20), 1)])
    randoms = [rng.dirichlet(np.full(20, 0.3), 10) for _ in range(40)]
    res = annotate([query] + randoms, db, reverse_complement=False)
    assert res["significant"][0] and db.names[int(res["target"][0])] == "Walker_A"
    assert res["significant"][1:].mean() < 0.05
