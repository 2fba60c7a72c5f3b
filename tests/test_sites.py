import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import dataset as D
from seqfm import model as M
from seqfm import calls, sites
from seqfm.alphabet import DNA, reverse_complement_codes

from conftest import run_cli
from test_featuremaps import MOTIF, motif_model

L = 100


def make_dataset(folder, codes, chrom, start, strand, names=None, labels=None, split="test"):
    n = len(codes)
    meta = pd.DataFrame({
        "name": names or [f"seq{i}" for i in range(n)],
        "chrom": chrom, "start": start, "end": [s + L if c else 0 for c, s in zip(chrom, start)],
        "strand": strand, "label": labels if labels is not None else [1] * n, "split": split})
    ds = D.Dataset(codes=codes.astype(np.uint8), tracks=np.zeros((n, 0, L), np.float16),
                   labels=meta["label"].to_numpy(np.uint8), meta=meta,
                   info={"alphabet": "dna", "policy": "uniform", "tracks": []})
    D.write(ds, folder)
    return folder


def read_sites_bed(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "#" + "\t".join(calls.BED_HEADER)
    rows = [line.split("\t") for line in lines[1:]]
    df = pd.DataFrame(rows, columns=calls.BED_HEADER)
    for c in ("start", "end", "score"):
        df[c] = df[c].astype(int)
    for c in ("activation", "p", "q"):
        df[c] = df[c].astype(float)
    return df


@pytest.fixture
def planted(tmp_path):
    """20 random sequences: row 0 (chr1:1000-1100, +) has the motif at 30 on its forward strand,
    row 1 (chr1:5000-5100, -) has it reverse-complemented at 50 of its (already reverse-
    complemented) sequence, row 2 has no coordinates and the motif at 70."""
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 4, (20, L)).astype(np.uint8)
    motif = DNA.encode(MOTIF)
    codes[0, 30:38] = motif
    codes[1, 50:58] = reverse_complement_codes(motif)
    codes[2, 70:78] = motif
    chrom = ["chr1", "chr1", ""] + ["chr2"] * 17
    start = [1000, 5000, 0] + [10_000 + 200 * i for i in range(17)]
    strand = ["+", "-", "."] + ["."] * 17
    make_dataset(tmp_path / "dataset", codes, chrom, start, strand)
    net = motif_model(bias=-4.0)  # partial matches fire too: the null has a spread
    M.save(net, tmp_path / "model")
    return tmp_path


def test_planted_sites_land_on_genome_coordinates_and_strands(planted):
    cfg = sites.SitesConfig(null_copies=20, seed=3, merge="none")
    summary = sites.run(planted / "model/model.pt", planted / "model/model.json",
                        planted / "dataset", planted / "out", config=cfg, threads=1)
    bed = read_sites_bed(planted / "out/sites.bed")
    filt = bed[bed["detector"] == "filter_0"]
    got = sorted(zip(filt["chrom"], filt["start"], filt["end"], filt["strand"], filt["name"]))
    assert got == [
        ("chr1", 1030, 1038, "+", "filter_0:seq0"),
        # minus-strand row: sequence [50, 58) on its reverse strand = genome [5042, 5050) on +
        ("chr1", 5042, 5050, "+", "filter_0:seq1"),
        ("seq2", 70, 78, "+", "filter_0:seq2"),
    ]
    assert (filt["q"] <= 0.05).all() and (filt["cluster"] == ".").all()
    assert (filt["match_name"] == ".").all()
    cam = bed[bed["detector"] == "cam"]
    assert sorted(zip(cam["chrom"], cam["start"], cam["end"], cam["strand"])) == [
        ("chr1", 1030, 1038, "+"), ("chr1", 5042, 5050, "+"), ("seq2", 70, 78, "+")]
    # sorted by chrom, then start
    assert list(bed["chrom"]) == sorted(bed["chrom"])
    assert summary["n_filter_calls"] == 3
    # the genome check done independently: the window's forward strand holds the motif there
    fwd_of_row1 = reverse_complement_codes(np.load(planted / "dataset/codes.npy")[1])
    assert DNA.decode(fwd_of_row1[42:50]) == MOTIF


def test_filter_table_labels_the_calls(planted):
    (planted / "interpret").mkdir()
    (planted / "interpret/filters.tsv").write_text(
        "filter\tcluster\tinfluence\tn_sites\tic\tconsensus\tmatch_id\tmatch_name\n"
        "filter_0\t1\t0.4\t3\t12.1\tGATTACAG\tMA9999.1\tFAKE1\n")
    cfg = sites.SitesConfig(null_copies=20, seed=3)

    def calls():
        sites.run(planted / "model/model.pt", planted / "model/model.json", planted / "dataset",
                  planted / "out", filters_tsv=planted / "interpret/filters.tsv", config=cfg, threads=1)
        bed = read_sites_bed(planted / "out/sites.bed")
        return bed[bed["detector"] == "filter_0"]

    filt = calls()
    assert len(filt) == 3
    assert set(filt["cluster"]) == {"cluster_1"} and set(filt["match_name"]) == {"FAKE1"}
    assert filt["name"].str.startswith("cluster_1:").all()
    # the cluster's own match in motifs.tsv (beside interpret/) names its filters' calls
    (planted / "motifs.tsv").write_text(
        "rank\tcluster\tinfluence\tn_sites\tic\tmatch_id\tmatch_name\tmatch_p\tmatch_q\tfilters\n"
        "1\t1\t0.4\t3\t12.1\tMA0001.1\tFAKECLUSTER\t1e-9\t1e-6\tfilter_0\n")
    assert set(calls()["match_name"]) == {"FAKECLUSTER"}
    # a malformed filter table is one clear error
    (planted / "interpret/filters.tsv").write_text("filter\tcluster\nfilter_9\t1\n")
    with pytest.raises(sites.InputError, match="line 2: filter_9 is outside"):
        calls()


def test_featuremaps_npz_holds_maps_calls_and_truth(planted):
    truth = planted / "truth.bed"
    truth.write_text("#chrom\tstart\tend\tname\tscore\tstrand\n"
                     "chr1\t1030\t1038\tGATA\t0\t+\nchr1\t5042\t5050\tGATA\t0\t+\n")
    cfg = sites.SitesConfig(null_copies=20, seed=3, top_n=4, top_filters=4)
    sites.run(planted / "model/model.pt", planted / "model/model.json", planted / "dataset",
              planted / "out", truth_bed=truth, config=cfg, threads=1)
    z = np.load(planted / "out/interpret/featuremaps.npz", allow_pickle=False)
    n = len(z["names"])
    assert n == 4 and z["codes"].dtype == np.uint8 and z["codes"].shape == (4, L)
    assert z["cam"].shape == (4, L - 8 + 1) and z["filters"].shape == (4, 1, L - 8 + 1)
    assert list(z["filter_names"]) == ["filter_0"]
    names = list(z["names"])
    assert {"seq0", "seq1", "seq2"} <= set(names)  # the planted rows score highest
    i1 = names.index("seq1")
    sel = (z["call_seq"] == i1) & (z["call_detector"] == "filter_0")
    assert z["call_start"][sel].tolist() == [50] and z["call_strand"][sel].tolist() == ["-"]
    # planted sites come back in sequence coordinates (row 1 is a minus-strand window)
    t = sorted(zip(z["truth_seq"].tolist(), z["truth_start"].tolist(), z["truth_strand"].tolist()))
    assert t == sorted([(names.index("seq0"), 30, "+"), (i1, 50, "-")])


def test_null_p_values_are_uniform_on_random_sequence(tmp_path):
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 4, (120, L)).astype(np.uint8)
    make_dataset(tmp_path / "ds", codes, [""] * 120, [0] * 120, ["."] * 120)
    ds = D.read(tmp_path / "ds")
    torch.manual_seed(2)
    net = M.SeqCNN({"n_filters": 6, "filter_width": 9, "dropout": 0.0}).eval()
    # no calls at q 0.05 on pure random sequence
    strict = sites.call_sites(net, ds, sites.SitesConfig(null_copies=4, seed=1, merge="none"))
    assert len(strict.calls) <= 2
    # every candidate's p-value (q = 1 keeps them all): P(p <= t) is about t, never much more
    sc = sites.call_sites(net, ds, sites.SitesConfig(q=1.0, null_copies=4, seed=1, merge="none",
                                                     cam=False))
    m = sc.n_tests["filters"]
    p = sc.calls["p"].to_numpy()
    for t in (0.01, 0.05, 0.2, 0.5):
        frac = (p <= t).sum() / m
        assert frac <= 1.25 * t + 0.005, (t, frac)
        assert frac >= 0.6 * t, (t, frac)


def brute_force_bh(p, m):
    p = np.asarray(p, float)
    q = np.empty(len(p))
    for i, pi in enumerate(p):
        q[i] = min(pj * m / np.sum(p <= pj) for pj in p if pj >= pi)
    return np.minimum(q, 1.0)


def test_bh_equals_brute_force():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(200) ** 3, [0.01, 0.01, 0.5, 0.5]])  # with ties
    assert np.allclose(sites.bh(p), brute_force_bh(p, len(p)))
    # a subset with the total m: exact for every q below the smallest dropped p
    full = rng.random(500) ** 4
    keep = full <= 0.05
    q_sub = sites.bh(full[keep], m=len(full))
    q_full = brute_force_bh(full, len(full))[keep]
    ok = q_sub <= full[~keep].min()
    assert ok.sum() > 10 and np.allclose(q_sub[ok], q_full[ok])
    assert len(sites.bh(np.zeros(0))) == 0


def test_empirical_p_values():
    null = sites.NullModel([np.array([1.0, 2.0, 2.0, 5.0]), np.array([-1.0, 0.5])],
                           np.array([10, 2]), np.array([0.0, -np.inf]))
    p = null.pvalues(np.array([0, 0, 0, 0, 1, 1]), np.array([2.0, 6.0, 0.0, 0.5, 0.5, -3.0]))
    assert p.tolist() == [(1 + 3) / 11, 1 / 11, 1.0, (1 + 4) / 11, (1 + 1) / 3, 1.0]


def test_nms_keeps_one_call_per_site(planted):
    ds = D.read(planted / "dataset")
    net = motif_model(strong=0.4, bias=0.0)  # a soft filter: shifted windows score too
    from seqfm.alphabet import one_hot

    with torch.no_grad():
        raw = net.filter_activations(one_hot(np.array(ds.codes[:1]))).amax(1)[0, 0]
    assert int((raw[30 - 7: 30 + 8] > 0).sum()) > 2  # several positive windows around the site
    sc = sites.call_sites(net, ds, sites.SitesConfig(q=0.5, null_copies=20, merge="none", cam=False))
    calls = sc.calls[sc.calls["row"] == 0]
    near = calls[(calls["pos"] > 30 - 8) & (calls["pos"] < 30 + 8)]
    assert len(near) == 1 and near["pos"].iloc[0] == 30


def test_score_against_truth():
    truth = pd.DataFrame({"chrom": ["c", "c", "c", "d"], "start": [100, 300, 900, 50],
                          "end": [110, 310, 910, 60], "name": ["A", "B", "A", "A"]})
    regions = pd.DataFrame({"chrom": ["c", "d"], "start": [0, 0], "end": [500, 1000]})
    calls = pd.DataFrame({"chrom": ["c", "c", "c", "d"], "start": [112, 400, 99, 80],
                          "end": [118, 410, 101, 90]})
    s = sites.score_against_truth(calls, truth, regions, tolerance=10)
    # the site at 900 lies outside the regions; calls at centres 115 and 100 are right
    assert s["n_true"] == 3 and s["tp_calls"] == 2 and s["found"] == 1
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(1 / 3)
    assert s["recall_by_name"] == {"A": 0.5, "B": 0.0}


def test_cli_refuses_a_missing_dataset(tmp_path, planted):
    r = run_cli("sites", "--model", planted / "model/model.pt", "--model-json",
                planted / "model/model.json", "--dataset", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "not a dataset folder" in r.stderr
    assert not (tmp_path / "o" / "sites.bed").exists()


def test_protein_calls_are_unstranded_binding_sites(tmp_path):
    rng = np.random.default_rng(4)
    n, length = 12, 60
    codes = rng.integers(0, 20, (n, length)).astype(np.uint8)
    meta = pd.DataFrame({"name": [f"prot{i}" for i in range(n)], "chrom": "", "start": 0, "end": 0,
                         "strand": ".", "label": 1, "split": "test"})
    D.write(D.Dataset(codes=codes, tracks=np.zeros((n, 0, length), np.float16),
                      labels=np.ones(n, np.uint8), meta=meta,
                      info={"alphabet": "protein", "policy": "uniform", "tracks": []}), tmp_path / "ds")
    torch.manual_seed(0)
    net = M.SeqCNN({"alphabet": "protein", "n_filters": 3, "filter_width": 5}).eval()
    M.save(net, tmp_path / "m")
    cfg = sites.SitesConfig(q=1.0, null_copies=2, top_n=3)  # q = 1: every peak, to see the format
    sites.run(tmp_path / "m/model.pt", tmp_path / "m/model.json", tmp_path / "ds", tmp_path / "out",
              config=cfg, threads=1)
    bed = read_sites_bed(tmp_path / "out/sites.bed")
    assert len(bed) and set(bed["strand"]) == {"."} and bed["chrom"].str.startswith("prot").all()
    assert ((bed["start"] >= 0) & (bed["end"] <= length)).all()
    gff = [line.split("\t") for line in (tmp_path / "out/sites.gff3").read_text().splitlines()[1:]]
    assert {r[2] for r in gff} == {"binding_site"} and {r[6] for r in gff} == {"."}
    z = np.load(tmp_path / "out/interpret/featuremaps.npz")
    assert z["codes"].shape == (3, length) and len(z["truth_seq"]) == 0


def test_the_null_is_seeded(planted):
    ds = D.read(planted / "dataset")
    net = motif_model(strong=0.4, bias=0.0)
    cfg = dict(q=1.0, null_copies=3, merge="none")
    a = sites.call_sites(net, ds, sites.SitesConfig(seed=5, **cfg))
    b = sites.call_sites(net, ds, sites.SitesConfig(seed=5, **cfg))
    c = sites.call_sites(net, ds, sites.SitesConfig(seed=6, **cfg))
    pd.testing.assert_frame_equal(a.calls, b.calls)
    assert not np.array_equal(a.calls["p"].to_numpy(), c.calls["p"].to_numpy())


def test_coordinates_of_windows_clipped_at_a_chromosome_start():
    # a 100-bp window that would start at -30 is stored as 0-70; a call at sequence 40-48 lies
    # at genome -30+40 .. -30+48 = 10-18 (plus window) or, the window reverse-complemented,
    # at -30+100-48 .. -30+100-40 = 22-30 on the other strand (minus window)
    meta = pd.DataFrame({"name": ["a", "b"], "chrom": ["chr1", "chr1"], "start": [0, 0],
                         "end": [70, 70], "strand": ["+", "-"]})
    chrom, start, end, strand = sites.to_output_coordinates(
        np.array([0, 1]), np.array([40, 40]), np.array([48, 48]), np.array([0, 0]), meta, 100, True)
    assert list(chrom) == ["chr1", "chr1"]
    assert start.tolist() == [10, 22] and end.tolist() == [18, 30]
    assert list(strand) == ["+", "-"]


def test_a_reverse_strand_match_flips_the_strand_of_the_calls(planted):
    # TomTom aligned the matched motif to the filter's reverse complement: a call where the
    # filter's weights match on + is a site of the matched motif on -
    (planted / "interpret").mkdir()
    (planted / "interpret/filters.tsv").write_text(
        "filter\tcluster\tmatch_id\tmatch_name\tmatch_strand\nfilter_0\tm1\tMA0001.1\tREV\t-\n")
    cfg = sites.SitesConfig(null_copies=20, seed=3)
    sites.run(planted / "model/model.pt", planted / "model/model.json", planted / "dataset",
              planted / "out", filters_tsv=planted / "interpret/filters.tsv", config=cfg, threads=1)
    bed = read_sites_bed(planted / "out/sites.bed")
    filt = bed[bed["detector"] == "filter_0"]
    assert sorted(zip(filt["chrom"], filt["start"], filt["strand"])) == [
        ("chr1", 1030, "-"), ("chr1", 5042, "-"), ("seq2", 70, "-")]
    cam = bed[bed["detector"] == "cam"]
    assert set(cam["strand"]) == {"+"}  # the CAM keeps its stream's strand
