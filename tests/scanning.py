"""A hand-set motif detector and sequences holding its exact sites, for the scan's tests."""

import numpy as np
import pandas as pd
import torch

from seqfm import significance
from seqfm.alphabet import DNA, reverse_complement_codes
from seqfm.model import SeqCNN
from seqfm.significance import NullModel

from conftest import random_dna

MOTIF = "GATTACAGCT"  # not its own reverse complement
WIDTH = len(MOTIF)


def motif_model(n_tracks: int = 0) -> SeqCNN:
    """Two filters set by hand: filter 0 is MOTIF's log-odds (+2 match, -1 mismatch) with a
    bias so that only an exact match is positive (activation 1); filter 1 never fires.
    Head weights 1, so the CAM is the sum of the strand maxima."""
    m = SeqCNN({"n_filters": 2, "filter_width": WIDTH, "n_tracks": n_tracks, "dropout": 0.0})
    with torch.no_grad():
        w = torch.full((2, 4 + n_tracks, WIDTH), -1.0)
        if n_tracks:
            w[:, 4:] = 0.0
        for k, letter in enumerate(MOTIF):
            w[0, "ACGT".index(letter), k] = 2.0
        w[1] = -1.0
        m.conv1.weight.copy_(w)
        m.conv1.bias.copy_(torch.tensor([-(2.0 * WIDTH) + 1.0, -1.0]))
        m.head.weight.fill_(1.0)
        m.head.bias.zero_()
    return m.eval()


def hand_null(n_filters: int, n: int = 10**6) -> significance.ScanNull:
    """A null in which any positive value is more extreme than all n null peaks."""
    values = [np.zeros(0, np.float32) for _ in range(n_filters + 1)]
    null = NullModel(values, np.full(n_filters + 1, n, np.int64), np.zeros(n_filters + 1))
    return significance.ScanNull.fit(null)


def background(length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = DNA.encode(random_dna(rng, length))
    assert MOTIF not in DNA.decode(codes) and MOTIF not in DNA.decode(reverse_complement_codes(codes))
    return codes


def plant(codes: np.ndarray, pos: int, reverse: bool = False) -> np.ndarray:
    site = DNA.encode(MOTIF)
    codes = codes.copy()
    codes[pos:pos + WIDTH] = reverse_complement_codes(site) if reverse else site
    return codes


def read_bed(path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t")
    df.columns = [c.lstrip("#") for c in df.columns]
    return df


def genome_fasta(tmp_path, seqs):
    fa = tmp_path / "genome.fa"
    with open(fa, "w") as f:
        for name, s in seqs.items():
            f.write(f">{name}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    return fa


ENGINES = ["torch", "fused"]
