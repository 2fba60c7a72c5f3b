"""False-match rate of TomTom annotation against JASPAR: naive q-values vs seqfm's rule.

Null queries (nothing to find):
  random    PWMs with Dirichlet(1) columns, widths 8-20 (about 0.45 bits per position)
  sharp     PWMs with Dirichlet(0.3) columns, widths 8-20 (about 1.1 bits per position, as
            informative as JASPAR matrices)
  shuffled  JASPAR matrices of the same release with their columns permuted (same columns,
            same information content, composition kept: the GC-rich "CTCF-like" trap)
Positive queries (must still be found):
  planted   PWMs counted from 40 sampled sites of each planted example motif (CTCF, Gata1,
            FOXA2, USF1) with 3 random flank letters each side, like a filter's sites

For each rule the script prints the share of null queries that get an annotation and the
share of planted queries annotated with their own JASPAR matrix or its family (the same TF
class or family in JASPAR). Rules:
  naive q<0.05    best match's Benjamini-Hochberg q (over the 1 x targets row) < 0.05
  naive p<1e-3    best match's p < 0.001
  E<0.05          best match's E-value (p * targets) <= 0.05
  IC>=4 & E<0.05  information floor plus E-value
  seqfm rule      seqfm.annotation.MatchRule() defaults: IC floor, E-value and a column-shuffled
                  null (observed -log10 p at least min_z SDs above its shuffled copies)

With --motifs results/dna_example/motifs.tsv it also scores a `seqfm motifs` result on the
example: for each planted motif, the best-ranked cluster annotated with it (or its JASPAR TF
family), and the best-ranked cluster annotated with anything else.

With --model-dir DIR (model.pt, model.json) --dataset DATASET --truth truth.bed it also says
which planted motif each cluster's filters detect: the AUROC of a filter's per-sequence maximum
activation for telling the positives holding a planted motif from the other positives (best
planted motif of the cluster's best filter; below 0.6 counts as none).

Run:  python bench/bench_tomtom_calibration.py [--n 200] [--seed 1] [--motifs TSV]
          [--model-dir DIR --dataset DIR --truth BED]
The first run on a machine compiles memelite's TomTom (about 2 minutes); later runs load the
compiled kernels from the numba cache (seqfm.numba_cache.numba_cache_dir()).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seqfm.annotation import MatchRule, annotate, shuffle_columns
from seqfm.pwm import counts_to_probs, random_pwms
from seqfm.jaspar import Database, load_jaspar

PLANTED = {"MA0139.2": "CTCF", "MA0035.2": "Gata1", "MA0047.4": "FOXA2", "MA0093.4": "USF1"}


def planted_queries(db: Database, n_each: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    from seqfm.simulate import load_jaspar_motifs

    rng = np.random.default_rng(seed)
    qs, truth = [], []
    for mot in load_jaspar_motifs(list(PLANTED)):
        mid = mot.matrix_id
        p = np.asarray(mot.probs, dtype=np.float64)
        for _ in range(n_each):
            sites = np.array([[rng.choice(4, p=row / row.sum()) for row in p] for _ in range(40)])
            counts = np.zeros((p.shape[0] + 6, 4))
            counts[:3] = rng.multinomial(40, [0.25] * 4, size=3)
            counts[-3:] = rng.multinomial(40, [0.25] * 4, size=3)
            counts[3:-3] = np.stack([np.bincount(c, minlength=4) for c in sites.T])
            qs.append(counts_to_probs(counts, 0.5))
            truth.append(mid)
    return qs, truth


def same_family(db: Database, a: int, mid: str) -> bool:
    """Match ``a`` is the planted matrix (any version), the same TF, or its JASPAR TF family."""
    return db.same_family(a, db.index(mid))


def score_example(path: str) -> None:
    """Planted motifs found in a motifs.tsv, and how they rank by influence."""
    import pandas as pd

    db = load_jaspar()
    tab = pd.read_csv(path, sep="\t", keep_default_na=False)
    print(f"{path}: {len(tab)} clusters")
    planted_rows = set()
    for mid, name in PLANTED.items():
        hits = [r for r in tab.itertuples() if r.match_id and db.same_family(db.index(r.match_id), db.index(mid))]
        planted_rows |= {r.rank for r in hits}
        if hits:
            h = hits[0]
            print(f"  {name:6s} {mid}: found, best rank {h.rank} ({h.cluster}, {h.match_id} {h.match_name}, "
                  f"E={h.match_E}, z={h.match_null_z}, influence {h.influence}); {len(hits)} cluster(s)")
        else:
            print(f"  {name:6s} {mid}: NOT annotated")
    other = [r for r in tab.itertuples() if r.match_id and r.rank not in planted_rows]
    unann = [r for r in tab.itertuples() if not r.match_id]
    worst_planted = max((min(r.rank for r in tab.itertuples() if r.match_id and
                             db.same_family(db.index(r.match_id), db.index(mid))) for mid in PLANTED
                         if any(r.match_id and db.same_family(db.index(r.match_id), db.index(mid))
                                for r in tab.itertuples())), default=None)
    first_other = other[0].rank if other else None
    print(f"  every planted motif's best cluster within the top {worst_planted} ranks; "
          f"first cluster annotated with a non-planted motif: "
          f"{'none' if first_other is None else f'rank {first_other} ({other[0].match_name})'}; "
          f"unannotated clusters above rank {worst_planted}: "
          f"{sum(1 for r in unann if worst_planted and r.rank < worst_planted)}")
    print()


def detected_motifs(tsv: str, model_dir: str, dataset: str, truth: str) -> None:
    """Which planted motif each cluster's filters detect, beside rank, influence and annotation."""
    from pathlib import Path

    import pandas as pd
    import torch

    from seqfm import dataset as ds_mod
    from seqfm import model as model_mod
    from seqfm.batching import BatchSource
    from seqfm.metrics import auroc

    d = ds_mod.read(dataset)
    model, info = model_mod.load(Path(model_dir) / "model.pt", Path(model_dir) / "model.json")
    tr = pd.read_csv(truth, sep="\t")
    tr.columns = [c.lstrip("#") for c in tr.columns]
    pos = np.flatnonzero(np.asarray(d.labels) == 1)
    names = d.meta["name"].to_numpy()[pos]
    src = BatchSource(d.codes, d.tracks, np.asarray(d.labels), torch.device("cpu"), d.alphabet,
                      info.get("policy", "uniform"))
    with torch.inference_mode():
        mx = torch.cat([model.filter_activations(x).amax(dim=(1, 3)) for x, _ in src.iterate(pos, 256)]).numpy()
    has = {m: np.isin(names, tr.region[tr.name == m].unique()).astype(int) for m in tr.name.unique()}
    auc = {m: np.array([auroc(h, mx[:, f]) for f in range(mx.shape[1])]) for m, h in has.items()}
    tab = pd.read_csv(tsv, sep="\t", keep_default_na=False)
    print(f"{'rank':>4s} {'cluster':9s} {'influence':>9s} {'annotation':14s} detects (AUROC)")
    first_none = None
    for r in tab.itertuples():
        fs = [int(f.split("_")[1]) for f in r.filters.split(",")]
        best = max(((auc[m][f], m) for m in auc for f in fs))
        det = f"{best[1]} ({best[0]:.2f})" if best[0] >= 0.6 else f"none ({best[0]:.2f} {best[1]})"
        if best[0] < 0.6 and first_none is None:
            first_none = r.rank
        if r.rank <= 30:
            print(f"{r.rank:4d} {r.cluster:9s} {float(r.influence):9.3g} {r.match_name or '-':14s} {det}")
    print(f"first cluster detecting no planted motif: rank {first_none}")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="null queries of each kind")
    ap.add_argument("--planted", type=int, default=10, help="queries per planted motif")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--motifs", help="a motifs.tsv of the example to score against the planted motifs")
    ap.add_argument("--skip-null", action="store_true", help="only score --motifs")
    ap.add_argument("--model-dir", help="folder with model.pt and model.json (with --motifs)")
    ap.add_argument("--dataset", help="the model's dataset folder (with --model-dir)")
    ap.add_argument("--truth", default="resources/example/truth.bed", help="planted sites (BED)")
    args = ap.parse_args()
    if args.motifs:
        score_example(args.motifs)
        if args.model_dir and args.dataset:
            detected_motifs(args.motifs, args.model_dir, args.dataset, args.truth)
    if args.skip_null:
        return

    t0 = time.time()
    db = load_jaspar()
    rng = np.random.default_rng(args.seed)
    random_q = random_pwms(args.n, args.seed)
    sharp_q = random_pwms(args.n, args.seed + 1, alpha=0.3)
    picks = rng.choice(len(db), size=args.n, replace=False)
    shuffled_q = [shuffle_columns(db.probs[i], 1, args.seed + int(i))[0] for i in picks]
    planted_q, truth = planted_queries(db, args.planted, args.seed)
    print(f"targets: {db.label}, {len(db)} matrices")

    rule = MatchRule()
    sets = {"random": random_q, "sharp": sharp_q, "shuffled": shuffled_q, "planted": planted_q}
    rows = {}
    for name, qs in sets.items():
        t = time.time()
        res = annotate(qs, db, rule)
        ic = res["ic"]
        verdicts = {
            "naive q<0.05": res["q"] < 0.05,
            "naive p<1e-3": res["p"] < 1e-3,
            "E<0.05": res["E"] <= 0.05,
            "IC>=4 & E<0.05": (ic >= 4) & (res["E"] <= 0.05),
            "seqfm rule": res["significant"],
        }
        if name == "planted":
            right = np.array([same_family(db, int(t_), mid) for t_, mid in zip(res["target"], truth)])
            verdicts = {k: v & right for k, v in verdicts.items()}
        rows[name] = {k: float(np.mean(v)) for k, v in verdicts.items()}
        print(f"  {name:9s} {len(qs):4d} queries, median IC {np.median(ic):.1f} bits, "
              f"TomTom + null {time.time() - t:.1f} s")
    print()
    print(f"{'rule':16s} {'random FP':>10s} {'sharp FP':>9s} {'shuffled FP':>12s} {'planted found':>14s}")
    for k in rows["random"]:
        print(f"{k:16s} {rows['random'][k]:10.1%} {rows['sharp'][k]:9.1%} {rows['shuffled'][k]:12.1%} "
              f"{rows['planted'][k]:14.1%}")
    print(f"\nseqfm rule: {rule}")
    print(f"total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
