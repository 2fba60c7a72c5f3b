"""The scan's null: the genome's own windows dinucleotide-shuffled with their tracks kept in
place, scanned like the genome, every detector's peak values kept per conservation stratum
(:mod:`seqfm.significance` fits their tails and writes the file)."""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from . import significance as sig
from .errors import InputError
from .featuremaps import site_intervals
from .negatives import shuffle_batch
from .scanner import ArraySource, GenomeSource, ScanConfig, Scanner
from .significance import NullModel, ScanNull

log = logging.getLogger("seqfm")


def sample_null_windows(genome, chroms: Sequence[str], total: int, window: int, seed: int,
                        alphabet, max_n_fraction: float = 0.01) -> list[tuple[str, int, int]]:
    """Seeded genome windows for the null: chromosomes drawn in proportion to their length,
    windows with at most ``max_n_fraction`` N. Returns ``(chrom, start, end)`` triples."""
    sizes = np.array([genome.sizes[c] for c in chroms], dtype=np.float64)
    usable = sizes >= min(window, sizes.max()) if len(sizes) else sizes
    if not len(sizes) or sizes.max() < 1:
        return []
    window = int(min(window, sizes.max()))
    weights = np.where(usable, sizes, 0.0)
    weights = weights / weights.sum()
    if total >= sizes.sum():  # the whole genome, window by window
        return [(c, s, min(s + window, int(n))) for c, n in zip(chroms, sizes)
                for s in range(0, int(n), window)
                if genome.fetch(c, s, min(s + window, int(n))).upper().count("N")
                <= max_n_fraction * (min(s + window, int(n)) - s)]
    rng = np.random.default_rng([seed, 7919])
    n_want = max(1, int(math.ceil(total / window)))
    out, tries = [], 0
    while len(out) < n_want and tries < 20 * n_want:
        tries += 1
        k = int(rng.choice(len(chroms), p=weights))
        start = int(rng.integers(0, int(sizes[k]) - window + 1))
        seq = genome.fetch(chroms[k], start, start + window).upper()
        if seq.count("N") <= max_n_fraction * window:
            out.append((chroms[k], start, start + window))
    return out


def build_null(scanner: Scanner, sources: Sequence, config: ScanConfig, fingerprint: str = "",
               progress: bool = False) -> ScanNull:
    """Dinucleotide-shuffle each source with its tracks kept in place, scan it with the same
    tiling and collect every detector's peak values per conservation stratum (see
    :mod:`seqfm.significance`); the top of each group's values is kept (:func:`trimmed`)."""
    n_filters = scanner.n_filters
    tracks = [src.tracks(0, src.length) for src in sources]
    # each window's track mean, once per source: the strata's edges, the positions' shares and
    # every null peak's stratum
    means = [sig.window_means(t, scanner.width) if t is not None else None for t in tracks]
    known = [m for m in means if m is not None]
    edges = sig.strata_edges(np.concatenate(known), config.strata) if known else np.zeros(0)
    n_strata = len(edges) + 1
    n_groups = (n_filters + 1) * n_strata
    counts = np.zeros((n_filters + 1, n_strata))
    floors = np.zeros((n_filters + 1, n_strata))
    floors[n_filters] = -np.inf
    floors = floors.ravel()
    kept_g, kept_v = np.zeros(0, np.int64), np.zeros(0, np.float32)
    kept_x = {k: np.zeros(0, np.int64) for k in ("key", "start", "end")}
    pending: list[dict] = []
    bases = 0

    def flush():
        # every group's upper tail, with where each peak lies (to merge null calls later)
        nonlocal kept_g, kept_v, kept_x, floors, pending
        if not pending:
            return
        cols = {k: np.concatenate([kept_x[k]] + [p[k] for p in pending]) for k in kept_x}
        g = np.concatenate([kept_g] + [p["group"] for p in pending])
        v = np.concatenate([kept_v] + [p["value"] for p in pending])
        values, cols = sig.sort_by_group(g, v, n_groups, **cols)
        values, floors, cols = sig.trimmed(values, floors, keep=0.1, extra=cols)
        kept_v = np.concatenate(values) if values else np.zeros(0, np.float32)
        kept_g = np.repeat(np.arange(n_groups), [len(x) for x in values])
        kept_x, pending = cols, []

    for k, src in enumerate(sources):
        codes = src.read(0, src.length)
        sh = shuffle_batch(codes[None], seed=config.seed * 1000003 + k)[0]
        shuffled = ArraySource(f"null{k}", sh, tracks[k])
        # maxima that do not come back (filters' zeros) are split by the positions' strata
        m = means[k]
        if m is not None and len(edges):
            pos_share = np.bincount(sig.stratum_of(m, edges), minlength=n_strata) / max(m.size, 1)
        else:
            pos_share = np.ones(n_strata) / n_strata
        for out in scanner.scan(shuffled, None, progress=False, want_tracks=False):
            det = np.where(out["det"] < 0, n_filters, out["det"])
            stratum = (sig.stratum_of(m[out["pos"]], edges) if m is not None and len(edges)
                       else np.zeros(len(det), np.int64))
            returned = np.zeros((n_filters + 1, n_strata))
            np.add.at(returned, (det, stratum), 1)
            counts += sig.tests_by_stratum(returned, out["n_tests"],
                                           np.broadcast_to(pos_share, returned.shape))
            s, e = site_intervals(out["pos"], out["strand"], out["det"], scanner.cores,
                                  scanner.width)
            pending.append({"group": det * n_strata + stratum, "value": out["value"],
                            "key": np.full(len(det), k, np.int64), "start": s, "end": e})
            if sum(len(p["value"]) for p in pending) > 4_000_000:  # bounded memory
                flush()
        bases += src.length
    flush()
    bounds = np.searchsorted(kept_g, np.arange(n_groups + 1))
    values = [kept_v[bounds[g]:bounds[g + 1]] for g in range(n_groups)]
    null = NullModel(values, np.round(counts.ravel()).astype(np.int64), floors)
    info = {"bases": int(bases), "windows": len(sources), "seed": config.seed,
            "tail_fraction": config.tail_fraction, "tracks": "kept in place",
            "strata_edges": [float(e) for e in edges]}
    log.info("null: %d shuffled windows (tracks in place), %d bases, %d strata, %d filter and "
             "%d CAM peaks", len(sources), bases, n_strata, int(counts[:n_filters].sum()),
             int(counts[n_filters].sum()))
    return ScanNull.fit(null, config.tail_fraction, fingerprint=fingerprint, info=info,
                        peaks=kept_x)


def build_genome_null(scanner: Scanner, genome, chroms: Sequence[str], config: ScanConfig,
                      track_objs: Sequence = (), fingerprint: str = "", progress: bool = False
                      ) -> ScanNull:
    """:func:`build_null` over seeded windows of a genome (the same for every shard)."""
    wins = sample_null_windows(genome, chroms, config.null_bases, config.null_window, config.seed,
                               scanner.alphabet)
    if not wins:
        raise InputError(f"{genome.path}: no window of the genome is free enough of N for the null")
    sources = []
    for chrom, s, e in wins:
        src = GenomeSource(genome, chrom, scanner.alphabet, track_objs)
        codes = src.read(s, e)
        sources.append(ArraySource(f"{chrom}:{s}-{e}", codes, src.tracks(s, e)))
    return build_null(scanner, sources, config, fingerprint, progress)
