"""The scan's null: seeded genome windows free of N, the same for every shard, and a null built
on shuffled copies that calls nothing where nothing is planted."""

import numpy as np
import torch

from seqfm import scan_null, scanner
from seqfm.alphabet import DNA
from seqfm.io import Genome
from seqfm.model import SeqCNN

from conftest import random_dna
from scanning import background, genome_fasta, motif_model, plant


def test_null_windows_are_seeded_free_of_n_and_in_proportion(tmp_path):
    rng = np.random.default_rng(3)
    seqs = {"chr1": random_dna(rng, 30_000), "chr2": random_dna(rng, 10_000)}
    seqs["chr1"] = seqs["chr1"][:10_000] + "N" * 5000 + seqs["chr1"][15_000:]
    genome = Genome(genome_fasta(tmp_path, seqs))
    wins = scan_null.sample_null_windows(genome, ["chr1", "chr2"], 8000, 500, seed=1, alphabet=DNA)
    assert wins == scan_null.sample_null_windows(genome, ["chr1", "chr2"], 8000, 500, 1, DNA)
    assert wins != scan_null.sample_null_windows(genome, ["chr1", "chr2"], 8000, 500, 2, DNA)
    assert len(wins) == 16 and all(e - s == 500 for _, s, e in wins)
    for chrom, s, e in wins:
        assert 0 <= s < e <= len(seqs[chrom]) and seqs[chrom][s:e].count("N") <= 5
    assert {c for c, _, _ in wins} == {"chr1", "chr2"}
    # a null asked for more than the genome: the whole of it, window by window, N blocks left out
    whole = scan_null.sample_null_windows(genome, ["chr1", "chr2"], 10**6, 5000, 1, DNA)
    assert whole == [("chr1", 0, 5000), ("chr1", 5000, 10000), ("chr1", 15000, 20000),
                     ("chr1", 20000, 25000), ("chr1", 25000, 30000), ("chr2", 0, 5000),
                     ("chr2", 5000, 10000)]


def test_null_shuffles_the_sites_away_and_is_seeded():
    """The null scans dinucleotide-shuffled copies of its windows: exact motif sites planted
    every 400 bases leave no filter peak in it, and the same seed gives the same null."""
    codes = background(6000, seed=4)
    for pos in range(100, 5900, 400):
        codes = plant(codes, pos)
    src = [scanner.ArraySource("w", codes)]
    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=1000))
    null = scan_null.build_null(sc, src, sc.config)
    assert null.info["bases"] == 6000 and null.info["windows"] == 1 and null.info["seed"] == 1
    assert len(null.null.values[0]) == 0  # filter 0: no exact site survives the shuffle
    again = scan_null.build_null(sc, src, sc.config)
    assert all(np.array_equal(a, b) for a, b in zip(null.null.values, again.null.values))
    # another seed, other shuffles: a model with random weights peaks elsewhere
    torch.manual_seed(0)
    model = SeqCNN({"n_filters": 4, "filter_width": 8, "dropout": 0.0}).eval()
    peaks = [scan_null.build_null(scanner.Scanner(model, {}, scanner.ScanConfig(tile=1000, seed=s)), src,
                                  scanner.ScanConfig(tile=1000, seed=s)).null.values[0] for s in (1, 1, 2)]
    assert len(peaks[0]) > 10 and np.array_equal(peaks[0], peaks[1]) and not np.array_equal(peaks[0], peaks[2])
