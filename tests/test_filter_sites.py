"""Basset's rule: a planted motif is recovered from the filter that detects it."""

import numpy as np

from seqfm.alphabet import DNA
from seqfm.filter_sites import filter_counts, filter_pwms
from seqfm.pwm import consensus

from planted import MOTIF_A, MOTIF_B, aligned_pearson, log_odds, model_with, motif_probs, planted_codes, source_for


def test_filter_set_to_log_odds_recovers_the_motif():
    rng = np.random.default_rng(0)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa])
    model = model_with(log_odds(pa)[None])
    sites = filter_counts(model, source_for(codes), np.arange(len(codes)), frac=0.5, batch_size=64)
    pwms, bounds = filter_pwms(sites, "dna", min_sites=10, trim_bits=0.3)
    assert pwms[0] is not None and sites.n_sites[0] >= 100
    r, overlap = aligned_pearson(pwms[0].probs, pa)
    assert overlap >= 8 and r > 0.9
    # both strands counted, read 5'->3' on the strand where the filter fired
    assert consensus(pwms[0].probs, DNA) == MOTIF_A[bounds[0, 0]:bounds[0, 1]]


def test_filter_counts_are_the_same_with_activations_kept_or_computed_again():
    import dataclasses

    rng = np.random.default_rng(6)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa], n=100)
    model = model_with(np.stack([log_odds(pa), log_odds(motif_probs(MOTIF_B))]))
    runs = [filter_counts(model, source_for(codes), np.arange(100), batch_size=32, keep_bytes=k)
            for k in (2 ** 28, 0, 32 * 2 * 91 * 4 * 2 * 2)]  # all kept, none, the first two batches
    for other in runs[1:]:
        for f in dataclasses.fields(runs[0]):
            assert np.array_equal(getattr(runs[0], f.name), getattr(other, f.name), equal_nan=True), f.name


def test_too_few_sites_gives_no_pwm():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(20, 60)).astype(np.uint8)
    w = np.zeros((1, 4, 8), dtype=np.float32)
    w[0, 0, :] = 1.0  # an all-A detector on random sequence: only the A-runs pass
    model = model_with(w)
    sites = filter_counts(model, source_for(codes), np.arange(20), frac=0.99)
    pwms, _ = filter_pwms(sites, min_sites=10_000)
    assert pwms == [None] and sites.n_sites[0] < 10_000
