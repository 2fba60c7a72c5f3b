"""One motif, one cluster: copies at other offsets and on the other strand join it."""

import numpy as np

from seqfm.alphabet import DNA
from seqfm.clustering import cluster_filters, coactivation
from seqfm.filter_sites import filter_counts, filter_pwms
from seqfm.jaspar import load_jaspar
from seqfm.pwm import consensus, counts_to_probs, motif_similarity, PWM, reverse_complement_matrix

from planted import MOTIF_A, MOTIF_B, log_odds, model_with, motif_probs, planted_codes, source_for


def test_reverse_complement_copy_joins_the_filter_in_one_cluster():
    rng = np.random.default_rng(2)
    pa, pb = motif_probs(MOTIF_A), motif_probs(MOTIF_B)
    codes, _ = planted_codes(rng, [pa, pb], n=400)
    wa = log_odds(pa)
    wa_rc = wa[DNA.complement_codes()[:4].astype(int)][:, ::-1]  # the same detector, other strand
    model = model_with(np.stack([wa, log_odds(pb), wa_rc]))
    sites = filter_counts(model, source_for(codes), np.arange(len(codes)))
    pwms, _ = filter_pwms(sites)
    score, _, strand = motif_similarity(pwms[0].probs, pwms[2].probs, DNA)
    assert score > 0.95 and strand == 1
    clusters = cluster_filters(pwms, DNA, max_p=3e-4, coact=coactivation(sites.seq_max), min_coact=0.2)
    assert [c.members for c in clusters] == [[0, 2], [1]]
    (_, s0), (_, s2) = clusters[0].place
    assert s0 != s2  # the copy sits on the other strand of the cluster's matrix
    # the cluster's matrix pools both filters' sites over the motif
    col = clusters[0].counts.sum(axis=1)
    total = pwms[0].n_sites + pwms[2].n_sites
    assert (np.abs(col - total) <= 0.02 * total).sum() >= 8


def test_motif_at_two_offsets_and_both_strands_is_one_cluster():
    """Filters holding overlapping parts of CTCF (one on the other strand) and the whole of it
    join one cluster, placed where they sit in CTCF; GATA1 and USF1 stay apart."""
    db = load_jaspar()
    ctcf = db.probs[db.index("MA0139.2")]
    gata = db.probs[db.index("MA0035.2")]
    usf = db.probs[db.index("MA0093.4")]
    rc = lambda m: reverse_complement_matrix(m, DNA)  # noqa: E731
    mats = [ctcf[0:10], rc(ctcf[5:15]), gata, ctcf[2:13], rc(gata[1:]), usf]
    pwms = [PWM(f"filter_{i}", m * 200, 200, "dna", 0.5) for i, m in enumerate(mats)]
    # the whole-matrix similarity keeps the two halves of CTCF apart (the old rule)
    assert motif_similarity(mats[0], mats[1], DNA)[0] < 0.7
    clusters = cluster_filters(pwms, DNA, max_p=3e-4)
    assert [c.members for c in clusters] == [[0, 1, 3], [2, 4], [5]]
    ct = clusters[0]
    starts = {m: p for m, p in zip(ct.members, ct.place)}
    assert starts[1][1] != starts[0][1] == starts[3][1]  # the other strand
    # placed as in CTCF (on the cluster's strand): the first half at 0, the middle at 2
    if starts[0][1] == 0:
        assert (starts[3][0] - starts[0][0], starts[1][0] - starts[0][0]) == (2, 5)
        merged = ct.counts
    else:
        merged = reverse_complement_matrix(ct.counts, DNA)
    # the cluster's PWM: every member's sites pooled over the whole motif
    np.testing.assert_allclose(merged.sum(axis=1), [200] * 2 + [400] * 3 + [600] * 5 + [400] * 3 + [200] * 2)
    assert consensus(counts_to_probs(merged), DNA) == consensus(ctcf, DNA)
