"""A call means sequence evidence: conserved DNA without a motif is not called, a motif beside
it is; negatives that conservation alone cannot separate."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import conservation, io, negatives, scan_null, scanner, shards, significance, sites
from seqfm import dataset as D
from seqfm.alphabet import DNA
from seqfm.model import SeqCNN
from seqfm.significance import NullModel

from conftest import random_dna
from scanning import MOTIF, WIDTH, background

BOOST = 4.0  # the track's value over a conserved block


def conserved_motif_model() -> SeqCNN:
    """Filter 0: MOTIF's log-odds (+2 match, -1 mismatch) whose response a conserved window
    raises by 15 (the track weighs 15 / (4 W) per column): conservation alone lifts random
    sequence far above zero, as filters trained on conserved positives do. Filter 1 never
    fires. Head weights 1. A concat first layer: a gated one cannot be lifted this way."""
    m = SeqCNN({"n_filters": 2, "filter_width": WIDTH, "n_tracks": 1, "dropout": 0.0,
                "first_layer": "concat"})
    with torch.no_grad():
        w = torch.full((2, 5, WIDTH), -1.0)
        for k, letter in enumerate(MOTIF):
            w[0, "ACGT".index(letter), k] = 2.0
        w[0, 4] = 15.0 / (BOOST * WIDTH)
        w[1, 4] = 0.0
        m.conv1.weight.copy_(w)
        m.conv1.bias.copy_(torch.tensor([-12.0, -100.0]))
        m.head.weight.fill_(1.0)
        m.head.bias.zero_()
    return m.eval()


def conserved_genome(length=200_000, n_blocks=100, block=40, seed=6):
    """Random DNA with ``n_blocks`` conserved blocks (track BOOST over ``block`` bases, plus
    noise everywhere); MOTIF is planted in the middle of every other block. Returns codes, track, the blocks
    with a motif and the blocks without, as (start, end) arrays."""
    codes = background(length, seed=seed)
    track = np.random.default_rng(seed).normal(0, 0.3, length).astype(np.float32)
    starts = np.linspace(1000, length - 1000, n_blocks).astype(int)
    for s in starts:
        track[s:s + block] += BOOST
    motif = DNA.encode(MOTIF)
    with_motif = starts[::2]
    for s in with_motif:
        codes[s + 15:s + 15 + WIDTH] = motif
    return codes, track, with_motif, starts[1::2]


def _hits(starts, ends, blocks, block=40):
    return np.array([((starts < b + block) & (ends > b)).any() for b in blocks])


@pytest.mark.parametrize("engine", ["fused", "torch"])
def test_genome_scan_calls_motifs_not_conserved_blocks(tmp_path, engine):
    codes, track, with_motif, without = conserved_genome()
    src = scanner.ArraySource("chr1", codes, track[None])
    sc = scanner.Scanner(conserved_motif_model(), {}, scanner.ScanConfig(tile=5000, engine=engine,
                                                                     merge="none"))
    null = scan_null.build_null(sc, [src], sc.config)
    assert null.n_strata == len(significance.DEFAULT_STRATA) + 1
    shards.scan_sources(sc, [src], null, tmp_path, {"chr1": len(codes)})
    bed = pd.read_csv(tmp_path / "sites.bed", sep="\t")
    for detector in ("filter_0", "cam"):
        calls = bed[bed["detector"] == detector]
        s, e = calls["start"].to_numpy(), calls["end"].to_numpy()
        assert _hits(s, e, with_motif).mean() >= 0.9, detector  # the motifs beside them
        # conserved, no motif: called no more often than the FDR allows (a null that loses
        # the track's positions calls most of them, see the next test)
        assert _hits(s, e, without).sum() <= 0.1 * len(calls), detector


def test_a_null_that_permutes_the_track_would_call_conserved_blocks():
    """The same model judged against a null whose track lost its positions: conserved random
    sequence looks significant (what the null with tracks in place prevents)."""
    codes, track, _, without = conserved_genome()
    sc = scanner.Scanner(conserved_motif_model(), {}, scanner.ScanConfig(tile=5000, strata=()))
    permuted = np.random.default_rng(1).permutation(track)
    null = scan_null.build_null(sc, [scanner.ArraySource("n", codes, permuted[None])], sc.config)
    res = list(sc.scan(scanner.ArraySource("chr1", codes, track[None]), None))
    det, pos, value = (np.concatenate([r[k] for r in res]) for k in ("det", "pos", "value"))
    p = null.pvalues(det[det == 0], value[det == 0])
    called = pos[det == 0][p < 1e-3]
    assert _hits(called, called + WIDTH, without).mean() > 0.5


def test_test_set_sites_call_motifs_not_conserved_blocks(tmp_path):
    rng = np.random.default_rng(5)
    n, length = 60, 100
    codes = np.stack([DNA.encode(random_dna(rng, length)) for _ in range(n)])
    tracks = np.zeros((n, 1, length), np.float16)
    tracks[:, 0, 30:70] = BOOST  # every sequence holds a conserved block
    motif = DNA.encode(MOTIF)
    codes[: n // 2, 45:45 + WIDTH] = motif  # half of the blocks hold the motif
    meta = pd.DataFrame({"name": [f"s{i}" for i in range(n)], "chrom": "", "start": 0, "end": 0,
                         "strand": ".", "label": 1, "split": "test"})
    ds = D.Dataset(codes=codes.astype(np.uint8), tracks=tracks, labels=np.ones(n, np.uint8),
                   meta=meta, info={"alphabet": "dna", "policy": "uniform", "tracks": ["cons"]})
    sc = sites.call_sites(conserved_motif_model(), ds, sites.SitesConfig(null_copies=10, seed=2))
    for det in (0, -1):  # filter calls and CAM calls
        rows = set(sc.calls.loc[sc.calls["detector"] == det, "row"])
        assert len(rows & set(range(n // 2))) >= 0.9 * n // 2
        assert len(rows & set(range(n // 2, n))) <= 0.1 * len(rows), det


def test_strata_and_stratified_bh():
    means = np.arange(1000, dtype=float)
    edges = significance.strata_edges(means, (0.5, 0.9))
    assert np.allclose(edges, [499.5, 899.1])
    assert significance.stratum_of([0, 600, 950], edges).tolist() == [0, 1, 2]
    # BH within each (family, stratum): m of that stratum only
    p = np.array([0.001, 0.001, 0.02])
    q = significance.stratified_bh(p, np.zeros(3, int), np.array([0, 1, 1]),
                                   np.array([[1000.0, 10.0]]))
    assert np.allclose(q, [1.0, 0.01, 0.1])


def test_shuffled_negatives_keep_their_source_track_in_place():
    table = pd.DataFrame({"name": ["p1", "p2", "shuffle_1_p2"], "source": ["", "", "p2"]})
    out = np.zeros((3, 1, 6), np.float16)
    out[1, 0] = [0, 1, 2, 3, 4, 5]
    conservation.tracks_for_shuffles(out, table)
    assert out[2, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_background_negatives_follow_the_positives_track(tmp_path):
    """Positives sit on conserved elements that cover a tenth of the genome: GC-only background
    is rarely conserved, background matched on the track is as conserved as the positives."""
    rng = np.random.default_rng(7)
    size, n_elem, elem, width = 400_000, 60, 600, 200
    seq = random_dna(rng, size)
    (tmp_path / "g.fa").write_text(">chr1\n" + seq + "\n")
    starts = np.sort(rng.choice(np.arange(0, size - elem, 2 * elem), n_elem, replace=False))
    rows = [f"chr1\t{s}\t{s + elem}\t2.0" for s in starts]
    (tmp_path / "cons.bedGraph").write_text("\n".join(rows) + "\n")
    genome, track = io.Genome(tmp_path / "g.fa"), io.Track(tmp_path / "cons.bedGraph")
    centre = starts[:40] + (elem - width) // 2  # positives in the middle of 40 elements
    pos = pd.DataFrame({"chrom": "chr1", "start": centre, "end": centre + width})
    codes = DNA.encode_batch([seq[s:s + width] for s in pos["start"]])
    gc = negatives.gc_fraction(codes)
    plain = negatives.gc_matched_background(genome, pos, width, gc, seed=1)
    matched = negatives.gc_matched_background(genome, pos, width, gc, seed=1, tracks=[track])
    def track_mean(bg):
        return negatives.track_means([track], bg["chrom"], bg["start"], bg["end"]).mean()
    assert track_mean(pos) == pytest.approx(2.0)
    assert track_mean(plain) < 0.6
    assert track_mean(matched) > 1.6
    assert abs(negatives.gc_fraction(DNA.encode_batch(
        [seq[s:s + width] for s in matched["start"]])).mean() - gc.mean()) < 0.03


def test_null_tail_and_thresholds():
    rng = np.random.default_rng(0)
    vals = [np.sort(rng.exponential(1.0, 20000)).astype(np.float32)]
    null = significance.ScanNull.fit(NullModel(vals, np.array([40000]), np.array([0.0])), tail_fraction=0.01)
    assert np.isfinite(null.tail_u[0]) and null.tail_scale[0] == pytest.approx(1.0, rel=0.2)
    x = np.array([0.5, 3.0, 8.0, 20.0])
    p = null.pvalues(np.zeros(4, np.int64), x)
    assert (np.diff(p) < 0).all() and p[-1] < 1e-6  # beyond the null's range, still ordered
    for q in (0.5, 0.01, 1e-3, 1e-7):
        t = null.thresholds(q)[0]
        assert null.pvalues(np.zeros(1, np.int64), np.array([t * 1.0001 + 1e-6]))[0] <= q
        assert null.pvalues(np.zeros(1, np.int64), np.array([t * 0.99 - 1e-3]))[0] > q or t <= 0


def test_null_pvalues_below_the_tail_are_the_empirical_ones():
    """Up to each detector's tail, p = (1 + #null >= x) / (1 + n), ties counted, as in the
    sites step; values at or below a detector's floor get 1."""
    rng = np.random.default_rng(1)
    vals = [np.sort(rng.normal(size=n).astype(np.float32)) for n in (300, 0, 50, 1000)]
    model = NullModel(vals, np.array([len(v) + 20 for v in vals]), np.array([0.0, 0.0, 0.0, -np.inf]))
    null = significance.ScanNull.fit(model, tail_fraction=0.01)
    det = rng.integers(0, 4, 5000)
    x = rng.normal(size=5000)
    x[:40] = vals[0][:40]  # exact ties with null values
    det[:40] = 0
    below = x <= null.tail_u[det]
    assert np.array_equal(null.pvalues(det, x)[below], model.pvalues(det, x)[below])
    want = np.array([1.0 if xi <= model.floors[d] else
                     (1.0 + np.count_nonzero(vals[d] >= xi)) / (1.0 + model.counts[d])
                     for d, xi in zip(det, x)])
    assert np.array_equal(model.pvalues(det, x), want)
    # searches that start at a lower bound of each detector's values (the scan's thresholds,
    # ties with null values included) give the same p-values
    above = np.array([vals[0][200], -np.inf, 0.3, np.float32(0.1)])
    at = x >= above[det]
    d2, x2 = np.append(det[at], 0), np.append(x[at], vals[0][200])  # a value at its bound
    want2 = np.append(want[at], (1.0 + np.count_nonzero(vals[0] >= vals[0][200]))
                      / (1.0 + model.counts[0]))
    assert at.sum() > 1000
    assert np.array_equal(model.pvalues(d2, x2, above), want2)
    assert np.array_equal(null.pvalues(d2, x2, above), null.pvalues(d2, x2))
    # detector 1: no null value above its floor among 20 peaks
    assert null.pvalues(np.ones(3, np.int64), np.array([-1.0, 0.0, 9.0])).tolist() == [1.0, 1.0, 1 / 21]
