"""A scan in shards: one shard's chromosomes scanned to its files (candidates with p-values,
bigWigs, ``scan.json``; the calls too when it is not to be merged), and shards gathered into
genome-wide calls and tracks (``seqfm scan-merge``)."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .bigwig import TrackWriter, merge_tracks
from .browser import write_scan_files
from .errors import InputError
from .io import save_json
from .scan_calls import (CandidateBuffer, call_table, candidate_columns, candidate_strata,
                         candidates_frame, name_calls, raise_thresholds, read_candidates,
                         write_candidates)
from .scanner import Scanner
from .significance import ScanNull
from .alphabet import DNA
from .calls import read_filter_labels, write_calls

#: the :class:`~seqfm.scanner.ScanConfig` fields that build the null, not the scan
NULL_OPTIONS = ("null_bases", "null_window", "tail_fraction")

log = logging.getLogger("seqfm")


@dataclass
class ShardResult:
    """What one shard wrote."""

    out: Path
    n_calls: int | None  # None: a workflow shard (the merge makes the calls)
    n_candidates: int
    n_tests: dict
    bases: int
    seconds: float
    files: dict


def scan_sources(scanner: Scanner, sources: Sequence, null: ScanNull, out: str | os.PathLike,
                 sizes: dict, labels=None, progress: bool = False, protein: bool = False,
                 text: bool = True, genome: str | None = None) -> ShardResult:
    """Scan ``sources`` (chromosomes of one shard) and write the shard's files to ``out``:
    ``candidates.npz``, the bigWigs and ``scan.json``, and with ``text`` the calls as
    ``sites.bed`` and ``sites.gff3`` with their browser files (:mod:`seqfm.browser`; a
    workflow shard leaves those to the merge). ``genome``: the FASTA's path, recorded in
    ``scan.json`` for the IGV session."""
    cfg = scanner.config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    thresholds = null.detector_thresholds(cfg.q).astype(np.float32)
    names = ["cam"] + [f"filter_{k}" for k in scanner.track_filters]
    bw_paths = [out / f"{n}.bw" for n in names]
    writer = TrackWriter(bw_paths, sizes, cfg.bin, cfg.zooms)
    fbuf = CandidateBuffer(cfg.q, cfg.max_candidates)
    cbuf = CandidateBuffer(cfg.q, cfg.max_candidates)
    n_tests = {"filters": 0, "cam": 0}
    tests = np.zeros((scanner.n_filters + 1, null.n_strata))  # per detector and stratum
    share = null.shares()
    bases = 0
    stranded = scanner.alphabet.complement is not None
    ok = False
    try:
        for si, src in enumerate(sources):
            for res in scanner.scan(src, thresholds, progress=progress, want_tracks=True):
                bases += res["bases"]
                n_tests["filters"] += int(res["n_tests"][: scanner.n_filters].sum())
                n_tests["cam"] += int(res["n_tests"][scanner.n_filters])
                tests += res["n_tests"][:, None] * share
                for start, vals in res["tracks"]:
                    writer.add(src.name, start, vals)
                if not len(res["value"]):
                    continue
                det_idx = np.where(res["det"] < 0, scanner.n_filters, res["det"])
                res["stratum"] = candidate_strata(src, res["pos"], scanner.width, null.edges,
                                                    res["input_tracks"])
                p = null.pvalues(det_idx, res["value"], stratum=res["stratum"])
                keep = p <= cfg.q
                if not keep.any():
                    continue
                cols = {k: res[k][keep] for k in ("pos", "det", "strand", "value", "stratum")}
                cols["p"] = p[keep]
                cols["src"] = np.full(int(keep.sum()), si, np.int32)
                cols["det"] = cols["det"].astype(np.int32)
                isf = cols["det"] >= 0
                fbuf.add({k: v[isf] for k, v in cols.items()})
                cbuf.add({k: v[~isf] for k, v in cols.items()})
                raise_thresholds(thresholds, null, fbuf, cbuf, scanner.n_filters)
        ok = True
    finally:
        writer.close(ok)
    t_scan = time.perf_counter() - t0  # tiles, model, peaks, p-values, bigWigs written
    parts = [cols for cols in (fbuf.finish(), cbuf.finish()) if cols]
    if parts:  # one table sorted by chrom, pos, detector; chromosomes as categories
        cols = {k: np.concatenate([c[k] for c in parts]) for k in parts[0]}
        chroms = sorted({s.name for s in sources})
        rank = np.array([chroms.index(s.name) for s in sources], np.int64)[cols["src"]]
        order = np.lexsort((cols["det"], cols["pos"], rank))
        cols = {k: v[order] for k, v in cols.items()}
        cands = candidate_columns(rank[order], chroms, cols, scanner, null, stranded)
    else:
        empty = {"pos": np.zeros(0, np.int64), "det": np.zeros(0, np.int64),
                 "strand": np.zeros(0, np.int8), "value": np.zeros(0, np.float32),
                 "p": np.zeros(0), "stratum": np.zeros(0, np.int8)}
        cands = candidate_columns(np.zeros(0, np.int32), [], empty, scanner, null, stranded)
    n_cands = len(cands["pos"])
    strata_tests = [[float(x) for x in row] for row in tests]  # (F + 1, S)
    p_dropped = min(fbuf.p_dropped, cbuf.p_dropped)
    # a workflow shard's calls would be thrown away: the merge makes them genome-wide
    table = (name_calls(call_table(candidates_frame(cands), n_tests, cfg.q, cfg.merge, labels,
                                   strata_tests, null), labels, genome) if text else None)
    t_calls = time.perf_counter() - t0  # + BH q-values and merged calls, in memory
    n_calls = None if table is None else int(len(table))
    cand_path = out / "candidates.npz"
    write_candidates(cands, cand_path)
    files = {"candidates": str(cand_path), "tracks": [str(p) for p in bw_paths]}
    if text:
        write_calls(table, out / "sites.bed", out / "sites.gff3", protein=protein)
        files.update(sites_bed=str(out / "sites.bed"), sites_gff3=str(out / "sites.gff3"))
        files.update(write_scan_files(out, sizes, genome, [out / "cam.bw"]))
    seconds = time.perf_counter() - t0
    summary = {"chroms": [s.name for s in sources], "sizes": sizes, "bases": bases,
               "n_filters": scanner.n_filters, "filter_width": scanner.width,
               "n_tests": n_tests, "n_tests_strata": strata_tests, "n_candidates": n_cands,
               "null": null.info.get("path"), "p_dropped": p_dropped,
               "n_calls": n_calls, "q": cfg.q, "seconds": seconds,
               "seconds_scan_tracks": t_scan, "seconds_calls_in_memory": t_calls if text else None,
               "bases_per_s": bases / seconds if seconds else None, "tracks": names,
               "config": _scan_options(cfg), "null_info": null.info, "files": files, "genome": genome}
    save_json(summary, out / "scan.json")
    calls = f"{n_calls} calls at q <= {cfg.q:g}" if text else "calls left to the merge"
    log.info("scanned %s: %d bases in %.1f s (%.2f Mb/s), %d candidates, %s",
             ",".join(s.name for s in sources), bases, seconds, bases / max(seconds, 1e-9) / 1e6,
             n_cands, calls)
    files["timing"] = {"scan_tracks": t_scan, "calls_in_memory": t_calls if text else None,
                       "total": seconds}
    return ShardResult(out, n_calls, n_cands, n_tests, bases, seconds, files)


def _scan_options(cfg) -> dict:
    """The scan's options for ``scan.json``, without those that build the null: a shard reads a
    null built elsewhere, whose own record (``null_info``: bases, windows, seed, tail fraction,
    strata) says how it was made."""
    return {k: v for k, v in asdict(cfg).items() if k not in NULL_OPTIONS}


def merge_shards(shards: Sequence[str | os.PathLike], out: str | os.PathLike, q: float | None = None,
                 merge: str | None = None, filters_tsv: str | os.PathLike | None = None,
                 protein: bool = False) -> dict:
    """Gather shard folders into ``out/sites.bed``, ``out/sites.gff3`` (genome-wide q-values:
    BH over every shard's candidates with the summed number of tests) and one bigWig per track
    (``out/cam.bw`` ...), sorted, with one header. ``q`` and ``merge`` default to what the shards
    recorded in ``scan.json``; ``filters_tsv`` (``interpret/filters.tsv``) names the calls."""
    out = Path(out)
    shards = [Path(s) for s in shards]
    infos = []
    for s in shards:
        f = s / "scan.json"
        if not f.is_file():
            raise InputError(f"{s}: not a scan shard folder (no scan.json)")
        infos.append(json.loads(f.read_text()))
    if not infos:
        raise InputError("scan-merge needs at least one shard folder")
    q = infos[0]["q"] if q is None else q
    merge = merge or infos[0]["config"].get("merge", "all")
    labels = read_filter_labels(filters_tsv, int(infos[0]["n_filters"]), DNA) if filters_tsv else None
    n_tests = {"filters": sum(i["n_tests"]["filters"] for i in infos),
               "cam": sum(i["n_tests"]["cam"] for i in infos)}
    strata_tests = None  # tests per conservation stratum
    if all("n_tests_strata" in i for i in infos):
        strata_tests = np.sum([i["n_tests_strata"] for i in infos], axis=0).tolist()
    cands = pd.concat([read_candidates(s / "candidates.npz") for s in shards], ignore_index=True)
    p_dropped = min(i.get("p_dropped", 1.0) for i in infos)
    null_file = infos[0].get("null")
    null = ScanNull.load(null_file) if null_file and Path(null_file).is_file() else None
    if null is None:
        log.warning("the shards' null (%s) is not there: q-values are per detector and stratum, "
                    "not measured on merged calls", null_file)
    table = name_calls(call_table(cands, n_tests, q, merge, labels, strata_tests, null), labels,
                       infos[0].get("genome"))
    if len(table) and table["p"].max() >= p_dropped:
        log.warning("the candidate limit dropped p-values down to %.3g; q-values near the cut are "
                    "upper bounds (raise scan max_candidates)", p_dropped)
    out.mkdir(parents=True, exist_ok=True)
    write_calls(table, out / "sites.bed", out / "sites.gff3", protein=protein)
    names = infos[0].get("tracks", ["cam"])
    bin_ = int(infos[0]["config"].get("bin", 1))
    for name in names:
        merge_tracks([s / f"{name}.bw" for s in shards], out / f"{name}.bw", bin_)
    sizes = {c: n for i in infos for c, n in (i.get("sizes") or {}).items()}
    browser_files = write_scan_files(out, sizes, infos[0].get("genome"), [out / "cam.bw"])
    bases = sum(i["bases"] for i in infos)
    seconds = sum(i["seconds"] for i in infos)
    summary = {"shards": [str(s) for s in shards], "bases": bases, "n_tests": n_tests,
               "n_candidates": int(len(cands)), "n_calls": int(len(table)),
               "n_filter_calls": int((table["detector"] != "cam").sum()) if len(table) else 0,
               "n_cam_calls": int((table["detector"] == "cam").sum()) if len(table) else 0,
               "q": q, "scan_seconds": seconds, "bases_per_s": bases / seconds if seconds else None,
               "tracks": [str(out / f"{n}.bw") for n in names],
               "sites_bed": str(out / "sites.bed"), "sites_gff3": str(out / "sites.gff3"),
               **browser_files}
    save_json(summary, out / "summary.json")
    log.info("merged %d shards: %d calls at q <= %g, tracks %s", len(shards), len(table), q,
             ", ".join(summary["tracks"]))
    return summary
