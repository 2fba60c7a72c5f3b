"""Genome-wide scanning (seqfm.scan): tile edges, tiled vs whole scans, bigWig tracks, N,
shard merging and memory that does not grow with chromosome length."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import scan_calls, scan_null, scanner, shard_plan, shards, significance
from seqfm.alphabet import DNA, reverse_complement_codes
from seqfm.errors import InputError
from seqfm.model import SeqCNN, save
from seqfm.sites import NullModel

from conftest import ROOT, random_dna, run_cli

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


ENGINES = ["torch", "fused"]


@pytest.mark.parametrize("engine", ENGINES)
def test_site_across_tile_boundary_called_once(tmp_path, engine):
    codes = plant(plant(background(400), 45), 147, reverse=True)  # tiles of 50: edges at 50, 150
    cfg = scanner.ScanConfig(tile=50, batch_size=3, engine=engine, merge="none")
    sc = scanner.Scanner(motif_model(), {"policy": "uniform"}, cfg)
    src = scanner.ArraySource("seq1", codes)
    shards.scan_sources(sc, [src], hand_null(2), tmp_path, {"seq1": 400})
    bed = read_bed(tmp_path / "sites.bed")
    f0 = bed[bed["detector"] == "filter_0"].sort_values("start")
    assert list(zip(f0["start"], f0["end"], f0["strand"])) == [(45, 55, "+"), (147, 157, "-")]
    cam = bed[bed["detector"] == "cam"].sort_values("start")
    assert list(zip(cam["start"], cam["end"])) == [(45, 55), (147, 157)]
    assert (bed["detector"] == "filter_1").sum() == 0
    assert np.allclose(f0["activation"], 1.0)
    gff = (tmp_path / "sites.gff3").read_text().splitlines()
    assert gff[0] == "##gff-version 3" and len(gff) == 1 + len(bed)
    assert "\t46\t55\t" in gff[1]  # 1-based, inclusive


def _all_candidates(sc, src, thresholds=None):
    outs = list(sc.scan(src, thresholds))
    cols = {k: np.concatenate([o[k] for o in outs]) for k in ("pos", "det", "strand", "value")}
    order = np.lexsort((cols["det"], cols["pos"]))
    tests = sum(o["n_tests"] for o in outs)
    tracks = np.concatenate([t for o in outs for _, t in o["tracks"]], axis=1)
    return {k: v[order] for k, v in cols.items()}, tests, tracks


def _near_ties(a, b, half=4, tol=1e-5):
    """PyTorch's CPU convolutions round differently for differently shaped batches, so two
    neighbours of exactly equal value (a repeated k-mer) may be split either way. True when
    the runs differ, and only at such ties."""
    ka = set(zip(a["pos"].tolist(), a["det"].tolist()))
    kb = set(zip(b["pos"].tolist(), b["det"].tolist()))
    diff = ka ^ kb
    if not diff:
        return False
    assert len(diff) <= 0.01 * len(ka) + 2, len(diff)
    val = {**dict(zip(zip(a["pos"].tolist(), a["det"].tolist()), a["value"])),
           **dict(zip(zip(b["pos"].tolist(), b["det"].tolist()), b["value"]))}
    for p, d in diff:
        partners = [(q, d) for q in range(p - half, p + half + 1) if q != p and (q, d) in val]
        assert any(abs(val[k] - val[(p, d)]) <= tol for k in partners), (p, d)
    return True


@pytest.mark.parametrize("engine,dilated,n_tracks,layer", [
    ("torch", 2, 1, "concat"), ("torch", 0, 0, "concat"), ("fused", 0, 1, "concat"),
    ("torch", 2, 1, "gated"), ("fused", 0, 1, "gated")])
def test_tiled_scan_equals_whole_scan(engine, dilated, n_tracks, layer):
    torch.manual_seed(3)
    model = SeqCNN({"n_filters": 6, "filter_width": 9, "n_tracks": n_tracks, "first_layer": layer,
                    "dilated_layers": dilated, "dilated_channels": 8, "dropout": 0.0}).eval()
    rng = np.random.default_rng(5)
    codes = background(3001, seed=5)
    codes[1200:1350] = DNA.unknown_code  # a run of N
    codes[2000] = DNA.symbols.index("R")  # an IUPAC code (uniform policy)
    tracks = rng.normal(size=(n_tracks, len(codes))).astype(np.float32) if n_tracks else None
    src = scanner.ArraySource("s", codes, tracks)
    runs = []
    for tile, batch in ((100_000, 1), (64, 3), (97, 2)):
        sc = scanner.Scanner(model, {"policy": "uniform"}, scanner.ScanConfig(tile=tile, batch_size=batch, bin=1,
                                                                        engine=engine, tracks=["filter_2"]))
        runs.append(_all_candidates(sc, src))
    (whole, t_whole, trk_whole) = runs[0]
    assert len(whole["pos"]) > 50
    for cand, tests, trk in runs[1:]:
        if engine == "fused" or not _near_ties(cand, whole):
            for k in ("pos", "det", "strand"):
                assert np.array_equal(cand[k], whole[k]), k
            assert np.allclose(cand["value"], whole["value"], atol=1e-5)
            assert np.array_equal(tests, t_whole)
        assert np.array_equal(np.isnan(trk), np.isnan(trk_whole))
        assert np.allclose(np.nan_to_num(trk), np.nan_to_num(trk_whole), atol=1e-5)
    # nothing at a window that touches N, and no track values there
    pos = whole["pos"]
    assert not ((pos + 9 > 1200) & (pos < 1350)).any()
    assert np.isnan(trk_whole[:, 1200:1350]).all()


@pytest.mark.parametrize("width,n_tracks,layer", [(7, 1, "concat"), (8, 2, "concat"), (19, 1, "concat"),
                                                 (25, 0, "concat"), (8, 2, "gated"), (19, 1, "gated")])
# folded track weights of odd and even widths; letter triples summed at once (up to 21) and one
# at a time; both first layers
def test_fused_kernel_matches_torch(width, n_tracks, layer):
    torch.manual_seed(1)
    model = SeqCNN({"n_filters": 5, "filter_width": width, "n_tracks": n_tracks,
                    "first_layer": layer, "dropout": 0.0}).eval()
    codes = background(2500, seed=9)
    codes[100:160] = DNA.unknown_code
    codes[700] = DNA.symbols.index("Y")
    tr = np.random.default_rng(2).normal(size=(n_tracks, len(codes))).astype(np.float32)
    src = scanner.ArraySource("s", codes, tr)
    got = [_all_candidates(scanner.Scanner(model, {}, scanner.ScanConfig(tile=300, engine=e)), src)
           for e in ENGINES]
    (a, ta, ka), (b, tb, kb) = got
    for k in ("pos", "det", "strand"):
        assert np.array_equal(a[k], b[k])
    assert np.allclose(a["value"], b["value"], atol=1e-5)
    assert np.array_equal(ta, tb)
    assert np.allclose(np.nan_to_num(ka), np.nan_to_num(kb), atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 5, 33])
def test_fused_chunks_give_the_same_calls(monkeypatch, chunk):
    """The fused kernel decides a tile in chunks with a halo; ties of a repeated k-mer across a
    chunk edge keep the leftmost-tie rule."""
    torch.manual_seed(4)
    model = SeqCNN({"n_filters": 4, "filter_width": 7, "n_tracks": 1, "dropout": 0.0}).eval()
    codes = background(1500, seed=11)
    codes[600:640] = np.tile(codes[600:604], 10)  # equal neighbours: ties within every window
    codes[900:930] = DNA.unknown_code
    tr = np.random.default_rng(4).normal(size=(1, len(codes))).astype(np.float32)
    src = scanner.ArraySource("s", codes, tr)
    cfg = scanner.ScanConfig(tile=700, engine="fused", tracks=["filter_1"])
    whole = _all_candidates(scanner.Scanner(model, {}, cfg), src)
    monkeypatch.setattr(scanner, "FUSED_CHUNK", chunk)
    got = _all_candidates(scanner.Scanner(model, {}, cfg), src)
    for k in ("pos", "det", "strand"):
        assert np.array_equal(got[0][k], whole[0][k]), k
    assert np.array_equal(got[0]["value"], whole[0]["value"])
    assert np.array_equal(got[1], whole[1])
    assert np.array_equal(got[2], whole[2], equal_nan=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_full_candidate_buffer_raises_the_scan_thresholds(tmp_path, monkeypatch, engine):
    """Past ``max_candidates`` the scan stops returning what the buffer would drop: the kept
    candidates, their number of tests and the smallest dropped p are those of a scan that
    returns everything, and they are the smallest p-values of the full candidate set."""
    torch.manual_seed(5)
    model = SeqCNN({"n_filters": 4, "filter_width": 7, "dropout": 0.0}).eval()
    cfg = scanner.ScanConfig(tile=300, batch_size=1, engine=engine, q=0.5, max_candidates=20)
    sc = scanner.Scanner(model, {}, cfg)
    null = scan_null.build_null(sc, [scanner.ArraySource("n", background(4000, seed=3))], cfg)
    src = [scanner.ArraySource("s", background(6000, seed=4))]
    runs = {}
    for name, raise_them in (("raised", True), ("plain", False)):
        if not raise_them:
            monkeypatch.setattr(shards, "raise_thresholds", lambda *a: None)
        res = shards.scan_sources(sc, src, null, tmp_path / name, {"s": 6000})
        info = json.loads((tmp_path / name / "scan.json").read_text())
        runs[name] = (scan_calls.read_candidates(tmp_path / name / "candidates.npz"), res.n_tests, info["p_dropped"])
    (a, ta, pa), (b, tb, pb) = runs["raised"], runs["plain"]
    assert len(a) == 2 * 20 and ta == tb and pa == pb < 0.5  # 20 per family (filters, CAM)
    pd.testing.assert_frame_equal(a, b)
    sc_all = scanner.Scanner(model, {}, scanner.ScanConfig(tile=300, batch_size=1, engine=engine, q=0.5))
    shards.scan_sources(sc_all, src, null, tmp_path / "all", {"s": 6000})
    full = scan_calls.read_candidates(tmp_path / "all" / "candidates.npz")
    for is_filter in (True, False):
        best = np.sort(full.loc[(full["detector"] >= 0) == is_filter, "p"].to_numpy())[:20]
        got = np.sort(a.loc[(a["detector"] >= 0) == is_filter, "p"].to_numpy())
        assert np.array_equal(got, best)


@pytest.mark.parametrize("engine", ENGINES)
def test_bigwig_reads_back_at_the_right_positions(tmp_path, engine):
    import pyBigWig

    codes = plant(background(600, seed=2), 300)
    codes[500:540] = DNA.unknown_code
    sizes = {"chrA": 600, "chrB": 1000}
    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=128, engine=engine, tracks=["filter_0"], bin=1))
    shards.scan_sources(sc, [scanner.ArraySource("chrA", codes)], hand_null(2), tmp_path, sizes)
    bw = pyBigWig.open(str(tmp_path / "cam.bw"))
    assert bw.chroms() == sizes
    v = np.asarray(bw.values("chrA", 0, 600, numpy=True))
    centre = 300 + WIDTH // 2  # the CAM at window start j is drawn at base j + W // 2
    assert v[centre] == pytest.approx(1.0)
    assert np.nansum(v) == pytest.approx(1.0)
    assert np.isnan(v[: WIDTH // 2]).all() and not np.isnan(v[WIDTH // 2])
    # bases whose window touches N have no data
    assert np.isnan(v[500 - WIDTH + 1 + WIDTH // 2: 540 + WIDTH // 2]).all()
    assert not np.isnan(v[500 - WIDTH + WIDTH // 2])
    f0 = pyBigWig.open(str(tmp_path / "filter_0.bw")).values("chrA", centre, centre + 1)
    assert f0[0] == pytest.approx(1.0)
    # binned
    out2 = tmp_path / "binned"
    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=128, engine=engine, bin=10))
    shards.scan_sources(sc, [scanner.ArraySource("chrA", codes)], hand_null(2), out2, sizes)
    iv = pyBigWig.open(str(out2 / "cam.bw")).intervals("chrA", 300, 310)
    assert iv[0][:2] == (300, 310) and iv[0][2] == pytest.approx(0.1)


@pytest.mark.parametrize("engine", ENGINES)
def test_chromosome_of_only_n(tmp_path, engine):
    import pyBigWig

    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=100, engine=engine))
    src = scanner.ArraySource("chrN", np.full(1000, DNA.unknown_code, np.uint8))
    res = shards.scan_sources(sc, [src], hand_null(2), tmp_path, {"chrN": 1000})
    assert res.n_calls == 0 and res.n_tests == {"filters": 0, "cam": 0}
    assert (tmp_path / "sites.bed").read_text().startswith("#chrom\tstart\tend")
    assert len((tmp_path / "sites.bed").read_text().splitlines()) == 1
    bw = pyBigWig.open(str(tmp_path / "cam.bw"))
    assert bw.chroms() == {"chrN": 1000}
    # shorter than a filter: no window at all
    short = scanner.ArraySource("tiny", background(WIDTH - 1))
    res = shards.scan_sources(sc, [short], hand_null(2), tmp_path / "tiny", {"tiny": WIDTH - 1})
    assert res.n_calls == 0


def _genome(tmp_path, seqs):
    fa = tmp_path / "genome.fa"
    with open(fa, "w") as f:
        for name, s in seqs.items():
            f.write(f">{name}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    return fa


def test_cli_shards_and_merge(tmp_path):
    import pyBigWig

    seqs = {}
    for name, sites in (("chr1", [1000, 5003]), ("chr2", [2500])):
        codes = background(8000, seed=len(seqs) + 20)
        for p in sites:
            codes = plant(codes, p, reverse=p == 5003)
        seqs[name] = DNA.decode(codes)
    seqs["chrN"] = "N" * 3000
    fa = _genome(tmp_path, seqs)
    model_pt, model_json = save(motif_model(), tmp_path / "model")
    model = ["--model", model_pt, "--model-json", model_json, "--genome", fa, "--tile", "700"]
    common = [*model, "--tracks", "filter_0", "--q", "0.5"]
    null = tmp_path / "null.npz"
    # a small null: exact matches get p ~ 1e-4
    r = run_cli("scan-null", *model, "--null-bases", "20000", "--null-window", "2000", "--out", null)
    assert r.returncode == 0, r.stderr
    parts = []
    for chrom in ("chr1", "chr2", "chrN"):
        out = tmp_path / "shards" / chrom
        shard = [] if chrom == "chr1" else ["--shard"]  # only what the merge reads
        r = run_cli("scan", *common, "--chrom", chrom, "--null", null, "--out", out, *shard)
        assert r.returncode == 0, r.stderr
        parts.append(out)
    assert (parts[0] / "sites.bed").is_file() and (parts[0] / "sites.gff3").is_file()
    assert not (parts[1] / "sites.bed").exists() and (parts[1] / "candidates.npz").is_file()
    assert pyBigWig.open(str(parts[1] / "cam.bw")).header()["nLevels"] == 0
    n_info = json.loads((tmp_path / "shards" / "chrN" / "scan.json").read_text())
    assert n_info["n_calls"] is None and n_info["bases"] == 3000  # the merge makes the calls
    # the null's own record, not the scan's defaults for a null it did not build
    built = significance.ScanNull.load(null).info
    assert "null_bases" not in n_info["config"] and n_info["null_info"]["bases"] == built["bases"] <= 20000
    assert n_info["null_info"]["windows"] == built["windows"] > 1
    merged = tmp_path / "merged"
    r = run_cli("scan-merge", "--shards", *parts, "--out", merged)  # q = 0.5, as the shards say
    assert r.returncode == 0, r.stderr
    bed = read_bed(merged / "sites.bed")
    f0 = bed[bed["detector"] == "filter_0"]
    assert list(zip(f0["chrom"], f0["start"], f0["strand"])) == [
        ("chr1", 1000, "+"), ("chr1", 5003, "-"), ("chr2", 2500, "+")]
    text = (merged / "sites.bed").read_text()
    assert text.count("#chrom") == 1
    assert list(bed["start"]) == sorted(bed["start"]) or bed["chrom"].is_monotonic_increasing
    bw = pyBigWig.open(str(merged / "cam.bw"))
    assert set(bw.chroms()) == {"chr1", "chr2", "chrN"}
    assert bw.header()["nLevels"] > 0  # zoom levels for the browser, built at the merge
    # default resolution: 10-base bins holding the mean (one base of CAM 1 -> 0.1)
    for chrom, site in (("chr2", 2500), ("chr1", 5003)):
        centre = site + WIDTH // 2
        (a, b, v), = bw.intervals(chrom, centre, centre + 1)
        assert (a, b) == (centre // 10 * 10, centre // 10 * 10 + 10) and v == pytest.approx(0.1)
    assert (merged / "filter_0.bw").is_file()
    summary = json.loads((merged / "summary.json").read_text())
    assert summary["bases"] == 19000
    # chr2 and chrN packed into one shard (the workflow's plan, read with --chroms-file): the
    # same merged calls and tracks
    plan = shard_plan.plan_shards({"chr1": 8000, "chr2": 8000, "chrN": 3000}, ["chr1", "chr2", "chrN"], 11000)
    assert plan == [("chr1", ["chr1"]), ("chr2+1", ["chr2", "chrN"])]
    r = run_cli("scan-plan", "--genome", fa, "--shard-bases", 11000, "--out", tmp_path / "plan")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plan" / "shards.tsv").read_text().splitlines()[1:] == [
        "chr1\t1\t8000\tchr1\tchr1", "chr2+1\t2\t11000\tchr2\tchrN"]
    pack = tmp_path / "packed" / "chr2+1"
    r = run_cli("scan", *common, "--chroms-file", tmp_path / "plan" / "chr2+1.txt", "--null", null,
                "--out", pack, "--shard")
    assert r.returncode == 0, r.stderr
    r = run_cli("scan-merge", "--shards", parts[0], pack, "--out", tmp_path / "merged2")
    assert r.returncode == 0, r.stderr
    for name in ("sites.bed", "sites.gff3"):
        assert (tmp_path / "merged2" / name).read_bytes() == (merged / name).read_bytes()
    bw2 = pyBigWig.open(str(tmp_path / "merged2" / "cam.bw"))
    for chrom in ("chr1", "chr2"):
        assert bw2.intervals(chrom) == bw.intervals(chrom)
    # the old spellings of the null and the merge name their verbs, in one line
    for old, verb in (("--make-null", "seqfm scan-null"), ("--gather", "seqfm scan-merge")):
        r = run_cli("scan", old, *([] if old == "--make-null" else parts), "--out", tmp_path / "x")
        assert r.returncode == 2 and verb in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # a bad chromosome name is one clear line
    r = run_cli("scan", *common, "--chrom", "chr9", "--null", null, "--out", tmp_path / "bad")
    assert r.returncode == 2 and "chr9" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "none.txt").write_text("# nothing\n\n")
    r = run_cli("scan", *common, "--chroms-file", tmp_path / "none.txt", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "none.txt" in r.stderr and "Traceback" not in r.stderr


def test_shard_plan_packs_small_sequences():
    """Long sequences make shards of their own, shorter ones are packed in the genome's order
    up to the shard size; every sequence is in exactly one shard, and names are safe and
    unique."""
    sizes = {"chr1": 100, "chr2": 80, "s1": 10, "s2": 20, "s3": 30, "odd/name": 5, "chrM": 16,
             "big": 50, "a/b": 60, "a_b": 70}
    plan = shard_plan.plan_shards(sizes, list(sizes), 50)
    assert plan == [("chr1", ["chr1"]), ("chr2", ["chr2"]), ("s1+1", ["s1", "s2"]),
                    ("s3+1", ["s3", "odd/name"]), ("chrM", ["chrM"]), ("big", ["big"]),
                    ("a_b", ["a/b"]), ("a_b_2", ["a_b"])]
    assert [c for _, cs in plan for c in cs] == list(sizes)
    assert shard_plan.plan_shards(sizes, ["s1", "s2", "s3"], 1000) == [("s1+2", ["s1", "s2", "s3"])]
    with pytest.raises(InputError):
        shard_plan.plan_shards(sizes, ["s1"], 0)


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


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    import numpy as np
    sys.path.insert(0, {root!r})
    from seqfm import scan_null, scanner, shards
    from seqfm.model import SeqCNN
    import torch
    torch.manual_seed(0)
    model = SeqCNN({{"n_filters": 16, "filter_width": 11, "dropout": 0.0}}).eval()
    length = int(sys.argv[1])
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, length).astype(np.uint8)
    src = scanner.ArraySource("chr1", codes[:1000])
    # the candidates kept are bounded by max_candidates; what is left must not grow either
    sc = scanner.Scanner(model, {{}}, scanner.ScanConfig(tile=5000, batch_size=2, max_candidates=2000))
    null = scan_null.build_null(sc, [src], sc.config)
    from seqfm.io import Genome
    genome = Genome(sys.argv[2])
    gsrc = scanner.GenomeSource(genome, "chr1", sc.alphabet)
    list(sc.scan(scanner.ArraySource("w", codes[:20000]), null.thresholds(0.05)))  # warm up
    tracemalloc.start()
    res = shards.scan_sources(sc, [gsrc], null, sys.argv[3], dict(genome.sizes))
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({{"peak": peak, "bases": res.bases}}))
""")


def test_memory_does_not_grow_with_length(tmp_path):
    rng = np.random.default_rng(0)
    peaks = {}
    for length in (50_000, 500_000):
        fa = _genome(tmp_path / str(length), {"chr1": random_dna(rng, length)}) if (
            (tmp_path / str(length)).mkdir() or True) else None
        script = tmp_path / "mem.py"
        script.write_text(MEMORY_SCRIPT.format(root=str(ROOT)))
        r = subprocess.run([sys.executable, str(script), str(length), str(fa),
                            str(tmp_path / str(length) / "out")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert res["bases"] == length
        peaks[length] = res["peak"]
    # 10x the length, about the same traced peak
    assert peaks[500_000] < 1.5 * peaks[50_000] + 2**20, peaks


def test_window_max_is_the_maximum_over_each_window():
    """The fused kernel's window maxima (van Herk / Gil-Werman blocks) equal the maximum over
    rows max(0, j - half) .. min(n - 1, j + half), windows cut by either end included."""
    from seqfm.scan_kernels import window_max, window_max_1

    rng = np.random.default_rng(1)
    for _ in range(300):
        n, half, nf = int(rng.integers(1, 80)), int(rng.integers(0, 12)), int(rng.integers(1, 5))
        v = rng.integers(0, 4, (n + 5, nf)).astype(np.float32)  # ties everywhere
        want = np.array([v[max(0, j - half):min(n - 1, j + half) + 1].max(0) for j in range(n)])
        out, g, h = np.full_like(v, -1), np.empty_like(v), np.empty_like(v)
        window_max(v, n, half, g, h, out)
        assert np.array_equal(out[:n], want), (n, half)
        one = np.ascontiguousarray(v[:, :1])  # the CAM's single column
        out, g, h = np.full_like(one, -1), np.empty_like(one), np.empty_like(one)
        window_max_1(one, n, half, g, h, out)
        assert np.array_equal(out[:n], want[:, :1]), (n, half)


def test_cam_peaks_decide_as_the_filter_peaks_do():
    """The CAM's scalar peak finder keeps the leftmost-tie rule, the owned and usable
    positions, the thresholds and the test counts of the filters' one (every value counts,
    not only positive ones)."""
    from seqfm.scan_kernels import cam_peaks, peaks, window_max

    rng = np.random.default_rng(2)
    for trial in range(200):
        rows, half = int(rng.integers(20, 200)), int(rng.integers(0, 9))
        cam = rng.integers(-3, 4, (rows, 1)).astype(np.float32)  # ties and negative values
        wm, g, h = np.empty_like(cam), np.empty_like(cam), np.empty_like(cam)
        window_max(cam, rows, half, g, h, wm)
        strand = rng.integers(0, 2, (rows, 1)).astype(np.int8)
        okw = rng.random(rows) < 0.9
        d0 = int(rng.integers(0, rows // 2))
        d1 = int(rng.integers(d0 + 1, rows + 1))
        lo, hi = int(rng.integers(0, rows)), int(rng.integers(0, rows + 3))
        thr = np.array([9.0, float(rng.integers(-3, 3))], np.float32)  # the CAM's is thr[1]
        runs = []
        for scalar in (False, True):
            out = [np.zeros(rows, np.int64), np.zeros(rows, np.int64), np.zeros(rows, np.float32),
                   np.zeros(rows, np.int8), np.zeros(1, np.int64), np.zeros(2, np.int64)]
            if scalar:
                cam_peaks(cam, wm, strand, 0, d0, d1, half, okw, lo, hi, thr[1], 1, *out)
            else:
                peaks(cam, wm, strand, 0, d0, d1, half, okw, lo, hi, thr, 1, False,
                      np.zeros((rows, 1), np.uint8), np.zeros(1, np.int32), np.zeros(1, np.uint8),
                      np.zeros(1, np.int32), np.zeros(1, np.uint8), *out)
            n = int(out[4][0])
            runs.append([o[:n] for o in out[:4]] + [out[5]])
        for a, b in zip(*runs):
            assert np.array_equal(a, b), trial


def test_candidate_strata_from_the_tiles_equal_a_fresh_read():
    """The strata come from the tracks the tiles were read with; where the tiles leave a gap
    the source is read again; the strata are the same either way."""
    rng = np.random.default_rng(5)
    n, width = 3000, 9
    src = scanner.ArraySource("chr1", rng.integers(0, 4, n).astype(np.uint8),
                           rng.random((2, n)).astype(np.float32))
    edges = np.array([0.45, 0.5, 0.55])
    starts = np.array([0, 900, 1800], np.int64)  # overlapping tiles of 1,000
    tiles = (starts, np.stack([src.tracks(s, s + 1000) for s in starts]))
    pos = np.sort(rng.choice(np.arange(0, 2790), 200, replace=False))
    want = scan_calls.candidate_strata(src, pos, width, edges)
    assert len(np.unique(want)) == 4
    np.testing.assert_array_equal(scan_calls.candidate_strata(src, pos, width, edges, tiles), want)
    gap = (starts[[0, 2]], tiles[1][[0, 2]])  # [1000, 1800) is missing: read again
    np.testing.assert_array_equal(scan_calls.candidate_strata(src, pos, width, edges, gap), want)
    assert scan_calls._span_from_tiles(gap, 0, 2000) is None
    np.testing.assert_array_equal(scan_calls._span_from_tiles(tiles, 950, 2500), src.tracks(950, 2500))
