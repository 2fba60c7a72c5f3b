"""Tests of the simulated DNA example data (seqfm.simulate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqfm import simulate as sim
from seqfm.errors import InputError

SMALL = dict(genome_size=600_000, n_chroms=3, n_positives=300, n_decoys=300, n_gaps=2)
FILES = ["genome.fa", "genome.fa.fai", "positives.bed", "positives.narrowPeak", "truth.bed",
         "decoys.bed", "decoy_elements.bed", "conservation.bw", "conservation.bedGraph",
         "simulate.json"]
CODE = {c: i for i, c in enumerate("ACGT")}
COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "a"
    sim.simulate(out, seed=3, bedgraph=True, **SMALL)
    return out


@pytest.fixture(scope="module")
def motifs() -> dict[str, sim.Motif]:
    return {m.matrix_id: m for m in sim.load_jaspar_motifs(sim.DEFAULT_MOTIFS)}


def read_bed(path: Path, names: list[str]) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", comment="#", header=None, names=names)


def truth(out: Path) -> pd.DataFrame:
    header = (out / "truth.bed").open().readline()
    assert header.startswith("#")
    return read_bed(out / "truth.bed", header[1:].split())


def positives(out: Path) -> pd.DataFrame:
    return read_bed(out / "positives.bed", ["chrom", "start", "end", "name", "score", "strand"])


def pwm_score(motif: sim.Motif, seqs: list[str]) -> np.ndarray:
    codes = np.array([[CODE[c] for c in s.upper()] for s in seqs])
    return motif.log_odds()[np.arange(motif.width), codes].sum(axis=1)


def test_files_and_truth_header(small):
    assert sorted(p.name for p in small.iterdir()) == sorted(FILES)
    assert (small / "truth.bed").open().readline().rstrip("\n") == \
        "#chrom\tstart\tend\tname\tscore\tstrand\tmatrix_id\tmotif\tregion"
    info = json.loads((small / "simulate.json").read_text())
    assert info["counts"]["positives"] == 300 and info["counts"]["decoys"] == 300
    assert {m["matrix_id"] for m in info["motifs"]} == set(sim.DEFAULT_MOTIFS)
    assert info["sites_within_100bp_of_summit"] >= 0.9


def test_planted_sites_score_high(small, motifs):
    import pyfaidx

    genome = pyfaidx.Fasta(str(small / "genome.fa"))
    t = truth(small)
    rng = np.random.default_rng(0)
    for mid, rows in t.groupby("matrix_id"):
        motif = motifs[mid]
        seqs = [str(genome[c][s:e]) for c, s, e in zip(rows.chrom, rows.start, rows.end)]
        assert all(s == s.upper() for s in seqs)
        fwd = [s.translate(COMPLEMENT)[::-1] if st == "-" else s
               for s, st in zip(seqs, rows.strand)]
        assert fwd == list(rows.motif)
        planted = pwm_score(motif, fwd)
        own = np.percentile(pwm_score(motif, ["".join("ACGT"[i] for i in c)
                                              for c in sim.sample_instances(motif, 2000, rng)]), 5)
        background = pwm_score(motif, ["".join(rng.choice(list("ACGT"), motif.width))
                                       for _ in range(2000)])
        assert np.mean(planted >= own) >= 0.9
        assert planted.mean() > background.mean() + 8
        assert np.median(planted) > np.percentile(background, 99)


def test_composition(small):
    import pyfaidx

    genome = pyfaidx.Fasta(str(small / "genome.fa"))
    seq = "".join(str(genome[c][:]) for c in genome.keys()).upper()
    n = {b: seq.count(b) for b in "ACGTN"}
    acgt = n["A"] + n["C"] + n["G"] + n["T"]
    gc = (n["C"] + n["G"]) / acgt
    cpg_oe = seq.count("CG") * acgt / (n["C"] * n["G"])
    assert 0.39 <= gc <= 0.43
    assert cpg_oe < 0.35
    raw = "".join(str(genome[c][:]) for c in genome.keys())
    assert 0.01 < sum(ch.islower() for ch in raw) / len(raw) < 0.15
    assert n["N"] >= 2000
    assert len(genome.keys()) == 3 and len({len(genome[c]) for c in genome.keys()}) == 3


def test_regions_layout(small):
    import pyfaidx

    genome = pyfaidx.Fasta(str(small / "genome.fa"))
    pos = positives(small)
    dec = read_bed(small / "decoys.bed", ["chrom", "start", "end", "name", "score", "strand"])
    both = pd.concat([pos, dec]).sort_values(["chrom", "start"])
    for _, g in both.groupby("chrom"):
        assert (g.start.values[1:] >= g.end.values[:-1]).all()
    lengths = pos.end - pos.start
    assert lengths.between(200, 500).all() and lengths.nunique() > 50
    assert list(pos.name[:2]) == ["peak_00001", "peak_00002"]
    order = {c: i for i, c in enumerate(genome.keys())}
    key = pos.chrom.map(order) * 10**9 + pos.start
    assert key.is_monotonic_increasing
    for c, s, e in zip(both.chrom, both.start, both.end):
        assert "N" not in str(genome[c][s:e]).upper()
    t = truth(small)
    region = pos.set_index("name").loc[t.region]
    assert (t.chrom.values == region.chrom.values).all()
    assert (t.start.values >= region.start.values + 20).all()
    assert (t.end.values <= region.end.values - 20).all()
    per_region = t.region.value_counts()
    assert per_region.max() == 2 and 0.2 < (per_region == 2).mean() < 0.4
    pairs = t[t.region.duplicated(keep=False)].groupby("region").matrix_id.nunique()
    assert (pairs == 2).all()


def test_decoy_elements(small, motifs):
    """decoy_elements.bed: the conserved site-shaped elements inside the decoy regions, with
    no planted motif, raised in conservation like the planted sites, listed in simulate.json."""
    import pyBigWig

    header = (small / "decoy_elements.bed").open().readline()
    assert header.rstrip("\n") == "#chrom\tstart\tend\tname\tscore\tstrand\tshaped_like\tregion"
    el = read_bed(small / "decoy_elements.bed", header[1:].split())
    dec = read_bed(small / "decoys.bed", ["chrom", "start", "end", "name", "score", "strand"])
    info = json.loads((small / "simulate.json").read_text())
    assert "decoy_elements.bed" in info["files"] and "decoys.bed" in info["files"]
    assert len(el) == info["counts"]["decoy_conserved_elements"]
    assert el.name.is_unique and set(el.region) == set(dec.name)
    assert set(el.name.str.rsplit(".", n=1).str[0]) == set(dec.name)
    region = dec.set_index("name").loc[el.region]
    assert (el.chrom.values == region.chrom.values).all()
    assert (el.start.values >= region.start.values + 20).all()
    assert (el.end.values <= region.end.values - 20).all()
    widths = {m.name: m.width for m in motifs.values()}
    assert ((el.end - el.start) == el.shaped_like.map(widths)).all()
    assert set(el.strand) == {"+", "-"} and (el.score == 0).all()
    per_region = el.region.value_counts()
    assert per_region.max() == 2 and 0.2 < (per_region == 2).mean() < 0.4
    # conserved like planted sites, and no planted site among them
    bw = pyBigWig.open(str(small / "conservation.bw"))
    elem = np.mean([np.nanmean(bw.values(c, s, e, numpy=True))
                    for c, s, e in zip(el.chrom, el.start, el.end)])
    t = truth(small)
    site = np.mean([np.nanmean(bw.values(c, s, e, numpy=True))
                    for c, s, e in zip(t.chrom, t.start, t.end)])
    assert elem > 2 and abs(elem - site) < 0.3
    key = set(zip(t.chrom, t.start))
    assert not any((c, s) in key for c, s in zip(el.chrom, el.start))


def test_narrowpeak_summit(small):
    peaks = pd.read_csv(small / "positives.narrowPeak", sep="\t", header=None)
    assert peaks.shape[1] == 10
    t = truth(small)
    single = t[~t.region.duplicated(keep=False)].set_index("region")
    peaks = peaks.set_index(3)
    centre = single.start + (single.end - single.start) // 2
    assert ((peaks.loc[single.index, 1] + peaks.loc[single.index, 9]) == centre).all()
    pairs = t.region[t.region.duplicated()].unique()
    width = peaks.loc[pairs, 2] - peaks.loc[pairs, 1]
    assert len(pairs) > 0 and (peaks.loc[pairs, 9] == width // 2).all()


def test_fasta_index(small):
    fai = pd.read_csv(small / "genome.fa.fai", sep="\t", header=None)
    assert list(fai[0]) == ["chr1", "chr2", "chr3"]
    assert (fai[3] == 60).all() and (fai[4] == 61).all()
    assert fai[1].is_monotonic_decreasing and 600_000 - 3 <= fai[1].sum() <= 600_000


def test_conservation(small):
    import pyBigWig

    bw = pyBigWig.open(str(small / "conservation.bw"))
    t = truth(small)
    site = np.mean([np.nanmean(bw.values(c, s, e, numpy=True))
                    for c, s, e in zip(t.chrom, t.start, t.end)])
    chrom, length = next(iter(bw.chroms().items()))
    back = np.nanmean(bw.values(chrom, 0, length, numpy=True))
    assert site > back + 2
    dec = read_bed(small / "decoys.bed", ["chrom", "start", "end", "name", "score", "strand"])
    pos = positives(small)

    def best_window(table):  # best 12-bp mean per region, and the mean over the 200 bp core
        best, core = [], []
        for c, s, e in zip(table.chrom, table.start, table.end):
            v = bw.values(c, s, e, numpy=True)
            best.append(np.convolve(v, np.ones(12) / 12, mode="valid").max())
            mid = (s + e) // 2 - s
            core.append(v[max(mid - 100, 0): mid + 100].mean())
        return np.mean(best), np.mean(core)

    (pos_best, pos_core), (dec_best, dec_core) = best_window(pos), best_window(dec)
    assert dec_best > back + 2 and pos_best > back + 2
    assert abs(pos_best - dec_best) < 0.3 and abs(pos_core - dec_core) < 0.1
    bg = pd.read_csv(small / "conservation.bedGraph", sep="\t", header=None,
                     names=["chrom", "start", "end", "value"])
    sub = bg[bg.chrom == chrom].head(1000)
    expect = bw.values(chrom, int(sub.start.iloc[0]), int(sub.end.iloc[-1]), numpy=True)
    got = np.repeat(sub.value.values, sub.end - sub.start)
    np.testing.assert_allclose(got, expect, atol=1e-6)


def test_seed_reproducible(tmp_path, small):
    sim.simulate(tmp_path / "same", seed=3, bedgraph=True, **SMALL)
    sim.simulate(tmp_path / "other", seed=4, bedgraph=True, **SMALL)
    for name in FILES:
        assert (tmp_path / "same" / name).read_bytes() == (small / name).read_bytes(), name
    for name in ["genome.fa", "positives.bed", "truth.bed", "conservation.bw"]:
        assert (tmp_path / "other" / name).read_bytes() != (small / name).read_bytes(), name


def test_bad_motif_id(tmp_path):
    with pytest.raises(InputError, match="MA9999.9.*not in JASPAR2026"):
        sim.simulate(tmp_path / "x", motifs=["MA0139.2", "MA9999.9"], **SMALL)
    with pytest.raises(InputError, match="not a JASPAR matrix id"):
        sim.load_jaspar_motifs(["CTCF"])
    assert not (tmp_path / "x").exists()


def test_cli_bad_motif_one_line(tmp_path, capsys):
    from seqfm.cli import main

    rc = main(["simulate", "--out", str(tmp_path / "x"), "--motifs", "MA0139.2,MA9999.9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "MA9999.9" in err[0]


def test_streamed_in_pieces_same_bytes(tmp_path, small, monkeypatch):
    # the genome is drawn and written a piece at a time: pieces that cut through lines,
    # Markov chunks, a planted site, conserved elements and bedGraph runs change no byte
    t = truth(small)
    site = t[(t.chrom == "chr1") & (t.start > 100_000)].iloc[0]
    monkeypatch.setattr(sim, "PIECE_BASES", int(site.start) + 5)  # cuts through that site
    sim.simulate(tmp_path / "pieces", seed=3, bedgraph=True, **SMALL)
    for name in FILES:
        assert (tmp_path / "pieces" / name).read_bytes() == (small / name).read_bytes(), name


def test_markov_chain_any_stretch():
    whole = sim.dna_markov_sequence(50_000, np.random.default_rng(5), chunk=700, block=3)
    chain = sim.MarkovChain(50_000, np.random.default_rng(5), chunk=700, block=3)
    for a, b in [(0, 50_000), (1, 699), (699, 701), (12_345, 40_001), (49_999, 50_000)]:
        np.testing.assert_array_equal(chain.codes(a, b), whole[a:b])
    rng = np.random.default_rng(5)
    sim.MarkovChain(50_000, rng, chunk=700, block=3)  # leaves rng as the whole draw would
    ref = np.random.default_rng(5)
    ref.permutation(np.resize(np.arange(4), -(-72 // 3)))
    ref.random((700, 72))
    assert rng.random() == ref.random()


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sim.BigWigWriter, "add", boom)
    with pytest.raises(OSError):
        sim.simulate(tmp_path / "y", **SMALL)
    assert list((tmp_path / "y").iterdir()) == []


def test_transitions_hit_targets():
    trans = sim.dna_transitions(0.41, 0.22)
    p = np.array([0.295, 0.205, 0.205, 0.295])
    np.testing.assert_allclose(p @ trans, p, atol=1e-9)
    np.testing.assert_allclose(p[1] * trans[1, 2] / (p[1] * p[2]), 0.22, rtol=1e-6)


@pytest.mark.parametrize("options, message", [
    (dict(min_length=40), "--min-length 40 leaves no room"),
    (dict(genome_size=150_000, n_positives=2000), "larger --genome-size"),
    (dict(jaspar_release="JASPAR1999"), "not a pyjaspar release"),
    (dict(motifs=["MA0139.2", "MA0139.2"]), "distinct"),
])
def test_bad_options(tmp_path, options, message):
    with pytest.raises(InputError, match=message):
        sim.simulate(tmp_path / "z", **{**SMALL, **options})
    assert not (tmp_path / "z").exists() or not any((tmp_path / "z").iterdir())


def test_one_motif_no_decoys(tmp_path):
    info = sim.simulate(tmp_path / "one", motifs=["MA0047.4"], **{**SMALL, "n_decoys": 0})
    assert info["counts"]["sites"] == 300 and info["counts"]["two_motif_regions"] == 0
    assert (tmp_path / "one" / "decoys.bed").read_text() == ""
    assert (tmp_path / "one" / "decoy_elements.bed").read_text() == \
        "#chrom\tstart\tend\tname\tscore\tstrand\tshaped_like\tregion\n"
    assert not (tmp_path / "one" / "conservation.bedGraph").exists()
