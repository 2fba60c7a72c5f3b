"""The k-mer baseline (seqfm.baseline): what a CNN is measured against in metrics.json.

What a user relies on: it finds a planted motif that composition alone cannot give away, stays at
chance on labels that mean nothing, counts k-mers as a direct count does (strand-symmetric for
DNA, windows with an ambiguity code left out), and meets degenerate input without crashing.
"""

import numpy as np
import pytest

from seqfm import baseline, metrics
from seqfm.alphabet import DNA, PROTEIN

MOTIF = "TGACGTCA"


def planted_vs_shuffled(n=150, length=40, seed=0):
    """Positives: random DNA with MOTIF planted once; negatives: the positives' letters shuffled
    (same composition, motif destroyed). Returns codes ``(2n, L)``, labels ``(2n,)``, split."""
    rng = np.random.default_rng(seed)
    motif = DNA.encode(MOTIF)
    pos = rng.integers(0, 4, (n, length)).astype(np.uint8)
    for row in pos:
        start = rng.integers(0, length - len(motif) + 1)
        row[start:start + len(motif)] = motif
    neg = np.array([rng.permutation(row) for row in pos])
    codes = np.concatenate([pos, neg])
    labels = np.r_[np.ones(n), np.zeros(n)].astype(np.uint8)
    split = rng.choice(["train", "valid", "test"], size=2 * n, p=[0.6, 0.2, 0.2])
    return codes, labels, split


def fit_and_score(codes, labels, split, k):
    tr, va, te = (split == s for s in ("train", "valid", "test"))
    model = baseline.fit_baseline(codes[tr], labels[tr], codes[va], labels[va], DNA, k=k)
    return model, metrics.auroc(labels[te], model.decision_function(codes[te]))


def test_a_planted_motif_is_found_where_composition_says_nothing():
    codes, labels, split = planted_vs_shuffled()
    model, auroc = fit_and_score(codes, labels, split, k=5)
    assert auroc > 0.9
    assert model.k == 5 and model.l2 in baseline.L2_GRID


def test_labels_that_mean_nothing_stay_at_chance():
    codes, labels, split = planted_vs_shuffled(seed=1)
    noise = np.random.default_rng(2).permutation(labels)
    _, auroc = fit_and_score(codes, noise, split, k=3)
    assert abs(auroc - 0.5) < 0.15


def test_dna_scores_do_not_depend_on_the_strand():
    codes, labels, split = planted_vs_shuffled(n=100, seed=3)
    model, _ = fit_and_score(codes, labels, split, k=4)
    revcomp = DNA.complement_codes()[codes][:, ::-1]
    np.testing.assert_allclose(model.decision_function(revcomp), model.decision_function(codes))


def test_kmer_counts_against_direct_count():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), 25, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for _ in range(5)]
    codes = DNA.encode_batch(seqs)
    counts = baseline.kmer_counts(codes, DNA, 3, canonical=True)
    _, names = baseline.kmer_index_map(DNA, 3, canonical=True)
    comp = str.maketrans("ACGT", "TGCA")
    for row, s in enumerate(seqs):
        direct = {}
        for i in range(len(s) - 2):
            kmer = s[i:i + 3]
            if "N" in kmer:
                continue
            key = min(kmer, kmer.translate(comp)[::-1])
            direct[key] = direct.get(key, 0) + 1
        assert {n: c for n, c in zip(names, counts[row]) if c} == direct


def test_protein_kmers_are_not_pooled_by_strand():
    codes = PROTEIN.encode_batch(["MKVLA", "AKLVM"])
    counts = baseline.kmer_counts(codes, PROTEIN, baseline.DEFAULT_K["protein"])
    assert counts.shape == (2, 20 ** 2) and counts.sum(axis=1).tolist() == [4, 4]
    _, names = baseline.kmer_index_map(PROTEIN, 2, canonical=False)
    assert counts[0, names.index("MK")] == 1 and counts[1, names.index("MK")] == 0


def test_sequences_shorter_than_k_give_a_flat_model_not_a_crash():
    codes = np.random.default_rng(4).integers(0, 4, (40, 3)).astype(np.uint8)
    labels = np.tile([0, 1], 20)
    assert not baseline.kmer_counts(codes, DNA, 5).any()
    model = baseline.fit_baseline(codes[:30], labels[:30], codes[30:], labels[30:], DNA, k=5)
    scores = model.decision_function(codes[30:])
    assert np.isfinite(scores).all() and np.ptp(scores) == 0  # no evidence: one score for all


def test_a_validation_split_of_one_class_still_gives_a_model():
    codes, labels, split = planted_vs_shuffled(n=150, seed=5)
    tr, te = split == "train", split == "test"
    valid = np.flatnonzero(labels == 1)[:20]  # positives only: no AUROC to pick the L2 strength
    model = baseline.fit_baseline(codes[tr], labels[tr], codes[valid], labels[valid], DNA, k=5)
    assert model.l2 == baseline.L2_GRID[len(baseline.L2_GRID) // 2]
    assert metrics.auroc(labels[te], model.decision_function(codes[te])) > 0.8


def test_an_unfitted_baseline_says_so():
    with pytest.raises(RuntimeError, match="fit the baseline first"):
        baseline.KmerLogistic(DNA).decision_function(np.zeros((1, 10), np.uint8))
