"""Protein binding-site accuracy: residue-level calls of the protein example scored against its truth.

Reads the workflow's outputs for the protein sample (`results/protein_example/sites.bed`,
`motifs.tsv`, `dataset/meta.tsv`) and the planted residues
(`resources/example/protein/truth.tsv`), restricted to the proteins the calls were made on
(the test split's positives unless the sites rule was told otherwise). Scores, separately for
the motif-detector (filter) calls and the class-activation-map (CAM) calls:

  - residue level: a residue is predicted when a call covers it; precision, recall and F1
    of predicted against planted residues;
  - site level: a call is right when its centre lies inside a planted site; a planted site is
    found when a right call's centre lies in it.

Also reports the top motif clusters of `motifs.tsv` with their consensus.

Run (after `make demo`):  python bench/bench_protein.py [--results results/protein_example]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def read_sites(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype={"chrom": str})
    df.columns = [c.lstrip("#") for c in df.columns]
    return df


def prf(tp_pred: float, n_pred: float, tp_truth: float, n_truth: float) -> dict:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_truth / n_truth if n_truth else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "n_pred": int(n_pred), "n_truth": int(n_truth)}


def score(calls: pd.DataFrame, truth: pd.DataFrame, proteins: set[str], lengths: dict[str, int]) -> dict:
    """Residue- and site-level precision/recall/F1 of ``calls`` (0-based half-open) on ``proteins``."""
    truth = truth[truth.protein.isin(proteins)]
    calls = calls[calls.chrom.isin(proteins)]
    planted = {p: np.zeros(lengths[p], bool) for p in proteins}
    predicted = {p: np.zeros(lengths[p], bool) for p in proteins}
    for t in truth.itertuples():
        planted[t.protein][t.start:t.end] = True
    for c in calls.itertuples():
        predicted[c.chrom][max(c.start, 0):max(c.end, 0)] = True
    tp = sum(int((planted[p] & predicted[p]).sum()) for p in proteins)
    residues = prf(tp, sum(int(v.sum()) for v in predicted.values()),
                   tp, sum(int(v.sum()) for v in planted.values()))
    centres = (calls.start.to_numpy() + calls.end.to_numpy()) // 2
    right = np.array([0 <= c < lengths[p] and planted[p][c] for p, c in zip(calls.chrom, centres)], bool)
    found = 0
    by_protein = {p: centres[(calls.chrom == p).to_numpy() & right] for p in proteins}
    for t in truth.itertuples():
        hits = by_protein[t.protein]
        found += bool(((hits >= t.start) & (hits < t.end)).any())
    sites = prf(int(right.sum()), len(calls), found, len(truth))
    return {"residues": residues, "sites": sites}


def run(results: str | Path = ROOT / "results" / "protein_example",
        truth: str | Path = ROOT / "resources" / "example" / "protein" / "truth.tsv") -> dict:
    results, truth_path = Path(results), Path(truth)
    needed = [results / "sites.bed", results / "dataset" / "meta.tsv", truth_path]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        return {"skipped": f"run `make demo` first (missing {', '.join(missing)})"}
    sites = read_sites(results / "sites.bed")
    meta = pd.read_csv(results / "dataset" / "meta.tsv", sep="\t", dtype={"chrom": str, "name": str})
    truth = pd.read_csv(truth_path, sep="\t")
    size = int(max(truth.end.max(), sites.end.max() if len(sites) else 0, meta.end.max())) + 1
    lengths = {p: size for p in set(meta.chrom) if p}
    proteins = set(sites.chrom) & set(meta[meta.label == 1].chrom)
    evaluated = set(meta[(meta.label == 1) & (meta.split == "test")].chrom) | proteins
    out = {"proteins": len(evaluated), "planted_sites": int(truth.protein.isin(evaluated).sum())}
    for detector, sel in (("filters", sites.detector != "cam"), ("cam", sites.detector == "cam")):
        out[detector] = score(sites[sel], truth, evaluated, lengths)
    motifs_tsv = results / "motifs.tsv"
    if motifs_tsv.exists():
        m = pd.read_csv(motifs_tsv, sep="\t")
        out["top_motifs"] = m.head(5)[["rank", "cluster", "influence", "n_sites",
                                       *(c for c in ("consensus",) if c in m)]].to_dict("records")
    return out


def report(res: dict) -> str:
    if "skipped" in res:
        return f"protein sites: skipped ({res['skipped']})"
    lines = [f"protein example: {res['proteins']} proteins evaluated, {res['planted_sites']} planted sites"]
    for det in ("filters", "cam"):
        for level in ("residues", "sites"):
            r = res[det][level]
            lines.append(f"  {det:7s} {level:8s} precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
                         f"F1 {r['f1']:.3f}  ({r['n_pred']} predicted, {r['n_truth']} planted)")
    for m in res.get("top_motifs", []):
        lines.append(f"  motif rank {m['rank']}: {m['cluster']} influence {m['influence']:.3g}, "
                     f"{m['n_sites']} sites, consensus {m.get('consensus', '')}")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=str(ROOT / "results" / "protein_example"))
    ap.add_argument("--truth", default=str(ROOT / "resources" / "example" / "protein" / "truth.tsv"))
    a = ap.parse_args()
    print(report(run(a.results, a.truth)))
