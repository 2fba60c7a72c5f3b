"""Planted motifs for the tests: sequences holding sampled sites, and models whose first-layer
filters are set to a motif's log-odds."""

import numpy as np
import torch

from seqfm import model as model_mod
from seqfm.alphabet import DNA
from seqfm.batching import BatchSource
from seqfm.pwm import motif_similarity, reverse_complement_matrix


MOTIF_A = "AGGTCATGCA"   # not a palindrome: its two strands differ


MOTIF_B = "TTACGGAATC"


def motif_probs(consensus, top=0.85):
    p = np.full((len(consensus), 4), (1 - top) / 3)
    for i, ch in enumerate(consensus):
        p[i, "ACGT".index(ch)] = top
    return p


def planted_codes(rng, probs_list, n=300, length=100):
    """Random sequences, each holding one sampled instance of one motif (random strand)."""
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    which = np.arange(n) % len(probs_list)
    comp = DNA.complement_codes()[:4]
    for i in range(n):
        p = probs_list[which[i]]
        site = np.array([rng.choice(4, p=row) for row in p], dtype=np.uint8)
        if rng.random() < 0.5:
            site = comp[site][::-1]
        pos = rng.integers(0, length - len(p))
        codes[i, pos:pos + len(p)] = site
    return codes, which


def model_with(weights, arch_extra=None):
    """A strand-aware DNA SeqCNN whose first filters are set to ``weights`` (F, 4, W)."""
    w = np.asarray(weights, dtype=np.float32)
    arch = {"alphabet": "dna", "n_filters": w.shape[0], "filter_width": w.shape[2], "dropout": 0.0}
    arch.update(arch_extra or {})
    torch.manual_seed(0)
    m = model_mod.SeqCNN(arch)
    with torch.no_grad():
        m.conv1.weight.zero_()
        m.conv1.weight[:, :4] = torch.from_numpy(w)
        m.conv1.bias.zero_()
    return m.eval()


def log_odds(probs):
    return np.log2(probs / 0.25).T  # (4, W)


def source_for(codes):
    tracks = np.zeros((len(codes), 0, codes.shape[1]), dtype=np.float16)
    labels = np.ones(len(codes), dtype=np.float32)
    return BatchSource(codes, tracks, labels, torch.device("cpu"), DNA, "uniform")


def aligned_pearson(est, truth):
    """Pearson r of the flattened matrices at the estimate's best alignment to the truth."""
    _, off, strand = motif_similarity(truth, est, DNA)
    e = reverse_complement_matrix(est, DNA) if strand else est
    lo, hi = max(0, off), min(len(truth), off + len(e))
    return np.corrcoef(truth[lo:hi].ravel(), e[lo - off:hi - off].ravel())[0, 1], hi - lo
