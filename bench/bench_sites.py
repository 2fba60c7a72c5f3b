"""Binding-site calls on the example against the planted truth, beside FIMO as the oracle.

On the evaluated sequences (default: positives of the test split of results/dna_example),
scores three call sets against resources/example/truth.bed:

  - seqfm filters : first-layer filter calls at q <= 0.05, merged across all filters with
                    non-maximum suppression (overlapping calls keep the best one)
  - seqfm CAM     : class-activation-map calls at q <= 0.05
  - FIMO oracle   : memelite's FIMO scanning the *true* JASPAR matrices of the planted motifs
                    (pyjaspar) over the same sequences at p < 1e-4, both strands (and, for
                    context, at p < 1e-3)

A call is right when its centre lies within 10 bp of a planted site's centre; a planted site
(centre inside an evaluated sequence) is found when a call's centre lies that close.
Precision = right calls / calls, recall = found sites / sites, F1 their harmonic mean.
The target is seqfm's F1 >= 0.8 x the oracle's.

Run:   python bench/bench_sites.py [--model-dir results/dna_example] [--dataset DIR]
       (trains a model into a temporary folder when the model folder has none)
Use:   from bench.bench_sites import run; res = run()   # a dict of the figures
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MOTIFS = {"MA0139.2": "CTCF", "MA0035.2": "Gata1", "MA0047.4": "FOXA2", "MA0093.4": "USF1"}


def jaspar_pwms(ids, release: str = "JASPAR2026") -> dict[str, np.ndarray]:
    """Probability matrices ``(4, w)`` (A, C, G, T) of JASPAR ids from pyjaspar's offline copy."""
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    out = {}
    for mid in ids:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = db.fetch_motif_by_id(mid)
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64)
        out[f"{mid}_{m.name}"] = counts / counts.sum(axis=0, keepdims=True)
    return out


def fimo_calls(codes: np.ndarray, pwms: dict[str, np.ndarray], threshold: float = 1e-4
               ) -> pd.DataFrame:
    """FIMO hits on uint8 DNA codes ``(N, L)``: ``seq`` (row index), ``start``, ``end`` (sequence
    coordinates), ``strand``, ``motif``, ``p``."""
    from memelite import fimo

    from seqfm.alphabet import DNA, one_hot

    x = one_hot(codes, DNA, "uniform").numpy().astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hits = fimo(pwms, x, threshold=threshold, reverse_complement=True)
    frames = [h for h in hits if len(h)]
    if not frames:
        return pd.DataFrame(columns=["seq", "start", "end", "strand", "motif", "p"])
    h = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({"seq": h["sequence_name"].astype(int).to_numpy(),
                         "start": h["start"].astype(int).to_numpy(),
                         "end": h["end"].astype(int).to_numpy(),
                         "strand": h["strand"].astype(str).to_numpy(),
                         "motif": h["motif_name"].astype(str).to_numpy(),
                         "p": h["p-value"].astype(float).to_numpy()})


def _ensure_model(model_dir: Path, dataset: Path) -> Path:
    if (model_dir / "model.pt").is_file() and (model_dir / "model.json").is_file():
        return model_dir
    from seqfm import train

    tmp = Path(tempfile.mkdtemp(prefix="seqfm_bench_sites_"))
    print(f"no model in {model_dir}; training one into {tmp} (default options)", file=sys.stderr)
    train.run(dataset, tmp, train.TrainConfig(), {}, progress=False, plots=False)
    return tmp


def run(model_dir: str | Path = ROOT / "results/dna_example",
        dataset: str | Path = ROOT / "results/dna_example/dataset",
        truth: str | Path = ROOT / "resources/example/truth.bed",
        split: str = "test", labels: str = "positive", q: float = 0.05,
        null_copies: int = 10, fimo_p: float = 1e-4, tolerance: float = 10.0,
        threads: int = 0, device: str = "auto") -> dict:
    """Score seqfm's calls and FIMO's against the truth; returns a dict of the figures.

    Keys: ``seqfm_filters``, ``seqfm_cam``, ``seqfm_filters_unmerged``, ``fimo_oracle`` and
    ``fimo_loose`` (FIMO at 10 x the p threshold, for context) (each a dict
    with ``n_calls``, ``n_true``, ``precision``, ``recall``, ``f1``), ``ratio_filters`` and
    ``ratio_cam`` (seqfm F1 / oracle F1), ``target`` (0.8), ``passed``, ``n_sequences``,
    ``seconds`` (seqfm calls, FIMO).
    """
    import torch

    from seqfm import dataset as dataset_mod
    from seqfm import model as model_mod
    from seqfm import calls, sites
    from seqfm.device import pick_device, set_threads
    from seqfm.io import read_bed

    set_threads(threads)
    model_dir, dataset = Path(model_dir), Path(dataset)
    model_dir = _ensure_model(model_dir, dataset)
    dev = pick_device(device)
    model, _ = model_mod.load(model_dir / "model.pt", model_dir / "model.json", dev)
    ds = dataset_mod.read(dataset)
    truth_df = read_bed(truth, "truth BED")
    length = ds.codes.shape[1]

    cfg = sites.SitesConfig(split=split, labels=labels, q=q, null_copies=null_copies,
                            merge="none", device=device)
    labels_ = calls.FilterLabels.default(model.conv1.weight.shape[0])
    t0 = time.perf_counter()
    with torch.no_grad():
        sc = sites.call_sites(model, ds, cfg, labels=labels_)
    t_seqfm = time.perf_counter() - t0
    unmerged = sites.calls_table(sc, ds, labels_, True)
    merged_sc = sites.SiteCalls(calls.merge_calls(sc.calls, labels_, "all"), sc.rows, sc.null,
                                sc.n_tests, sc.cores)
    merged = sites.calls_table(merged_sc, ds, labels_, True)
    regions = sites.evaluated_regions(ds, sc.rows)
    is_cam = merged["detector"] == "cam"
    res = {
        "n_sequences": int(len(sc.rows)),
        "seqfm_filters": sites.score_against_truth(merged[~is_cam], truth_df, regions, tolerance),
        "seqfm_cam": sites.score_against_truth(merged[is_cam], truth_df, regions, tolerance),
        "seqfm_filters_unmerged": sites.score_against_truth(
            unmerged[unmerged["detector"] != "cam"], truth_df, regions, tolerance),
    }

    # the oracle: FIMO with the true matrices over the same sequences
    pwms = jaspar_pwms(MOTIFS)
    t0 = time.perf_counter()
    hits = fimo_calls(np.asarray(ds.codes[sc.rows]), pwms, fimo_p)
    t_fimo = time.perf_counter() - t0
    chrom, start, end, strand = sites.to_output_coordinates(
        sc.rows[hits["seq"].to_numpy()], hits["start"].to_numpy(), hits["end"].to_numpy(),
        (hits["strand"].to_numpy() == "-").astype(int), ds.meta, length, True)
    fimo_df = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "strand": strand})
    res["fimo_oracle"] = sites.score_against_truth(fimo_df, truth_df, regions, tolerance)
    # context: the same oracle at a looser threshold (short matrices such as FOXA2's 8 columns
    # cannot reach p < 1e-4 with most of their sampled instances)
    loose = fimo_calls(np.asarray(ds.codes[sc.rows]), pwms, fimo_p * 10)
    chrom, start, end, _ = sites.to_output_coordinates(
        sc.rows[loose["seq"].to_numpy()], loose["start"].to_numpy(), loose["end"].to_numpy(),
        np.zeros(len(loose), int), ds.meta, length, True)
    res["fimo_loose"] = sites.score_against_truth(
        pd.DataFrame({"chrom": chrom, "start": start, "end": end}), truth_df, regions, tolerance)
    oracle = res["fimo_oracle"]["f1"]
    res["ratio_filters"] = res["seqfm_filters"]["f1"] / oracle if oracle else float("nan")
    res["ratio_cam"] = res["seqfm_cam"]["f1"] / oracle if oracle else float("nan")
    res["target"] = 0.8
    res["passed"] = bool(res["ratio_filters"] >= 0.8 or res["ratio_cam"] >= 0.8)
    res["seconds"] = {"seqfm_calls": t_seqfm, "fimo": t_fimo}
    res["settings"] = {"split": split, "labels": labels, "q": q, "null_copies": null_copies,
                       "fimo_p": fimo_p, "tolerance_bp": tolerance, "model": str(model_dir)}
    return res


def report(res: dict) -> str:
    lines = [f"binding sites on {res['n_sequences']} sequences "
             f"(centre within {res['settings']['tolerance_bp']:g} bp of a planted centre)",
             f"{'caller':<26}{'calls':>8}{'sites':>7}{'precision':>11}{'recall':>8}{'F1':>7}"]
    for key, label in (("seqfm_filters", "seqfm filters (merged)"), ("seqfm_cam", "seqfm CAM"),
                       ("seqfm_filters_unmerged", "seqfm filters (all)"),
                       ("fimo_oracle", f"FIMO true PWMs p<{res['settings']['fimo_p']:g}"),
                       ("fimo_loose", f"FIMO true PWMs p<{10 * res['settings']['fimo_p']:g}")):
        s = res[key]
        lines.append(f"{label:<26}{s['n_calls']:>8}{s['n_true']:>7}{s['precision']:>11.3f}"
                     f"{s['recall']:>8.3f}{s['f1']:>7.3f}")
    names = sorted(res["fimo_oracle"]["recall_by_name"])
    if names:
        lines.append("recall by motif: " + ", ".join(
            f"{n} seqfm {res['seqfm_filters']['recall_by_name'].get(n, 0):.2f} / "
            f"CAM {res['seqfm_cam']['recall_by_name'].get(n, 0):.2f} / "
            f"FIMO {res['fimo_oracle']['recall_by_name'][n]:.2f}" for n in names))
    lines.append(f"F1 / oracle F1: filters {res['ratio_filters']:.3f}, CAM {res['ratio_cam']:.3f} "
                 f"(target >= {res['target']}) -> {'PASS' if res['passed'] else 'FAIL'}")
    lines.append(f"time: seqfm calls {res['seconds']['seqfm_calls']:.1f} s, "
                 f"FIMO {res['seconds']['fimo']:.1f} s (includes numba compilation on a first run)")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=str(ROOT / "results/dna_example"))
    ap.add_argument("--dataset", default=str(ROOT / "results/dna_example/dataset"))
    ap.add_argument("--truth", default=str(ROOT / "resources/example/truth.bed"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--labels", default="positive", choices=["positive", "negative", "all"],
                    help="evaluated sequences of the split (all: negatives' calls count too)")
    ap.add_argument("--q", type=float, default=0.05)
    ap.add_argument("--null-copies", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    print(report(run(a.model_dir, a.dataset, a.truth, split=a.split, labels=a.labels, q=a.q,
                     null_copies=a.null_copies, threads=a.threads)))
