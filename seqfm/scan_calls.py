"""Candidates to calls: the scan's candidate peaks (kept with their p-values, conservation
strata and intervals), their file, genome-wide Benjamini–Hochberg within each detector and
stratum, one call per site, and each call named after the motif whose PWM explains its
sequence (:mod:`seqfm.labels`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import labels as labels_mod
from . import significance as sig
from .alphabet import DNA
from .errors import InputError
from .featuremaps import site_intervals
from .io import Genome, atomic_write
from .scanner import GenomeSource, Scanner
from .significance import ScanNull
from .calls import BED_HEADER, filter_name, merge_overlapping, score_of

log = logging.getLogger("seqfm")

CANDIDATE_COLUMNS = ["chrom", "pos", "start", "end", "strand", "detector", "activation", "p", "rel",
                     "stratum"]


def raise_thresholds(thresholds: np.ndarray, null: ScanNull, fbuf, cbuf, n_filters: int) -> None:
    """Once a full buffer has dropped p-values, a candidate at or above its smallest dropped p
    would be dropped too: raise the scan's value thresholds (in place) so that the scan stops
    returning them (the kept candidates and the test counts do not change)."""
    for buf, sl in ((fbuf, slice(0, n_filters)), (cbuf, slice(n_filters, n_filters + 1))):
        if buf.p_dropped < buf.p_cut:
            buf.p_cut = buf.p_dropped
            thresholds[sl] = np.maximum(thresholds[sl], null.detector_thresholds(buf.p_dropped)[sl])


class CandidateBuffer:
    """Candidates with ``p <= p_max`` of one family, at most ``limit`` kept (smallest p)."""

    def __init__(self, p_max: float, limit: int) -> None:
        self.p_max, self.limit = p_max, limit
        self.parts: list[dict] = []
        self.n = 0
        self.p_dropped = 1.0  # smallest p-value dropped by the limit
        self.p_cut = 1.0  # the p_dropped the scan's thresholds were last raised to

    def add(self, cols: dict) -> None:
        if not len(cols["p"]):
            return
        self.parts.append(cols)
        self.n += len(cols["p"])
        if self.n > 2 * self.limit:
            self._trim()

    def _trim(self) -> None:
        allc = self.columns()
        if not allc or len(allc["p"]) <= self.limit:
            return
        order = np.argsort(allc["p"], kind="stable")
        keep, drop = order[: self.limit], order[self.limit:]
        self.p_dropped = min(self.p_dropped, float(allc["p"][drop].min()))
        keep = np.sort(keep)
        self.parts = [{k: v[keep] for k, v in allc.items()}]
        self.n = len(keep)

    def columns(self) -> dict:
        if not self.parts:
            return {}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}

    def finish(self) -> dict:
        self._trim()
        return self.columns()


def candidate_columns(chrom_codes, chrom_names, res: dict, scanner: Scanner, null: ScanNull,
                      stranded: bool) -> dict:
    """Candidates (dict of arrays) to the columns of :data:`CANDIDATE_COLUMNS` as arrays
    (``chrom`` as codes into ``chrom_names``, which is added; strands as one letter)."""
    s, e = site_intervals(res["pos"], res["strand"], res["det"], scanner.cores, scanner.width)
    det_idx = np.where(res["det"] < 0, scanner.n_filters, res["det"])
    rel = res["value"] / null.detector_maxima()[det_idx]
    strand = (np.where(res["strand"] == 1, "-", "+") if stranded
              else np.full(len(s), ".")).astype("U1")
    return {"chrom": np.asarray(chrom_codes, np.int32), "pos": np.asarray(res["pos"], np.int64),
            "start": s, "end": e, "strand": strand, "detector": res["det"].astype(np.int64),
            "activation": res["value"].astype(np.float64), "p": np.asarray(res["p"], np.float64),
            "rel": rel.astype(np.float64), "stratum": np.asarray(res["stratum"], np.int8),
            "chrom_names": np.asarray(chrom_names, dtype=str)}


def candidates_frame(cols: dict) -> pd.DataFrame:
    """The candidate table of :data:`CANDIDATE_COLUMNS` from :func:`candidate_columns`."""
    frame = {k: cols[k] for k in CANDIDATE_COLUMNS}
    frame["chrom"] = pd.Categorical.from_codes(cols["chrom"], cols["chrom_names"])
    return pd.DataFrame(frame)


def _merge_groups(det: np.ndarray, n_filters: int, merge: str, labels) -> np.ndarray:
    """The group each candidate merges within (one for all filters, one per cluster, the CAM's)."""
    if merge == "all":
        return (det >= 0).astype(np.int64)
    clusters = np.array((list(labels.cluster) if labels is not None else ["."] * n_filters)
                        + ["."], dtype=object)
    names = np.array([filter_name(k) for k in range(n_filters)] + ["cam"], dtype=object)
    return pd.factorize(np.where(clusters != ".", clusters, names))[0][np.where(det < 0, n_filters, det)]


def _null_merger(merge: str, labels):
    """For :func:`seqfm.significance.site_level_by_family`: the null's peaks merged as the real
    candidates are (overlapping peaks of one merge group on one null window)."""
    def merger(peaks: dict, n_det: int):
        det = peaks["detector"]
        mg = _merge_groups(np.where(det == n_det - 1, -1, det), n_det - 1, merge, labels)
        key = peaks["key"] * (n_det + 2) + mg

        def merged(sel: np.ndarray) -> int:
            if merge == "none":
                return len(sel)
            order = np.argsort(peaks["p"][sel], kind="stable")
            return int(merge_overlapping(peaks["start"][sel], peaks["end"][sel], key[sel], order).sum())

        return merged

    return merger


def call_table(cands: pd.DataFrame, n_tests: dict, q: float, merge: str,
               labels=None, strata_tests=None, null=None) -> pd.DataFrame:
    """BH within each detector and conservation stratum (:func:`seqfm.significance.stratified_bh`;
    ``strata_tests`` ``(F + 1, S)``: the tests of each, the CAM last; without it every detector
    is given its whole family's tests, ``n_tests``), keep ``q <= q``, merge overlapping calls,
    and return the BED table of
    :data:`seqfm.sites.BED_HEADER` (sorted by chrom, start, end, name)."""
    if cands.empty:
        return pd.DataFrame(columns=BED_HEADER)
    det = cands["detector"].to_numpy()
    p = cands["p"].to_numpy(np.float64)
    stratum = (cands["stratum"].to_numpy(np.int64) if "stratum" in cands
               else np.zeros(len(cands), np.int64))
    n_det = int(max(det.max(initial=-1) + 2, len(labels.cluster) + 1 if labels is not None else 0))
    if strata_tests is None:  # no counts per detector: every detector gets its family's tests
        fam = np.zeros((n_det, 1))
        fam[:-1], fam[-1] = n_tests.get("filters", 0), n_tests.get("cam", 0)
        strata_tests = fam
    m = np.asarray(strata_tests, np.float64)
    if m.shape[1] <= stratum.max(initial=0) or m.shape[0] < det.max(initial=-1) + 2:
        raise InputError("scan candidates carry more detectors or conservation strata than "
                         "their test counts")
    d_idx = np.where(det < 0, m.shape[0] - 1, det)
    qv = sig.stratified_bh(p, d_idx, stratum, m)
    n_filters = int(max(det.max() + 1, len(labels.cluster) if labels is not None else 0))
    merge_group = _merge_groups(det, n_filters, merge, labels)
    chrom_code = pd.factorize(cands["chrom"])[0]
    order = np.lexsort((cands["pos"].to_numpy(), -cands["rel"].to_numpy(), p))

    def merged_count(mask):
        if merge == "none":
            return int(mask.sum())
        keep = merge_overlapping(cands["start"].to_numpy()[mask], cands["end"].to_numpy()[mask],
                                 (chrom_code * (n_filters + 2) + merge_group)[mask],
                                 np.argsort(np.argsort(order)[mask], kind="stable"))
        return int(keep.sum())

    if null is not None and null.peaks is not None and null.n_strata == m.shape[1]:
        qv = sig.site_level_by_family(qv, p, d_idx * m.shape[1] + stratum, d_idx == null.n_detectors - 1, q,
                                      null, m, merged_count, _null_merger(merge, labels))
    c = cands.assign(q=qv)
    c = c[c["q"] <= q].reset_index(drop=True)
    if c.empty:
        return pd.DataFrame(columns=BED_HEADER)
    det = c["detector"].to_numpy()
    # per-detector names (index n_filters: the CAM), looked up per call
    clusters = np.array((list(labels.cluster) if labels is not None else ["."] * n_filters)
                        + ["."], dtype=object)
    matches = np.array((list(labels.match_name) if labels is not None else ["."] * n_filters)
                       + ["."], dtype=object)
    names = np.array([filter_name(k) for k in range(n_filters)] + ["cam"], dtype=object)
    labels_of = np.where(clusters != ".", clusters, names)
    d = np.where(det < 0, n_filters, det)
    chrom_code, chrom_names = pd.factorize(c["chrom"])
    if merge != "none":
        g = _merge_groups(det, n_filters, merge, labels)
        keep = merge_overlapping(c["start"].to_numpy(), c["end"].to_numpy(),
                                 chrom_code * (n_filters + 2) + g,
                                 np.lexsort((c["pos"].to_numpy(), -c["rel"].to_numpy(),
                                             c["p"].to_numpy())))
        c, d, chrom_code = c[keep], d[keep], chrom_code[keep]
    strand = c["strand"].to_numpy().astype(object)
    if labels is not None and hasattr(labels, "flipped"):
        # as in seqfm.sites: a filter whose JASPAR match lies on its reverse strand reports
        # the matched motif's orientation
        fl = labels.flipped(c["detector"].to_numpy())
        strand = np.where(fl & (strand == "+"), "-", np.where(fl & (strand == "-"), "+", strand))
    # name "label:chrom", made once per distinct pair
    pair, inverse = np.unique(d * len(chrom_names) + chrom_code, return_inverse=True)
    pair_names = np.array([f"{labels_of[p // len(chrom_names)]}:{chrom_names[p % len(chrom_names)]}"
                           for p in pair.tolist()], dtype=object)
    table = pd.DataFrame({
        "chrom": np.asarray(chrom_names, dtype=object)[chrom_code],
        "start": c["start"].to_numpy(np.int64), "end": c["end"].to_numpy(np.int64),
        "name": pair_names[inverse.reshape(-1)], "score": score_of(c["q"].to_numpy()),
        "strand": strand, "detector": names[d], "cluster": clusters[d],
        "activation": c["activation"].to_numpy(), "p": c["p"].to_numpy(), "q": c["q"].to_numpy(),
        "match_name": matches[d]})
    return table.sort_values(["chrom", "start", "end", "name"], kind="mergesort").reset_index(drop=True)


def candidate_strata(source, pos: np.ndarray, width: int, edges: np.ndarray,
                     input_tracks: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Conservation stratum of each candidate window ``[pos, pos + width)`` of ``source``
    (the tracks taken once over the span of the candidates: from ``input_tracks``, the tiles
    the scan read them for, when they cover it; 0 without tracks or strata)."""
    pos = np.asarray(pos, np.int64)
    if not len(edges) or not len(pos):
        return np.zeros(len(pos), np.int8)
    lo, hi = int(pos.min()), int(pos.max()) + width
    tr = _span_from_tiles(input_tracks, lo, hi)
    if tr is None:
        tr = source.tracks(lo, hi)
    if tr is None:
        return np.zeros(len(pos), np.int8)
    return sig.stratum_of(sig.window_means(tr, width)[pos - lo], edges).astype(np.int8)


def _span_from_tiles(input_tracks, lo: int, hi: int) -> np.ndarray | None:
    """Tracks ``(T, hi - lo)`` put together from tiles' tracks ``(starts (B,), values (B, T, L))``;
    None when the tiles do not cover ``[lo, hi)``."""
    if input_tracks is None:
        return None
    starts, values = input_tracks
    out = np.empty((values.shape[1], hi - lo), np.float32)
    covered = lo
    for s, v in sorted(zip(starts.tolist(), values), key=lambda sv: sv[0]):
        a, b = max(covered, s), min(hi, s + v.shape[1])
        if a > covered:
            return None  # a gap
        if b > a:
            out[:, a - lo:b - lo] = v[:, a - s:b - s]
            covered = b
    return out if covered >= hi else None


def write_candidates(cols: dict, path: Path) -> None:
    """The candidate columns of :func:`candidate_columns` as ``.npz`` (no pickles)."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **cols)


def read_candidates(path: str | os.PathLike) -> pd.DataFrame:
    """Read a shard's ``candidates.npz``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no candidate table (is this a `seqfm scan` shard folder?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            cols = {c: z[c] for c in CANDIDATE_COLUMNS}
            names = z["chrom_names"].astype(object)
        cols["chrom"] = names[cols["chrom"]] if len(names) else cols["chrom"].astype(object)
        return pd.DataFrame(cols)
    except (OSError, KeyError, ValueError, IndexError) as err:
        raise InputError(f"{path}: not a scan candidate table ({err})") from None


#: calls whose flanks start within the same this many bases are named from one read of the genome
NAME_BLOCK = 1_000_000


def _call_windows(genome, calls: pd.DataFrame, alphabet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes of each call's interval ``±labels.FLANK`` as one ``(N, L)`` array padded with
    255 and their lengths (as :func:`seqfm.labels.pad` makes them), and the letter counts
    ``(A,)`` of every call's ``±labels.BG_FLANK`` summed over the calls. The genome is read
    once per block of nearby calls (:data:`NAME_BLOCK`), not call by call."""
    chrom = calls["chrom"].astype(str).to_numpy()
    start = calls["start"].to_numpy(np.int64)
    end = calls["end"].to_numpy(np.int64)
    sizes = np.array([genome.sizes[c] for c in chrom], np.int64)
    w_lo, w_hi = np.maximum(start - labels_mod.FLANK, 0), np.minimum(end + labels_mod.FLANK, sizes)
    b_lo, b_hi = np.maximum(start - labels_mod.BG_FLANK, 0), np.minimum(end + labels_mod.BG_FLANK, sizes)
    lengths = w_hi - w_lo
    windows = np.full((len(calls), int(lengths.max(initial=0))), 255, np.uint8)
    counts = np.zeros(alphabet.size, np.int64)
    cols = np.arange(windows.shape[1])
    # blocks: the calls of one chromosome whose flanks start in the same NAME_BLOCK bases
    block = pd.factorize(chrom)[0] * (int(sizes.max(initial=0)) // NAME_BLOCK + 1) + b_lo // NAME_BLOCK
    order = np.argsort(block, kind="stable")
    for idx in np.split(order, np.flatnonzero(np.diff(block[order])) + 1):
        lo, hi = int(b_lo[idx].min()), int(b_hi[idx].max())
        codes = GenomeSource(genome, chrom[idx[0]], alphabet).read(lo, hi)
        # each base counted once per call whose flanks cover it
        depth = np.zeros(hi - lo + 1, np.int64)
        np.add.at(depth, b_lo[idx] - lo, 1)
        np.add.at(depth, b_hi[idx] - lo, -1)
        depth = np.cumsum(depth[:-1])
        counts += np.bincount(codes, weights=depth, minlength=256)[:alphabet.size].astype(np.int64)
        at = w_lo[idx, None] - lo + cols[None, :]
        inside = cols[None, :] < lengths[idx, None]
        windows[idx] = np.where(inside, codes[np.minimum(at, len(codes) - 1)], 255)
    return windows, lengths, counts


def name_calls(table: pd.DataFrame, labels, genome_path) -> pd.DataFrame:
    """The call table with each filter call named after the cluster whose PWM explains its
    sequence best (:mod:`seqfm.labels`; the genome read at the calls, the background being
    the letters within :data:`seqfm.labels.BG_FLANK` of them). Unchanged without a namer or
    without the genome."""
    namer = getattr(labels, "namer", None)
    if namer is None or table.empty or not genome_path or not Path(genome_path).is_file():
        return table
    rows = np.flatnonzero(table["detector"].astype(str).to_numpy() != "cam")
    if not len(rows):
        return table
    genome = Genome(genome_path)
    windows, lengths, counts = _call_windows(genome, table.iloc[rows], DNA)
    background = labels_mod.frequencies(counts)
    take, k, rev = labels_mod.choose(namer, windows, lengths, background,
                                     table["cluster"].to_numpy()[rows])
    rows, k, rev = rows[take], k[take], rev[take]
    table = table.copy()
    cluster = np.asarray(namer.clusters, dtype=object)[k]
    table.loc[rows, "cluster"] = cluster
    table.loc[rows, "match_name"] = np.asarray(namer.match_names, dtype=object)[k]
    table.loc[rows, "name"] = [f"{a}:{b}" for a, b in zip(cluster, table["chrom"].to_numpy()[rows])]
    table.loc[rows, "strand"] = np.where(rev, "-", "+")
    return table.sort_values(["chrom", "start", "end", "name"], kind="mergesort").reset_index(drop=True)
