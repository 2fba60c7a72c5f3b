"""Filters -> PWMs -> clusters -> JASPAR: recovery of a planted motif, clustering of a
reverse-complement copy, ablation, MEME output read back by Biopython, the calibrated
false-match rate, and the `seqfm motifs` outputs."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import dataset as ds_mod
from seqfm import model as model_mod
from seqfm import motifs as M
from seqfm.alphabet import DNA, PROTEIN
from seqfm.errors import InputError
from seqfm.io import read_meme
from seqfm.jaspar import load_jaspar
from seqfm.batching import BatchSource

from conftest import run_cli

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
    _, off, strand = M.motif_similarity(truth, est, DNA)
    e = M.reverse_complement_matrix(est, DNA) if strand else est
    lo, hi = max(0, off), min(len(truth), off + len(e))
    return np.corrcoef(truth[lo:hi].ravel(), e[lo - off:hi - off].ravel())[0, 1], hi - lo


def test_filter_set_to_log_odds_recovers_the_motif():
    rng = np.random.default_rng(0)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa])
    model = model_with(log_odds(pa)[None])
    sites = M.filter_counts(model, source_for(codes), np.arange(len(codes)), frac=0.5, batch_size=64)
    pwms, bounds = M.filter_pwms(sites, "dna", min_sites=10, trim_bits=0.3)
    assert pwms[0] is not None and sites.n_sites[0] >= 100
    r, overlap = aligned_pearson(pwms[0].probs, pa)
    assert overlap >= 8 and r > 0.9
    # both strands counted, read 5'->3' on the strand where the filter fired
    assert M.consensus(pwms[0].probs, DNA) == MOTIF_A[bounds[0, 0]:bounds[0, 1]]


def test_filter_counts_are_the_same_with_activations_kept_or_computed_again():
    import dataclasses

    rng = np.random.default_rng(6)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa], n=100)
    model = model_with(np.stack([log_odds(pa), log_odds(motif_probs(MOTIF_B))]))
    runs = [M.filter_counts(model, source_for(codes), np.arange(100), batch_size=32, keep_bytes=k)
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
    sites = M.filter_counts(model, source_for(codes), np.arange(20), frac=0.99)
    pwms, _ = M.filter_pwms(sites, min_sites=10_000)
    assert pwms == [None] and sites.n_sites[0] < 10_000


def test_reverse_complement_copy_joins_the_filter_in_one_cluster():
    rng = np.random.default_rng(2)
    pa, pb = motif_probs(MOTIF_A), motif_probs(MOTIF_B)
    codes, _ = planted_codes(rng, [pa, pb], n=400)
    wa = log_odds(pa)
    wa_rc = wa[DNA.complement_codes()[:4].astype(int)][:, ::-1]  # the same detector, other strand
    model = model_with(np.stack([wa, log_odds(pb), wa_rc]))
    sites = M.filter_counts(model, source_for(codes), np.arange(len(codes)))
    pwms, _ = M.filter_pwms(sites)
    probs = [p.probs for p in pwms]
    score, _, strand = M.motif_similarity(probs[0], probs[2], DNA)
    assert score > 0.95 and strand == 1
    sim = np.minimum(M.similarity_matrix(probs, DNA), M.coactivation(sites.seq_max))
    labels = M.cluster_labels(sim, 0.7)
    assert labels[0] == labels[2] != labels[1]
    counts, place = M.merge_counts([pwms[0], pwms[2]], 0, DNA)
    assert place[0] == (0, 0) and place[1][1] == 1
    np.testing.assert_allclose(counts.sum(axis=1)[:3], pwms[0].n_sites + pwms[2].n_sites, rtol=0.02)


def test_motif_similarity_offsets_and_strands():
    pa = motif_probs(MOTIF_A)
    assert M.motif_similarity(pa, pa[3:], DNA)[1:] == (3, 0)
    s, off, strand = M.motif_similarity(pa, M.reverse_complement_matrix(pa[:7], DNA), DNA)
    assert (off, strand) == (0, 1) and s > 0.8
    assert M.motif_similarity(pa, motif_probs(MOTIF_B), DNA)[0] < 0.5


@pytest.mark.parametrize("extra", [{}, {"dilated_layers": 2, "dilated_channels": 6},
                                   {"global_pool": "mean"}, {"strand_aware": False}])
def test_ablation_equals_a_model_without_the_filter(extra):
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, size=(50, 40)).astype(np.uint8)
    torch.manual_seed(1)
    arch = {"alphabet": "dna", "n_filters": 5, "filter_width": 6, "dropout": 0.0, **extra}
    model = model_mod.SeqCNN(arch).eval()
    masks = np.ones((3, 5))
    masks[0, 1] = 0
    masks[1, [0, 4]] = 0
    base, abl = M.ablation_logits(model, source_for(codes), np.arange(50), masks, batch_size=16,
                                  max_elements=500)
    x = torch.from_numpy(DNA.onehot_table()[codes]).permute(0, 2, 1).float()
    with torch.no_grad():
        np.testing.assert_allclose(base, model(x).numpy(), atol=1e-5)
        for k, mask in enumerate(masks):
            m = model_mod.copy_model(model)
            off = torch.from_numpy(mask == 0)
            m.conv1.weight[off] = 0.0
            m.conv1.bias[off] = -1.0  # ReLU(-1) = 0: the channel is zero everywhere
            np.testing.assert_allclose(abl[k], m(x).numpy(), atol=1e-5)
    eff = M.ablation_effects(base, abl, np.arange(50) % 2)
    assert set(eff) == set(M.INFLUENCE_METRICS) and np.allclose(eff["positives"][2], 0.0)


@pytest.mark.parametrize("extra", [{}, {"strand_aware": False}, {"n_tracks": 1},
                                   {"n_tracks": 1, "first_layer": "concat"}])
def test_pooled_shortcut_gives_the_same_logits_bit_for_bit(extra):
    # masking pooled maxima instead of whole feature maps: the same numbers, not just close ones
    rng = np.random.default_rng(5)
    torch.manual_seed(2)
    arch = {"alphabet": "dna", "n_filters": 6, "filter_width": 5, "dropout": 0.0, **extra}
    model = model_mod.SeqCNN(arch).eval()
    n_t = arch.get("n_tracks", 0)
    x = torch.from_numpy(rng.random((9, 4 + n_t, 30)).astype(np.float32))
    xb = torch.from_numpy(rng.random((9, 4 + n_t, 30)).astype(np.float32))
    masks = torch.from_numpy((rng.random((7, 6)) > 0.4).astype(np.float32))
    with torch.inference_mode():
        fwd, rev = model.first_layer(x)
        alt = model.first_layer(xb)
        cmax = M._channel_maxima(model, fwd, rev)
        assert torch.equal(model.head(cmax).squeeze(-1), model(x))
        assert torch.equal(M._masked_logits(model, fwd, rev, masks, maxima=(cmax,)),
                           M._masked_logits(model, fwd, rev, masks))
        both = (cmax, M._channel_maxima(model, *alt))
        assert torch.equal(M._masked_logits(model, fwd, rev, masks, alt, both),
                           M._masked_logits(model, fwd, rev, masks, alt))
        # fractional masks take the general path
        half = masks * 0.5
        assert torch.equal(M._masked_logits(model, fwd, rev, half, maxima=(cmax,)),
                           M._masked_logits(model, fwd, rev, half))
    assert M._channel_maxima(model_mod.SeqCNN({**arch, "global_pool": "mean"}), fwd, rev) is None


def test_information_content_and_trimming():
    p = np.vstack([np.full((2, 4), 0.25), motif_probs("ACG", top=1.0), np.full((1, 4), 0.25)])
    ic = M.column_ic(p)
    np.testing.assert_allclose(ic, [0, 0, 2, 2, 2, 0], atol=1e-6)
    assert M.trim_bounds(p, 0.3) == (2, 5)
    assert M.trim_bounds(np.full((3, 4), 0.25), 0.3) == (0, 0)


def test_motif_at_two_offsets_and_both_strands_is_one_cluster():
    """Filters holding overlapping parts of CTCF (one on the other strand) and the whole of it
    join one cluster, placed where they sit in CTCF; GATA1 and USF1 stay apart."""
    db = load_jaspar()
    ctcf = db.probs[db.index("MA0139.2")]
    gata = db.probs[db.index("MA0035.2")]
    usf = db.probs[db.index("MA0093.4")]
    rc = lambda m: M.reverse_complement_matrix(m, DNA)  # noqa: E731
    mats = [ctcf[0:10], rc(ctcf[5:15]), gata, ctcf[2:13], rc(gata[1:]), usf]
    pwms = [M.PWM(f"filter_{i}", m * 200, 200, "dna", 0.5) for i, m in enumerate(mats)]
    # the whole-matrix similarity keeps the two halves of CTCF apart (the old rule)
    assert M.motif_similarity(mats[0], mats[1], DNA)[0] < 0.7
    clusters = M.cluster_filters(pwms, DNA, max_p=3e-4)
    assert [c.members for c in clusters] == [[0, 1, 3], [2, 4], [5]]
    ct = clusters[0]
    starts = {m: p for m, p in zip(ct.members, ct.place)}
    assert starts[1][1] != starts[0][1] == starts[3][1]  # the other strand
    # placed as in CTCF (on the cluster's strand): the first half at 0, the middle at 2
    if starts[0][1] == 0:
        assert (starts[3][0] - starts[0][0], starts[1][0] - starts[0][0]) == (2, 5)
        merged = ct.counts
    else:
        merged = M.reverse_complement_matrix(ct.counts, DNA)
    # the cluster's PWM: every member's sites pooled over the whole motif
    np.testing.assert_allclose(merged.sum(axis=1), [200] * 2 + [400] * 3 + [600] * 5 + [400] * 3 + [200] * 2)
    assert M.consensus(M.counts_to_probs(merged), DNA) == M.consensus(ctcf, DNA)


def test_enrichment_columns_agree_with_a_hand_count():
    # 4 positives, 4 negatives; cluster 0 = filters 0 and 1, cluster 1 = filter 2
    seq_max = np.array([[5, 0, 0], [0, 3, 0], [5, 0, 1], [0, 0, 0],
                        [0, 3, 9], [0, 0, 9], [1, 1, 9], [0, 0, 0]], dtype=np.float32)
    threshold = np.array([4.0, 2.0, 8.0])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    calls = M.cluster_calls(seq_max, threshold, [[0, 1], [2]])
    assert calls[:, 0].tolist() == [True, True, True, False, True, False, False, False]
    assert calls[:, 1].tolist() == [False, False, False, False, True, True, True, False]
    e = M.enrichment(calls, labels)
    # cluster 0: 3 of 4 positives, 1 of 4 negatives
    assert e["pos_frac"][0] == 0.75 and e["neg_frac"][0] == 0.25
    np.testing.assert_allclose(e["odds_ratio"][0], 3.5 * 3.5 / (1.5 * 1.5))
    # one-sided Fisher: P(X >= 3), X hypergeometric (8 sequences, 4 calls, 4 positives)
    np.testing.assert_allclose(e["fisher_p"][0], (4 * 4 + 1) / 70)
    # cluster 1: no positive, 3 negatives: depleted
    assert e["pos_frac"][1] == 0 and e["neg_frac"][1] == 0.75 and e["fisher_p"][1] == 1.0
    np.testing.assert_allclose(e["odds_ratio"][1], 0.5 * 1.5 / (4.5 * 3.5))


@pytest.mark.parametrize("layer", ["concat", "gated"])
def test_filter_reading_the_track_alone_is_track_only(layer):
    """Filter 0 reads a motif, filter 1 only the conservation track (raised over every site
    and over motif-free blocks): filter 1 fires as much on shuffled sequence with the track in
    place, and loses its sites with the track at background. A gated layer's filter 1 has no
    letter weights and a positive bias: its gate alone shapes its response."""
    rng = np.random.default_rng(7)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa], n=200, length=80)
    tracks = np.zeros((200, 1, 80), dtype=np.float16)
    tracks[:, 0, 30:45] = 3.0  # a conserved block in every sequence, whatever it holds
    w = np.zeros((2, 5, 10), dtype=np.float32)
    w[0, :4] = log_odds(pa)
    w[1, 4] = 1.0  # the track only
    arch = {"alphabet": "dna", "n_filters": 2, "filter_width": 10, "dropout": 0.0, "n_tracks": 1,
            "first_layer": layer}
    torch.manual_seed(0)
    model = model_mod.SeqCNN(arch).eval()
    with torch.no_grad():
        model.conv1.bias.zero_()
        if layer == "concat":
            model.conv1.weight.copy_(torch.from_numpy(w))
        else:
            model.conv1.weight.copy_(torch.from_numpy(w[:, :4]))
            model.conv1.bias[1] = 10.0
            model.gate.weight.zero_()
            model.gate.weight[0] = 100.0  # filter 0's gate open wherever the track is not negative
            model.gate.weight[1] = 1.0
            model.gate.bias.copy_(torch.tensor([10.0, -10.0]))  # filter 1: open in the block only
    source = BatchSource(codes, tracks, np.ones(200, dtype=np.float32), torch.device("cpu"), DNA, "uniform")
    sites = M.filter_counts(model, source, np.arange(200), frac=0.5)
    pwms, _ = M.filter_pwms(sites, "dna", min_sites=10)
    background = M.track_background(tracks, np.arange(200))
    assert background.tolist() == [0.0]
    resp = M.track_response(model, codes, tracks, np.arange(200), sites.threshold, background, seed=3)
    assert resp.kept_shuffled[0] < 0.2 and resp.kept_shuffled[1] > 0.9
    assert resp.kept_background[1] == 0.0 and resp.kept_background[0] > 0.9
    kind = M.track_only_filters(resp, pwms, sites.n_sites, min_sites=10)
    assert kind.tolist() == [False, True]


def test_match_rule_needs_information_and_shuffles():
    with pytest.raises(Exception):
        M.MatchRule(n_shuffles=1)


@pytest.mark.slow
def test_false_match_rate_of_random_pwms_is_under_5_percent():
    """TomTom against JASPAR 2026 vertebrates (memelite). Slow only the first time on a
    machine: memelite compiles its numba kernels (about 2 min) into seqfm's numba cache."""
    db = load_jaspar()
    queries = M.random_pwms(100, seed=11)
    res = M.annotate(queries, db, M.MatchRule())
    naive = float(np.mean(res["q"] < 0.05))
    calibrated = float(np.mean(res["significant"]))
    assert calibrated < 0.05 < naive
    # the planted example motif itself is still annotated, with itself
    ctcf = db.probs[db.index("MA0139.2")]
    one = M.annotate([ctcf[2:17]], db, M.MatchRule())
    assert one["significant"][0] and db.names[one["target"][0]] == "CTCF"
    # memelite's offset: the query starts 2 columns into the target (logos draw it at -2)
    assert one["offset"][0] == 2 and one["strand"][0] == 0


# ---------------------------------------------------------------------- the verb
def _tiny_dataset(tmp_path, alphabet="dna", n=240, length=60, tracks=1):
    rng = np.random.default_rng(5)
    alpha = DNA if alphabet == "dna" else PROTEIN
    codes = rng.integers(0, alpha.size, size=(n, length)).astype(np.uint8)
    labels = (np.arange(n) % 2).astype(np.uint8)
    if alphabet == "dna":
        pa = motif_probs(MOTIF_A)
        pos_codes, _ = planted_codes(rng, [pa], n=n // 2, length=length)
        codes[labels == 1] = pos_codes
    else:
        codes[labels == 1, 10:15] = [0, 1, 2, 3, 4]
    split = np.array(["train", "train", "valid", "test"] * (n // 4))
    meta = pd.DataFrame({"name": [f"s{i}" for i in range(n)], "chrom": "", "start": 0,
                         "end": length, "strand": ".", "label": labels, "split": split})
    trk = rng.random((n, tracks, length)).astype(np.float16)
    d = ds_mod.Dataset(codes, trk, labels, meta, {"alphabet": alphabet, "policy": "uniform",
                                                   "tracks": [f"cons{i}" for i in range(tracks)]})
    ds_mod.write(d, tmp_path / "dataset")
    torch.manual_seed(0)
    model = model_mod.SeqCNN({"alphabet": alphabet, "n_tracks": tracks, "n_filters": 4,
                              "filter_width": 10 if alphabet == "dna" else 5})
    if alphabet == "dna":
        with torch.no_grad():
            model.conv1.weight[0, :4] = torch.from_numpy(log_odds(pa).astype(np.float32))
            rc = log_odds(pa)[DNA.complement_codes()[:4].astype(int)][:, ::-1]
            model.conv1.weight[1, :4] = torch.from_numpy(rc.astype(np.float32).copy())
            model.head.weight[0, 0] = 2.0
            model.conv1.weight[3] = 0.0  # no letter weights: the gate alone shapes filter 3
            model.conv1.bias[3] = 1.0
            model.gate.weight[3] = 1.0
            model.gate.bias[3] = -5.0
    model_mod.save(model, tmp_path / "model")
    return tmp_path / "dataset", tmp_path / "model"


def test_motifs_verb_writes_the_contract(tmp_path):
    data, mdir = _tiny_dataset(tmp_path)
    out = tmp_path / "out"
    summary = M.run(mdir / "model.pt", mdir / "model.json", data, out,
                    M.MotifConfig(jaspar_release="none", min_sites=5, threads=1, device="cpu"))
    assert summary["n_clusters"] >= 1 and summary["pwm_sequences"] == "train+valid positives"
    tsv = pd.read_csv(out / "motifs.tsv", sep="\t", keep_default_na=False)
    assert list(tsv.columns[:10]) == ["rank", "cluster", "influence", "n_sites", "ic", "match_id",
                                      "match_name", "match_p", "match_q", "filters"]
    assert list(tsv.columns[10:20]) == ["kind", "match_E", "match_offset", "match_strand", "consensus",
                                        "logo", "pos_frac", "neg_frac", "odds_ratio", "fisher_p"]
    assert list(tsv["rank"]) == list(range(1, len(tsv) + 1))
    prefix = {"motif": "motif", "track-only": "track"}
    assert list(tsv["cluster"]) == [f"{prefix[k]}_{r}" for k, r in zip(tsv["kind"], tsv["rank"])]
    # filter 3 reads the track only: reported as such, never hidden
    track = tsv[tsv["kind"] == "track-only"]
    assert "filter_3" in ",".join(track["filters"]) and "filter_3" not in ",".join(tsv[tsv.kind == "motif"].filters)
    for col in ("pos_frac", "neg_frac", "track_sites_kept"):
        assert tsv[col].astype(float).between(0, 1).all()
    assert (np.diff(tsv["influence"].astype(float)) <= 1e-12).all()
    top = tsv.iloc[0]
    assert "filter_0" in top["filters"].split(",")
    filt = pd.read_csv(out / "interpret" / "filters.tsv", sep="\t", keep_default_na=False)
    assert list(filt.columns[:6]) == ["filter", "cluster", "influence", "n_sites", "ic", "consensus"]
    assert sorted(filt["filter"]) == sorted(f"filter_{i}" for i in range(4))
    _, meme = read_meme(out / "filters.meme")
    _, clusters = read_meme(out / "interpret" / "motifs.meme")
    assert "filter_0" in [m[0] for m in meme] and {m[0] for m in clusters} == set(tsv["cluster"])
    for row in tsv.itertuples():
        assert (out / row.logo).is_file() and (out / row.logo).with_suffix(".svg").is_file()
    # the report's logos only, unless filter logos are asked for
    assert not (out / "logos" / "filters").exists() and (filt["logo"] == "").all()
    assert sorted(p.name for p in (out / "logos").iterdir()) == sorted(
        f"{c}.{ext}" for c in tsv["cluster"] for ext in ("png", "svg"))
    assert not any(p.name.startswith(".") for p in out.iterdir())


def test_filter_logos_only_when_asked(tmp_path):
    data, mdir = _tiny_dataset(tmp_path)
    out = tmp_path / "out"
    M.run(mdir / "model.pt", mdir / "model.json", data, out,
          M.MotifConfig(jaspar_release="none", min_sites=5, threads=1, device="cpu", filter_logos=True))
    filt = pd.read_csv(out / "interpret" / "filters.tsv", sep="\t", keep_default_na=False)
    drawn = filt[filt["logo"] != ""]
    assert "filter_0" in set(drawn["filter"]) and (drawn["ic"] != "").all()
    for logo in drawn["logo"]:
        assert (out / logo).is_file() and (out / logo).with_suffix(".svg").is_file()
    assert len(list((out / "logos" / "filters").glob("*.png"))) == len(drawn)
    # the verb's flag reaches the library: off by default, on with --filter-logos
    from seqfm.cli import build_parser

    base = ["motifs", "--model", "m", "--model-json", "j", "--dataset", "d", "--out", "o"]
    assert build_parser().parse_args(base).filter_logos is False
    assert build_parser().parse_args(base + ["--filter-logos"]).filter_logos is True


def test_logo_pool_draws_every_job_and_reports_failures(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.setattr(M, "_available_cpus", lambda: 2)
    rng = np.random.default_rng(0)
    jobs = [dict(stem=tmp_path / f"m{w}", probs=rng.dirichlet(np.ones(4), size=w), alphabet="dna")
            for w in (3, 8, 5)]
    with M.LogoPool(2) as pool:
        assert pool.workers == 2
        pool.draw(jobs)
        with pytest.raises((InputError, BrokenProcessPool, ValueError)):
            pool.draw([dict(stem=tmp_path / "bad", probs=np.ones((3, 4)) / 4, alphabet="rna"),
                       jobs[0]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"m{w}.{e}" for w in (3, 8, 5) for e in ("png", "svg"))
    with M.LogoPool(1) as serial:  # one core: no worker processes
        assert serial._pool is None
        serial.draw([dict(jobs[0], stem=tmp_path / "one")])
    assert (tmp_path / "one.svg").is_file()


def test_motifs_verb_protein_does_not_break(tmp_path):
    data, mdir = _tiny_dataset(tmp_path, "protein", tracks=0)
    out = tmp_path / "out"
    M.run(mdir / "model.pt", mdir / "model.json", data, out,
          M.MotifConfig(threads=1, device="cpu", logos=False))
    assert (out / "motifs.tsv").is_file() and (out / "filters.meme").is_file()
    assert "strands" not in (out / "filters.meme").read_text()


def test_motifs_verb_bad_input_is_one_line(tmp_path):
    data, mdir = _tiny_dataset(tmp_path)
    proc = run_cli("motifs", "--model", mdir / "model.pt", "--model-json", mdir / "model.json",
                   "--dataset", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "not a dataset folder" in proc.stderr
    with pytest.raises(InputError, match="JASPAR1999"):
        M.run(mdir / "model.pt", mdir / "model.json", data, tmp_path / "o",
              M.MotifConfig(jaspar_release="JASPAR1999"))
    with pytest.raises(InputError, match="influence"):
        M.MotifConfig(influence="max")
    assert not (tmp_path / "o" / "motifs.tsv").exists()
