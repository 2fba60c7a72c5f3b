"""Measured against the truth: the DNA example's calls and motifs scored on its planted sites and conserved decoys.

The example (resources/example, written by `seqfm simulate`) knows where every motif was
planted (truth.bed) and where conservation was raised without any motif: the decoy regions
(decoys.bed) and the site-shaped conserved elements inside them (decoy_elements.bed). This
benchmark scores a results folder (results/dna_example) against that truth:

  genome-wide   scan/sites.bed over the whole genome
  test set      sites.bed on the evaluated test sequences (split `test`, positives), where
                only the planted sites whose centre lies in those sequences count

for both callers (filter calls: detector `filter_*`; CAM calls: detector `cam`), beside an
oracle: memelite's FIMO with the true planted matrices (the JASPAR matrices the example
sampled from). Genome-wide the oracle's p-values get Benjamini-Hochberg over every test
(2 strands x genome x motifs) and calls at q <= 0.05 count; on the test set the oracle is FIMO
at p < 1e-4 on the same sequences, as in bench_sites.py.

Columns (shares are of a caller's calls; a call is "on" an interval when it overlaps it by
at least one base):
  calls      number of calls
  site       share on a planted site
  dec.el     share on a decoy element (conserved, no motif) and on no planted site
  dec.reg    share in a decoy region (the elements and their flanks) and on no planted site
  else       share on neither a planted site nor a decoy element (1 - site - dec.el)
  recall     planted sites overlapped by a call, overall and per planted motif
  label      of the recalled planted sites, the share whose best call (lowest q) names the
             planted motif: its `match_name` equals the truth's `name`, case-insensitive
  family     the same, at the level of JASPAR's TF families: the best call's cluster is
             matched (motifs.tsv `match_family`) to a matrix of the planted motif's family
             (paralogs such as Gata1 / Gata3 or FOXA2 / Foxl2 share one motif)
  dec.hit    share of decoy elements overlapped by a call
  F1         (test set) binding-site F1 of bench_sites.py: a call is right when its centre
             lies within 10 bp of a planted site's centre (seqfm.sites.score_against_truth)
Clusters (motifs.tsv, interpret/motifs.meme): per planted motif, the clusters named after it
(`match_name`) and the clusters whose merged PWM matches its planted matrix by TomTom
(memelite, against JASPAR's vertebrate CORE matrices plus the planted ones, best planted
match at p < 1e-3), among the clusters holding >= 5% of the total influence and in all, and
the first rank at which each motif appears.

Run:   python bench/bench_truth.py --results results/dna_example --example resources/example
                                   [--json bench/out/truth.json]
Use:   score_calls(calls, truth, decoy_elements, decoy_regions) on DataFrames; run() -> dict
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

MISSING = "."


# ====================================================================== reading
def read_bed(path: str | Path, names: list[str] | None = None) -> pd.DataFrame:
    """A BED file as a DataFrame; column names from a ``#`` header line, else ``names``, else
    BED6's. An empty file gives an empty table with those columns."""
    path = Path(path)
    first = ""
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("#"):
        names = first[1:].rstrip("\n").split("\t")
    names = names or ["chrom", "start", "end", "name", "score", "strand"]
    try:
        df = pd.read_csv(path, sep="\t", comment="#", header=None, dtype={0: str},
                         keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=names)
    df.columns = list(names[: df.shape[1]]) + [f"col{i}" for i in range(len(names), df.shape[1])]
    return df


# ====================================================================== intervals
def overlap_pairs(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)`` of rows of ``a`` and ``b`` (positions, not labels) whose intervals
    share at least one base on the same ``chrom``; 0-based half-open coordinates.

    Returns
    -------
    ia, ib : numpy.ndarray of int64, the same length, sorted by ``ia`` then ``b``'s start.
    """
    out_a, out_b = [], []
    a_chrom, b_chrom = a["chrom"].astype(str).to_numpy(), b["chrom"].astype(str).to_numpy()
    a_s, a_e = a["start"].to_numpy(np.int64), a["end"].to_numpy(np.int64)
    b_s, b_e = b["start"].to_numpy(np.int64), b["end"].to_numpy(np.int64)
    for chrom in np.intersect1d(np.unique(a_chrom), np.unique(b_chrom)):
        ai = np.flatnonzero(a_chrom == chrom)
        bi = np.flatnonzero(b_chrom == chrom)
        bi = bi[np.argsort(b_s[bi], kind="stable")]
        bs, be = b_s[bi], b_e[bi]
        longest = int((be - bs).max())
        # an overlapping b starts after a.start - longest and before a.end
        lo = np.searchsorted(bs, a_s[ai] - longest, side="right")
        hi = np.searchsorted(bs, a_e[ai], side="left")
        n = np.maximum(hi - lo, 0)
        rep_a = np.repeat(ai, n)
        idx = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
        keep = be[idx] > a_s[rep_a]
        out_a.append(rep_a[keep])
        out_b.append(bi[idx[keep]])
    if not out_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ia, ib = np.concatenate(out_a), np.concatenate(out_b)
    order = np.lexsort((ib, ia))
    return ia[order].astype(np.int64), ib[order].astype(np.int64)


def overlaps_any(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Bool ``(len(a),)``: the row of ``a`` shares a base with some row of ``b``."""
    hit = np.zeros(len(a), dtype=bool)
    if len(a) and len(b):
        hit[overlap_pairs(a, b)[0]] = True
    return hit


def centre_inside(df: pd.DataFrame, regions: pd.DataFrame) -> np.ndarray:
    """Bool ``(len(df),)``: the interval's centre lies inside one of ``regions``."""
    c = (df["start"].to_numpy(np.int64) + df["end"].to_numpy(np.int64)) // 2
    points = pd.DataFrame({"chrom": df["chrom"].to_numpy(), "start": c, "end": c + 1})
    return overlaps_any(points, regions)


def same_name(a, b) -> np.ndarray:
    """Case-insensitive equality of two arrays of names (``.`` and empty never match)."""
    a = pd.Series(np.asarray(a, dtype=object)).astype(str).str.upper().to_numpy()
    b = pd.Series(np.asarray(b, dtype=object)).astype(str).str.upper().to_numpy()
    return (a == b) & (a != MISSING) & (a != "")


# ====================================================================== scoring calls
def score_calls(calls: pd.DataFrame, truth: pd.DataFrame, decoys: pd.DataFrame,
                regions: pd.DataFrame, evaluated: pd.DataFrame | None = None,
                positives: pd.DataFrame | None = None) -> dict:
    """Score one caller's calls against the planted sites and the conserved decoys.

    Parameters
    ----------
    calls : DataFrame ``chrom, start, end`` (+ ``match_name``, ``cluster``, ``detector``,
        ``q``, ``score`` when known; a call without ``match_name`` names nothing)
    truth : DataFrame ``chrom, start, end, name``: the planted sites
    decoys : DataFrame ``chrom, start, end``: the decoy elements (conserved, no motif)
    regions : DataFrame ``chrom, start, end``: the decoy regions holding them
    evaluated : DataFrame ``chrom, start, end`` or None
        The evaluated sequences: only planted sites and decoy elements whose centre lies in
        one count for recall (None: all of them, genome-wide).
    positives : DataFrame ``chrom, start, end`` or None
        The positive regions, for the share of calls in a positive region off its sites.

    Returns
    -------
    dict: ``n_calls``; ``share_site``, ``share_decoy_element``, ``share_decoy_region``,
    ``share_elsewhere`` (and ``share_positive_off_site`` with ``positives``), with the
    matching ``n_*`` counts; ``n_sites``, ``recall``, ``recall_by_motif``,
    ``n_sites_by_motif``; ``label_right`` (share of recalled sites whose best call, lowest
    ``q`` then highest ``score``, names the planted motif; None when no call on a site names
    anything), ``label_right_by_motif``, ``label_named`` (share of recalled sites whose best
    call names some motif), ``label_right_calls`` (share of the calls on planted sites that
    name a motif planted under them), ``calls_per_site`` and ``clusters_per_site`` (means
    over recalled sites); ``n_decoy_elements``, ``decoy_elements_hit`` (share overlapped by
    a call), ``share_decoy_calls_named`` (calls on decoy elements naming a motif);
    ``calls_per_kb_site`` and ``calls_per_kb_decoy_element``.
    """
    calls = calls.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    decoys = decoys.reset_index(drop=True)
    n = len(calls)
    names = (calls["match_name"].astype(str).to_numpy() if "match_name" in calls
             else np.full(n, MISSING, dtype=object))
    on_site = overlaps_any(calls, truth)
    on_element = overlaps_any(calls, decoys) & ~on_site
    in_region = overlaps_any(calls, regions) & ~on_site
    elsewhere = ~on_site & ~on_element

    def share(x):
        return float(x.sum() / n) if n else 0.0

    res = {"n_calls": int(n),
           "n_site": int(on_site.sum()), "share_site": share(on_site),
           "n_decoy_element": int(on_element.sum()), "share_decoy_element": share(on_element),
           "n_decoy_region": int(in_region.sum()), "share_decoy_region": share(in_region),
           "n_elsewhere": int(elsewhere.sum()), "share_elsewhere": share(elsewhere)}
    if positives is not None:
        off = overlaps_any(calls, positives) & ~on_site
        res.update(n_positive_off_site=int(off.sum()), share_positive_off_site=share(off))

    # recall and labels at the planted sites that count
    if evaluated is not None:
        truth = truth[centre_inside(truth, evaluated)].reset_index(drop=True)
        decoys = decoys[centre_inside(decoys, evaluated)].reset_index(drop=True)
    t_name = truth["name"].astype(str).to_numpy()
    it, ic = overlap_pairs(truth, calls) if len(truth) and n else (np.zeros(0, int),) * 2
    found = np.zeros(len(truth), dtype=bool)
    found[it] = True
    motifs = sorted(set(t_name), key=str.upper)
    res["n_sites"] = int(len(truth))
    res["recall"] = float(found.mean()) if len(truth) else 0.0
    res["n_sites_by_motif"] = {m: int((t_name == m).sum()) for m in motifs}
    res["recall_by_motif"] = {m: float(found[t_name == m].mean()) for m in motifs}

    # the best call at each recalled site: lowest q, then highest score, then first in order
    q = calls["q"].to_numpy(np.float64) if "q" in calls else np.zeros(n)
    sc = calls["score"].to_numpy(np.float64) if "score" in calls else np.zeros(n)
    order = np.lexsort((ic, -sc[ic], q[ic], it))
    it_o, ic_o = it[order], ic[order]
    first = np.r_[True, it_o[1:] != it_o[:-1]] if len(it_o) else np.zeros(0, bool)
    best_site, best_call = it_o[first], ic_o[first]
    right = same_name(names[best_call], t_name[best_site])
    named = ~pd.Series(names[best_call]).astype(str).str.strip().isin([MISSING, ""]).to_numpy()
    any_named = bool(named.any())
    res["label_named"] = float(named.mean()) if len(best_site) else 0.0
    res["label_right"] = float(right.mean()) if len(best_site) and any_named else None
    if "family" in calls and "family" in truth:  # the JASPAR family of the name, not the name
        fam = same_family(calls["family"].to_numpy()[best_call], truth["family"].to_numpy()[best_site])
        res["label_family_right"] = float(fam.mean()) if len(best_site) and any_named else None
    res["label_right_by_motif"] = {
        m: (float(right[t_name[best_site] == m].mean())
            if any_named and (t_name[best_site] == m).any() else None) for m in motifs}
    # call level: a call on planted sites is right when it names one of them
    pair_right = same_name(names[ic], t_name[it])
    calls_on = np.unique(ic)
    right_calls = np.unique(ic[pair_right])
    res["label_right_calls"] = (float(len(right_calls) / len(calls_on))
                                if len(calls_on) and any_named else None)
    per_site = np.bincount(it, minlength=len(truth))[found]
    res["calls_per_site"] = float(per_site.mean()) if found.any() else 0.0
    if len(it):
        label = (calls["cluster"].astype(str).to_numpy() if "cluster" in calls else names)
        if "detector" in calls:  # CAM calls (cluster ".") count as one detector
            det = calls["detector"].astype(str).to_numpy()
            label = np.where(pd.Series(label).isin([MISSING, ""]).to_numpy(), det, label)
        pairs = pd.DataFrame({"site": it, "label": label[ic]}).drop_duplicates()
        res["clusters_per_site"] = float(pairs.groupby("site").size().mean())
    else:
        res["clusters_per_site"] = 0.0

    # the decoy elements
    je, ce = (overlap_pairs(decoys, calls) if len(decoys) and n else (np.zeros(0, int),) * 2)
    res["n_decoy_elements"] = int(len(decoys))
    res["decoy_elements_hit"] = float(len(np.unique(je)) / len(decoys)) if len(decoys) else 0.0
    named_dec = ~pd.Series(names[on_element]).astype(str).isin([MISSING, ""]).to_numpy()
    res["share_decoy_calls_named"] = float(named_dec.mean()) if on_element.any() else 0.0
    site_kb = (truth["end"] - truth["start"]).sum() / 1000 if len(truth) else 0
    dec_kb = (decoys["end"] - decoys["start"]).sum() / 1000 if len(decoys) else 0
    res["calls_per_kb_site"] = float(len(np.unique(ic)) / site_kb) if site_kb else 0.0
    res["calls_per_kb_decoy_element"] = float(len(np.unique(ce)) / dec_kb) if dec_kb else 0.0
    return res


def split_callers(calls: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``filters`` (detector ``filter_*``) and ``cam`` (detector ``cam``) calls of a table."""
    det = calls["detector"].astype(str)
    return {"filters": calls[det.str.startswith("filter")].reset_index(drop=True),
            "cam": calls[det == "cam"].reset_index(drop=True)}


# ====================================================================== clusters
def score_clusters(motifs: pd.DataFrame, planted: list[str], pwm_p: pd.DataFrame | None = None,
                   p_threshold: float = 1e-3, min_share: float = 0.05) -> dict:
    """Clusters per planted motif and where each first appears in the influence ranking.

    Parameters
    ----------
    motifs : DataFrame, ``motifs.tsv`` (``rank``, ``cluster``, ``influence``, ``match_name``)
    planted : list of str, the planted motifs' names
    pwm_p : DataFrame or None
        TomTom p-values, index the clusters, one column per planted name: a cluster is
        assigned to the planted motif it matches best when that p-value is below
        ``p_threshold``.
    min_share : float
        Influential clusters hold at least this share of the total (positive) influence.

    Returns
    -------
    dict: ``n_clusters``, ``n_influential``, ``top4_influence_share``, and for ``by_name``
    (clusters whose ``match_name`` is the motif) and ``by_pwm`` (with ``pwm_p``):
    ``{motif: {"all", "influential", "first_rank"}}``, ``top4_motifs`` (distinct planted
    motifs among the 4 best-ranked clusters), ``one_each`` (every planted motif exactly
    one influential cluster).
    """
    m = motifs.sort_values("rank", kind="stable").reset_index(drop=True)
    infl = np.clip(m["influence"].to_numpy(np.float64), 0, None)
    share = infl / infl.sum() if infl.sum() > 0 else np.zeros(len(m))
    influential = share >= min_share
    res = {"n_clusters": int(len(m)), "n_influential": int(influential.sum()),
           "min_share": min_share, "top4_influence_share": float(share[:4].sum()),
           "influence_share": {str(c): float(s) for c, s in zip(m["cluster"], share)}}

    def tally(assigned: np.ndarray) -> dict:
        per = {}
        for name in planted:
            hit = same_name(assigned, np.full(len(m), name, dtype=object))
            ranks = m["rank"].to_numpy()[hit]
            per[name] = {"all": int(hit.sum()), "influential": int((hit & influential).sum()),
                         "first_rank": int(ranks.min()) if len(ranks) else None}
        top = {a.upper() for a in assigned[:4]}
        return {"motifs": per,
                "top4_motifs": sorted(n for n in planted if n.upper() in top),
                "one_each": all(v["influential"] == 1 for v in per.values())}

    res["by_name"] = tally(m["match_name"].astype(str).to_numpy(dtype=object))
    if pwm_p is not None:
        p = pwm_p.reindex(m["cluster"].astype(str))[planted].to_numpy(np.float64)
        p = np.nan_to_num(p, nan=1.0)
        best = np.argmin(p, axis=1) if len(planted) else np.zeros(len(m), int)
        ok = p[np.arange(len(m)), best] < p_threshold if len(m) else np.zeros(0, bool)
        assigned = np.where(ok, np.array(planted, dtype=object)[best], MISSING)
        res["by_pwm"] = tally(np.asarray(assigned, dtype=object))
        res["by_pwm"]["p_threshold"] = p_threshold
        res["by_pwm"]["assigned"] = {str(c): str(a) for c, a in zip(m["cluster"], assigned)}
    return res


def tomtom_planted(queries: dict[str, np.ndarray], planted: dict[str, np.ndarray],
                   release: str = "JASPAR2026") -> pd.DataFrame:
    """TomTom p-values of each query PWM ``(W, 4)`` against each planted matrix ``(W, 4)``.

    The targets are JASPAR's vertebrate CORE matrices plus the planted ones, so that TomTom's
    background (built from the target columns) is a database's, as in ``seqfm motifs``.

    Returns
    -------
    DataFrame, index the query names, one column per planted name.
    """
    from memelite.tomtom import tomtom

    from seqfm.jaspar import load_jaspar

    db = load_jaspar(release, "CORE", "vertebrates")
    targets = [np.asarray(p, np.float64) for p in db.probs] + list(planted.values())
    qs = [np.ascontiguousarray(np.asarray(q, np.float64).T) for q in queries.values()]
    ts = [np.ascontiguousarray(t.T) for t in targets]
    if not qs:
        return pd.DataFrame(columns=list(planted))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = tomtom(qs, ts, reverse_complement=True)[0]
    p = np.nan_to_num(np.asarray(p, np.float64), nan=1.0)[:, -len(planted):]
    return pd.DataFrame(p, index=list(queries), columns=list(planted))


# ====================================================================== the oracle
def planted_matrices(example: Path) -> dict[str, np.ndarray]:
    """The planted matrices ``(W, 4)`` (sampling probabilities) by motif name, from the ids
    and release in the example's simulate.json."""
    from seqfm.simulate import load_jaspar_motifs

    info = json.loads((example / "simulate.json").read_text())
    mots = load_jaspar_motifs(info["parameters"]["motifs"], info["parameters"]["jaspar_release"])
    return {m.name: m.probs for m in mots}


def planted_families(example: Path) -> dict[str, str]:
    """JASPAR's TF family of each planted motif, by motif name (``"; "``-joined when several)."""
    import warnings

    from pyjaspar import jaspardb

    info = json.loads((example / "simulate.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = jaspardb(release=info["parameters"]["jaspar_release"])
        found = [db.fetch_motif_by_id(mid) for mid in info["parameters"]["motifs"]]
    return {m.name: "; ".join(m.tf_family or []) for m in found}


def same_family(a, b) -> np.ndarray:
    """Whether two arrays of ``"; "``-joined JASPAR family lists share a family."""
    def fams(x):
        return {f.strip() for f in str(x).split(";")} - {"", MISSING, "nan"}
    return np.array([bool(fams(x) & fams(y)) for x, y in zip(a, b)], dtype=bool)


def bh(p: np.ndarray, m: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of the p-values ``p`` out of ``m`` tests in all (the
    untested or unreported ``m - len(p)`` tests having larger p-values)."""
    p = np.asarray(p, np.float64)
    order = np.argsort(p, kind="stable")
    q = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def fimo_genome(genome_fa: Path, pwms: dict[str, np.ndarray], threshold: float = 1e-4
                ) -> pd.DataFrame:
    """FIMO hits of ``pwms`` ``(W, 4)`` over a genome FASTA, both strands, at p < threshold:
    ``chrom, start, end, strand, match_name, p``."""
    from memelite import fimo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hits = fimo({k: np.ascontiguousarray(v.T) for k, v in pwms.items()}, str(genome_fa),
                    threshold=threshold, reverse_complement=True)
    frames = [h for h in hits if len(h)]
    if not frames:
        return pd.DataFrame(columns=["chrom", "start", "end", "strand", "match_name", "p"])
    h = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({"chrom": h["sequence_name"].astype(str).to_numpy(),
                         "start": h["start"].astype(np.int64).to_numpy(),
                         "end": h["end"].astype(np.int64).to_numpy(),
                         "strand": h["strand"].astype(str).to_numpy(),
                         "match_name": h["motif_name"].astype(str).to_numpy(),
                         "p": h["p-value"].astype(float).to_numpy()})


def genome_tests(fai: Path, pwms: dict[str, np.ndarray]) -> int:
    """Tests of a genome-wide scan: 2 strands x every window of every motif."""
    lengths = pd.read_csv(fai, sep="\t", header=None)[1].to_numpy(np.int64)
    return int(sum(2 * np.clip(lengths - p.shape[0] + 1, 0, None).sum() for p in pwms.values()))


# ====================================================================== the example
def genome_checksum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def decoy_elements_path(example: Path, cache: Path = HERE / "out") -> Path:
    """``example/decoy_elements.bed``; for an example written before that file existed, the
    same seeded simulation is rerun once into ``cache`` (keyed by the genome's checksum) and
    its file used, after checking that it reproduces the example's truth.bed."""
    path = example / "decoy_elements.bed"
    if path.is_file():
        return path
    key = genome_checksum(example / "genome.fa")
    folder = cache / f"example_{key}"
    if not (folder / "decoy_elements.bed").is_file():
        from seqfm.simulate import simulate

        p = json.loads((example / "simulate.json").read_text())["parameters"]
        tmp = cache / f".example_{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"{example} has no decoy_elements.bed; simulating it again (seed {p['seed']}) "
              f"into {folder}", file=sys.stderr)
        simulate(tmp, **p)
        if (tmp / "truth.bed").read_bytes() != (example / "truth.bed").read_bytes():
            shutil.rmtree(tmp, ignore_errors=True)
            raise SystemExit(f"{example}: simulating it again with its simulate.json does not "
                             "reproduce truth.bed; give --decoy-elements")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "decoy_elements.bed", folder / "decoy_elements.bed")
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / "decoy_elements.bed"


def test_sequences(dataset: Path, split: str = "test", labels: str = "positive"
                   ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, int]:
    """The evaluated rows of a dataset (as ``seqfm sites`` picks them), its meta table, the
    rows as genome intervals ``chrom, start, end`` and the sequence length."""
    from seqfm.sites import select_rows, to_output_coordinates

    meta = pd.read_csv(dataset / "meta.tsv", sep="\t", dtype={"chrom": str, "name": str},
                       keep_default_na=False)
    lab = np.load(dataset / "labels.npy", mmap_mode="r")
    length = int(np.load(dataset / "codes.npy", mmap_mode="r").shape[1])
    rows = select_rows(meta, np.asarray(lab), split, labels)
    z = np.zeros(len(rows), np.int64)
    chrom, start, end, _ = to_output_coordinates(rows, z, z + length, z, meta, length, False)
    return rows, meta, pd.DataFrame({"chrom": chrom, "start": start, "end": end}), length


# ====================================================================== the benchmark
def run(results: str | Path = ROOT / "results/dna_example",
        example: str | Path = ROOT / "resources/example", decoy_elements: str | Path | None = None,
        split: str = "test", labels: str = "positive", oracle_q: float = 0.05,
        fimo_p: float = 1e-4, tomtom_p: float = 1e-3, min_share: float = 0.05,
        tolerance: float = 10.0) -> dict:
    """Score a results folder against the example's truth; a dict of the figures (see the
    module docstring). Parts whose inputs are missing are left out and named in ``missing``."""
    results, example = Path(results), Path(example)
    t_all = time.perf_counter()
    res: dict = {"results": str(results), "example": str(example), "missing": [],
                 "settings": {"split": split, "labels": labels, "oracle_q": oracle_q,
                              "fimo_p": fimo_p, "tomtom_p": tomtom_p, "min_share": min_share,
                              "tolerance_bp": tolerance}, "seconds": {}}
    if not (example / "truth.bed").is_file():
        res["missing"].append(str(example / "truth.bed"))
        return res
    truth = read_bed(example / "truth.bed")
    regions = read_bed(example / "decoys.bed")
    decoys = read_bed(Path(decoy_elements) if decoy_elements else decoy_elements_path(example))
    positives = read_bed(example / "positives.bed")
    planted = planted_matrices(example)
    names = list(planted)
    families = planted_families(example)
    truth["family"] = truth["name"].map(families).fillna("")
    mt = results / "motifs.tsv"
    cluster_family = ({} if not mt.is_file() else
                      pd.read_csv(mt, sep="\t", keep_default_na=False).set_index("cluster")["match_family"]
                      .astype(str).to_dict())

    def with_family(calls: pd.DataFrame) -> pd.DataFrame:
        """Each call's JASPAR family: its cluster's (motifs.tsv), or its planted motif's (FIMO)."""
        key = calls["cluster"] if "cluster" in calls else calls["match_name"]
        table = cluster_family if "cluster" in calls else families
        return calls.assign(family=key.astype(str).map(table).fillna("").to_numpy())

    res["truth"] = {"planted_sites": len(truth), "decoy_elements": len(decoys),
                    "decoy_regions": len(regions), "positive_regions": len(positives),
                    "motifs": names}

    # genome-wide: the scan, and the FIMO oracle with BH over every test
    t0 = time.perf_counter()
    hits = fimo_genome(example / "genome.fa", planted, fimo_p)
    n_tests = genome_tests(example / "genome.fa.fai", planted)
    hits["q"] = bh(hits["p"].to_numpy(), n_tests)
    oracle = hits[hits["q"] <= oracle_q].reset_index(drop=True)
    res["seconds"]["fimo_genome"] = time.perf_counter() - t0
    gw = {"oracle": {**score_calls(with_family(oracle), truth, decoys, regions, positives=positives),
                     "n_tests": n_tests, "q": oracle_q, "max_p": float(oracle["p"].max())
                     if len(oracle) else None}}
    scan_bed = results / "scan" / "sites.bed"
    if scan_bed.is_file():
        for caller, calls in split_callers(read_bed(scan_bed)).items():
            gw[caller] = score_calls(with_family(calls), truth, decoys, regions, positives=positives)
    else:
        res["missing"].append(str(scan_bed))
    res["genome"] = gw

    # test set: sites.bed on the evaluated sequences, and FIMO on the same sequences
    sites_bed, dataset = results / "sites.bed", results / "dataset"
    if (dataset / "meta.tsv").is_file():
        sys.path.insert(0, str(HERE))
        from bench_sites import fimo_calls

        from seqfm.sites import score_against_truth, to_output_coordinates

        rows, meta, evaluated, length = test_sequences(dataset, split, labels)
        t0 = time.perf_counter()
        codes = np.asarray(np.load(dataset / "codes.npy", mmap_mode="r")[rows])
        fh = fimo_calls(codes, {k: v.T for k, v in planted.items()}, fimo_p)
        chrom, start, end, strand = to_output_coordinates(
            rows[fh["seq"].to_numpy()], fh["start"].to_numpy(), fh["end"].to_numpy(),
            (fh["strand"].to_numpy() == "-").astype(int), meta, length, True)
        fimo_df = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "strand": strand,
                                "match_name": fh["motif"].to_numpy(), "p": fh["p"].to_numpy()})
        fimo_df["q"] = fimo_df["p"]
        res["seconds"]["fimo_test"] = time.perf_counter() - t0
        ts = {"n_sequences": int(len(rows))}

        def both(calls):
            s = score_calls(with_family(calls), truth, decoys, regions, evaluated, positives)
            f = score_against_truth(calls, truth, evaluated, tolerance)
            s.update({k: f[k] for k in ("precision", "f1")}, f1_recall=f["recall"])
            return s

        ts["oracle"] = both(fimo_df)
        if sites_bed.is_file():
            for caller, calls in split_callers(read_bed(sites_bed)).items():
                ts[caller] = both(calls)
                o = ts["oracle"]["f1"]
                ts[caller]["f1_ratio"] = ts[caller]["f1"] / o if o else None
        else:
            res["missing"].append(str(sites_bed))
        res["test"] = ts
    else:
        res["missing"].append(str(dataset / "meta.tsv"))

    # clusters: by name, and by TomTom of the merged PWMs against the planted matrices
    mt, meme = results / "motifs.tsv", results / "interpret" / "motifs.meme"
    if mt.is_file():
        motifs = pd.read_csv(mt, sep="\t", keep_default_na=False)
        pwm_p = None
        if meme.is_file():
            from seqfm.io import read_meme

            t0 = time.perf_counter()
            _, entries = read_meme(meme)
            pwm_p = tomtom_planted({e[0]: e[2] for e in entries}, planted)
            res["seconds"]["tomtom"] = time.perf_counter() - t0
        else:
            res["missing"].append(str(meme))
        res["clusters"] = score_clusters(motifs, names, pwm_p, tomtom_p, min_share)
    else:
        res["missing"].append(str(mt))
    res["seconds"]["total"] = time.perf_counter() - t_all
    return res


def _f(x, fmt="{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def report(res: dict) -> str:
    if "truth" not in res:
        return f"skipped: missing {', '.join(res['missing'])}"
    t = res["truth"]
    names = t["motifs"]
    lines = [f"truth of {res['example']}: {t['planted_sites']} planted sites "
             f"({', '.join(names)}), {t['decoy_elements']} conserved decoy elements without a "
             f"motif in {t['decoy_regions']} decoy regions; results {res['results']}"]
    head = (f"  {'caller':<22}{'calls':>7}{'site':>7}{'dec.el':>7}{'dec.reg':>8}{'else':>6}"
            f"{'recall':>7}" + "".join(f"{n[:6]:>7}" for n in names)
            + f"{'label':>7}{'family':>7}{'dec.hit':>8}")

    def row(label, s, extra=""):
        return (f"  {label:<22}{s['n_calls']:>7}{s['share_site']:>7.3f}"
                f"{s['share_decoy_element']:>7.3f}{s['share_decoy_region']:>8.3f}"
                f"{s['share_elsewhere']:>6.2f}{s['recall']:>7.3f}"
                + "".join(f"{s['recall_by_motif'].get(n, 0):>7.3f}" for n in names)
                + f"{_f(s['label_right']):>7}{_f(s.get('label_family_right')):>7}"
                f"{s['decoy_elements_hit']:>8.3f}{extra}")

    gw = res["genome"]
    o = gw["oracle"]
    lines += [f"genome-wide (scan/sites.bed; the oracle: FIMO with the planted matrices, BH over "
              f"{o['n_tests'] / 1e6:.1f}M tests, q <= {o['q']:g})", head]
    for key, label in (("filters", "seqfm filters"), ("cam", "seqfm CAM"),
                       ("oracle", f"FIMO q<={o['q']:g}")):
        if key in gw:
            lines.append(row(label, gw[key]))
    if "filters" not in gw:
        lines.append("  (no scan/sites.bed in the results: genome-wide calls not measured)")
    if "test" in res:
        ts = res["test"]
        lines += [f"test set (sites.bed; {ts['n_sequences']} sequences, "
                  f"{ts['oracle']['n_sites']} planted sites in them; the oracle: FIMO p < "
                  f"{res['settings']['fimo_p']:g})", head + f"{'F1':>7}{'/FIMO':>7}"]
        for key, label in (("filters", "seqfm filters"), ("cam", "seqfm CAM"),
                           ("oracle", f"FIMO p<{res['settings']['fimo_p']:g}")):
            if key in ts:
                s = ts[key]
                lines.append(row(label, s, f"{s['f1']:>7.3f}{_f(s.get('f1_ratio'), '{:.2f}'):>7}"))
        if "filters" in ts:
            s = ts["filters"]
            lines.append(f"  filter calls on planted sites: {s['calls_per_site']:.1f} calls from "
                         f"{s['clusters_per_site']:.1f} clusters per recalled site, "
                         f"{_f(s['label_right_calls'])} of them name the planted motif")
    if "filters" in gw:
        s = gw["filters"]
        lines.append(f"  genome-wide filter calls: {s['calls_per_kb_site']:.1f} per kb on "
                     f"planted sites, {s['calls_per_kb_decoy_element']:.1f} per kb on decoy "
                     f"elements; {s['share_decoy_calls_named']:.2f} of the decoy calls name a motif")
    if "clusters" in res:
        c = res["clusters"]
        lines.append(f"clusters (motifs.tsv): {c['n_clusters']} in all, {c['n_influential']} "
                     f"holding >= {c['min_share']:.0%} of the influence; the top 4 hold "
                     f"{c['top4_influence_share']:.0%}")
        for key, label in (("by_name", "named"), ("by_pwm", f"TomTom p<{_f(c.get('by_pwm', {}).get('p_threshold'), '{:g}')}")):
            if key not in c:
                continue
            b = c[key]
            per = ", ".join(f"{n} {v['influential']}/{v['all']} (rank {_f(v['first_rank'], '{}')})"
                            for n, v in b["motifs"].items())
            lines.append(f"  {label:<14} influential/all (first rank): {per}; top 4 cover "
                         f"{len(b['top4_motifs'])} of {len(names)}; one cluster each: "
                         f"{'yes' if b['one_each'] else 'no'}")
    lines.append("(site, dec.el, dec.reg, else: shares of the calls on a planted site, on a "
                 "conserved decoy element, in a decoy region, on neither; recall: planted sites "
                 "a call overlaps; label: recalled sites whose best call names the planted "
                 "motif; family: ... a motif of its JASPAR family; dec.hit: decoy elements a call "
                 "overlaps)")
    if res["missing"]:
        lines.append("not measured (missing): " + ", ".join(res["missing"]))
    sec = res["seconds"]
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in sec.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=str(ROOT / "results/dna_example"))
    ap.add_argument("--example", default=str(ROOT / "resources/example"))
    ap.add_argument("--decoy-elements", default=None,
                    help="decoy elements BED (default: EXAMPLE/decoy_elements.bed)")
    ap.add_argument("--json", default=str(HERE / "out" / "truth.json"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--labels", default="positive", choices=["positive", "negative", "all"])
    ap.add_argument("--oracle-q", type=float, default=0.05)
    ap.add_argument("--fimo-p", type=float, default=1e-4)
    ap.add_argument("--tomtom-p", type=float, default=1e-3)
    ap.add_argument("--min-share", type=float, default=0.05)
    a = ap.parse_args(argv)
    res = run(a.results, a.example, a.decoy_elements, a.split, a.labels, a.oracle_q, a.fimo_p,
              a.tomtom_p, a.min_share)
    print(report(res))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
