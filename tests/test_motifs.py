"""``seqfm motifs``: the files of the contract, the track-only filter reported as such, protein
input, and one line for a bad input."""

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

from conftest import run_cli
from planted import MOTIF_A, log_odds, motif_probs, planted_codes


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
    # the clustering's knobs reach the verb (the workflow passes motifs.cluster_max_p and min_coactivation)
    args = build_parser().parse_args(base + ["--cluster-max-p", "1e-3", "--min-coactivation", "0.5"])
    assert (args.cluster_max_p, args.min_coactivation) == (1e-3, 0.5)
    with pytest.raises(InputError, match="min_coactivation"):
        M.MotifConfig(min_coactivation=2.0)


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
