"""Position weight matrices: information content, trimming, alignment on both strands."""

import numpy as np

from seqfm.alphabet import DNA
from seqfm.pwm import column_ic, motif_similarity, reverse_complement_matrix, trim_bounds

from planted import MOTIF_A, MOTIF_B, motif_probs


def test_information_content_and_trimming():
    p = np.vstack([np.full((2, 4), 0.25), motif_probs("ACG", top=1.0), np.full((1, 4), 0.25)])
    ic = column_ic(p)
    np.testing.assert_allclose(ic, [0, 0, 2, 2, 2, 0], atol=1e-6)
    assert trim_bounds(p, 0.3) == (2, 5)
    assert trim_bounds(np.full((3, 4), 0.25), 0.3) == (0, 0)


def test_motif_similarity_offsets_and_strands():
    pa = motif_probs(MOTIF_A)
    assert motif_similarity(pa, pa[3:], DNA)[1:] == (3, 0)
    s, off, strand = motif_similarity(pa, reverse_complement_matrix(pa[:7], DNA), DNA)
    assert (off, strand) == (0, 1) and s > 0.8
    assert motif_similarity(pa, motif_probs(MOTIF_B), DNA)[0] < 0.5
