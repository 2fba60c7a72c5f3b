"""Negative sets: dinucleotide shuffles of the positives and genomic background matched to the
positives on GC and, when the sample has conservation tracks, on the track (window means), so
that conserved DNA without a peak becomes a negative and conservation alone cannot separate
the classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle a sequence keeping every dinucleotide count exactly (Altschul & Erickson 1985).

    A random Eulerian path through the graph whose edges are the sequence's
    dinucleotides (Kandel et al. 1996): pick a random last exit for every letter
    so that the last exits form a tree into the final letter, shuffle the other
    exits, and walk.

    Parameters
    ----------
    codes : numpy.ndarray, shape ``(L,)``, uint8
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape ``(L,)``, uint8 — same first and last letter, same
    dinucleotide (and so letter) counts.
    """
    codes = np.asarray(codes)
    if len(codes) < 3:
        return codes.copy()
    first, last = int(codes[0]), int(codes[-1])
    exits: dict[int, list[int]] = {}
    for a, b in zip(codes[:-1].tolist(), codes[1:].tolist()):
        exits.setdefault(a, []).append(b)
    last_exit = _last_exits(exits, last, rng)
    order: dict[int, list[int]] = {}
    for v, out in exits.items():
        out = list(out)
        if v != last:
            out.remove(last_exit[v])
        perm = [out[i] for i in rng.permutation(len(out))]
        order[v] = perm + ([last_exit[v]] if v != last else [])
    walk, pos = [first], {v: 0 for v in order}
    for _ in range(len(codes) - 1):
        v = walk[-1]
        walk.append(order[v][pos[v]])
        pos[v] += 1
    return np.array(walk, dtype=codes.dtype)


def _last_exits(exits: dict[int, list[int]], last: int, rng: np.random.Generator) -> dict[int, int]:
    """A random last exit for every letter but ``last``, redrawn until they form a tree into
    ``last``: the first draw that does.

    The same numbers as drawing one exit per letter (``rng.integers(len(out))``, letters in
    the order of ``exits``) and testing each draw in turn, from the same generator state
    (``rng.integers`` with an array of bounds draws element by element): draws are made
    several at a time and tested together, then the generator is set back and advanced by
    exactly the draws the loop would have made. A protein's 20 letters take a few hundred
    draws where DNA's 4 take one or two (those are drawn one at a time).
    """
    for _ in range(4):  # a few letters (DNA): one or two draws, one at a time is quickest
        last_exit = {v: out[rng.integers(len(out))] for v, out in exits.items() if v != last}
        if _reaches(last_exit, last):
            return last_exit
    letters = [v for v in exits if v != last]
    outs = [np.asarray(exits[v]) for v in letters]
    bounds = np.array([len(o) for o in outs])
    # the tree's nodes: the letters in order, then the root
    node = {v: i for i, v in enumerate(letters)}
    node[last] = len(letters)
    targets = [np.array([node[w] for w in o]) for o in outs]
    steps = max(1, int(np.ceil(np.log2(len(letters) + 1))))
    batch = 16
    while True:
        state = rng.bit_generator.state
        idx = rng.integers(np.broadcast_to(bounds, (batch, len(bounds))))  # (batch, letters)
        nxt = np.column_stack([t[i] for t, i in zip(targets, idx.T)])
        jump = np.concatenate([nxt, np.full((batch, 1), len(letters))], axis=1)
        for _ in range(steps):  # 2**steps > number of letters: every chain ends at the root, or cycles
            jump = np.take_along_axis(jump, jump, axis=1)
        ok = np.flatnonzero((jump == len(letters)).all(axis=1))
        if len(ok):
            first = int(ok[0])
            if first < batch - 1:  # draws past the first tree were never made
                rng.bit_generator.state = state
                idx = rng.integers(np.broadcast_to(bounds, (first + 1, len(bounds))))
            return {v: exits[v][int(i)] for v, i in zip(letters, idx[first])}
        batch = min(4 * batch, 4096)


def _reaches(last_exit: dict[int, int], root: int) -> bool:
    """Whether following last exits from every letter ends at ``root`` (no cycle)."""
    for v in last_exit:
        seen = set()
        while v != root:
            if v in seen:
                return False
            seen.add(v)
            v = last_exit[v]
    return True


def shuffle_batch(codes: np.ndarray, seed: int, order: int = 2) -> np.ndarray:
    """Shuffle every row of ``codes`` ``(N, L)`` with one seeded generator.

    ``order=2`` keeps every row's dinucleotide (dipeptide) counts, ``order=1`` its letter
    composition (a plain permutation; the usual choice for proteins).
    """
    if not len(codes):
        return codes.copy()
    rng = np.random.default_rng(seed)
    if order == 1:
        return np.take_along_axis(codes, rng.random(codes.shape).argsort(axis=1), axis=1)
    if order != 2:
        raise InputError(f"shuffle order must be 1 (composition) or 2 (dinucleotides), not {order}")
    return np.stack([dinucleotide_shuffle(row, rng) for row in codes])


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """GC fraction of each row of DNA codes ``(N, L)`` over its A/C/G/T positions."""
    acgt = codes < 4
    gc = (codes == 1) | (codes == 2)
    return gc.sum(axis=-1) / np.maximum(acgt.sum(axis=-1), 1)


def track_means(tracks, chrom, start, end, span: int = 4_000_000) -> np.ndarray:
    """Mean over the tracks and the window of each interval ``(n,)`` (no data counts as the
    track's fill value). Each chromosome is read once, ``span`` bases at a time."""
    chrom = np.asarray(chrom, dtype=object)
    start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
    out = np.zeros(len(chrom))
    for c in pd.unique(chrom):
        idx = np.flatnonzero(chrom == c)
        idx = idx[np.argsort(start[idx], kind="stable")]
        lo = 0
        while lo < len(idx):
            s0 = int(start[idx[lo]])
            hi = int(np.searchsorted(start[idx], s0 + span, side="left"))
            hi = max(hi, lo + 1)
            part = idx[lo:hi]
            e0 = int(end[part].max())
            total = np.zeros(e0 - s0 + 1)
            for t in tracks:
                total[1:] += np.cumsum(t.values(str(c), s0, e0), dtype=np.float64)
            out[part] = ((total[end[part] - s0] - total[start[part] - s0])
                         / np.maximum(end[part] - start[part], 1) / len(tracks))
            lo = hi
    return out


def gc_matched_background(genome, positives: pd.DataFrame, length: int, gc_target: np.ndarray,
                          seed: int, per_positive: int = 1, oversample: int = 20,
                          max_n: float = 0.01, bins: int = 50, tracks=()) -> pd.DataFrame:
    """Genomic windows that match the positives' GC (and track) distribution and overlap no
    positive.

    Candidate windows are drawn uniformly over the genome (chromosomes weighted
    by length), windows with more than ``max_n`` N or overlapping a positive are
    dropped, then for each positive one candidate is taken from the same GC bin
    (the nearest non-empty bin when its own is used up). With ``tracks`` (:class:`seqfm.io.Track`
    objects) each positive takes the nearest unused candidate in GC and in the window mean of
    the tracks (:func:`_match_nearest`), and candidates are drawn ``oversample * 3`` times
    over (conserved windows are rare in a genome), so that conserved windows without a peak
    are taken as negatives as often as the positives are conserved.

    Parameters
    ----------
    genome : seqfm.io.Genome
    positives : DataFrame with ``chrom``, ``start``, ``end`` (the positives' windows)
    length : int
        Window length.
    gc_target : numpy.ndarray, shape ``(n_pos,)``
        GC fraction of each positive.
    seed : int
    per_positive : int
        Background windows per positive.

    Returns
    -------
    DataFrame with ``chrom``, ``start``, ``end``, ``name``, ``strand``, ``gc``.
    """
    rng = np.random.default_rng(seed)
    n_want = len(gc_target) * per_positive
    if tracks:
        oversample *= 3
    chroms = [c for c, s in genome.sizes.items() if s > length]
    if not chroms:
        raise InputError(f"{genome.path}: no chromosome is longer than the window ({length} bp) "
                         f"to draw background from")
    sizes = np.array([genome.sizes[c] - length for c in chroms], dtype=np.float64)
    cand_chrom = rng.choice(len(chroms), size=n_want * oversample, p=sizes / sizes.sum())
    cand_start = (rng.random(len(cand_chrom)) * sizes[cand_chrom]).astype(np.int64)
    rows = []
    from .alphabet import DNA

    for ci, chrom in enumerate(chroms):
        sel = cand_chrom == ci
        if not sel.any():
            continue
        starts = np.sort(cand_start[sel])
        starts = starts[~_overlaps(starts, starts + length, positives[positives["chrom"] == chrom])]
        if not len(starts):
            continue
        codes = DNA.encode(genome.chromosome(chrom), where=f"{genome.path} {chrom}")
        gc = np.cumsum(np.concatenate([[0], (codes == 1) | (codes == 2)]))
        n = np.cumsum(np.concatenate([[0], codes >= 4]))
        n_frac = (n[starts + length] - n[starts]) / length
        acgt = length - (n[starts + length] - n[starts])
        gc_frac = (gc[starts + length] - gc[starts]) / np.maximum(acgt, 1)
        keep = n_frac <= max_n
        rows.append(pd.DataFrame({"chrom": chrom, "start": starts[keep], "gc": gc_frac[keep]}))
    cands = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["chrom", "start", "gc"])
    cands = cands.drop_duplicates(["chrom", "start"]).sample(frac=1.0, random_state=seed)
    target_gc = np.repeat(gc_target, per_positive)
    if tracks:
        pos_t = track_means(tracks, positives["chrom"], positives["start"], positives["end"])
        cands["track"] = track_means(tracks, cands["chrom"], cands["start"],
                                     cands["start"] + length)
        chosen = _match_nearest(cands["gc"].to_numpy(), cands["track"].to_numpy(), target_gc,
                                np.repeat(pos_t, per_positive), 1.0 / bins, seed)
    else:
        chosen = _match_bins(cands["gc"].to_numpy(), target_gc, bins)
    if len(chosen) < n_want:
        raise InputError(f"{genome.path}: found only {len(chosen)} of {n_want} GC-matched background "
                         f"windows outside the positives; give a larger genome or fewer positives")
    out = cands.iloc[chosen].reset_index(drop=True)
    out["end"] = out["start"] + length
    out["name"] = [f"bg_{i + 1:06d}" for i in range(len(out))]
    out["strand"] = "."
    return out[["chrom", "start", "end", "name", "strand", "gc"]
               + (["track"] if "track" in out else [])]


def _match_nearest(cand_gc: np.ndarray, cand_t: np.ndarray, target_gc: np.ndarray,
                   target_t: np.ndarray, gc_step: float, seed: int) -> np.ndarray:
    """Indices into the candidates, one per target, each the nearest unused candidate in
    (GC, track) with a GC step of ``gc_step`` weighing as much as a tenth of the targets'
    track spread (10th to 90th percentile; L1 distance); targets visited in a seeded order.
    A k-d tree gives each target its nearest candidates, more of them when those are used."""
    from scipy.spatial import cKDTree

    lo, hi = np.quantile(target_t, [0.1, 0.9]) if len(target_t) else (0.0, 0.0)
    t_step = max((hi - lo) / 10.0, 1e-6)
    tree = cKDTree(np.column_stack([cand_gc / gc_step, cand_t / t_step]))
    used = np.zeros(len(cand_gc), dtype=bool)
    chosen = []
    for i in np.random.default_rng(seed).permutation(len(target_gc)):
        point, k = (target_gc[i] / gc_step, target_t[i] / t_step), 16
        while len(chosen) < len(cand_gc):
            k = min(k, len(cand_gc))
            _, idx = tree.query(point, k=k, p=1)
            free = np.atleast_1d(idx)[~used[np.atleast_1d(idx)]]
            if len(free):
                used[free[0]] = True
                chosen.append(int(free[0]))
                break
            if k == len(cand_gc):
                break
            k *= 4
    return np.array(chosen, dtype=np.int64)


def _overlaps(starts: np.ndarray, ends: np.ndarray, regions: pd.DataFrame) -> np.ndarray:
    """For each window, whether it overlaps any region (regions of one chromosome)."""
    if regions.empty:
        return np.zeros(len(starts), dtype=bool)
    order = np.argsort(regions["start"].to_numpy())
    r_start = regions["start"].to_numpy()[order]
    r_end_max = np.maximum.accumulate(regions["end"].to_numpy()[order])
    # the last region starting before the window's end is the only candidate needed,
    # given the running maximum of region ends
    idx = np.searchsorted(r_start, ends, side="left") - 1
    return (idx >= 0) & (r_end_max[np.maximum(idx, 0)] > starts)


def _match_bins(cand_gc: np.ndarray, target_gc: np.ndarray, bins: int) -> np.ndarray:
    """Indices into ``cand_gc`` matching ``target_gc`` bin for bin, nearest bin as fallback."""
    edges = np.linspace(0, 1, bins + 1)
    cbin = np.clip(np.digitize(cand_gc, edges) - 1, 0, bins - 1)
    tbin = np.clip(np.digitize(target_gc, edges) - 1, 0, bins - 1)
    pools = [list(np.flatnonzero(cbin == b)) for b in range(bins)]
    chosen = []
    for b in tbin:
        for d in range(bins):
            for nb in (b - d, b + d):
                if 0 <= nb < bins and pools[nb]:
                    chosen.append(pools[nb].pop())
                    break
            else:
                continue
            break
    return np.array(chosen, dtype=np.int64)


def match_summary(codes: np.ndarray, tracks: np.ndarray, labels: np.ndarray,
                  dna: bool = True) -> dict:
    """How closely the negatives match the positives, per class: GC fraction (DNA) and each
    sequence's mean track value (with tracks), as mean and quartiles.

    Parameters
    ----------
    codes : ``(N, L)`` uint8; tracks : ``(N, T, L)``; labels : ``(N,)`` 0/1

    Returns
    -------
    dict ``{"positives": {...}, "negatives": {...}}`` with ``n``, ``gc_mean`` and
    ``track_mean``/``track_q25``/``track_q50``/``track_q75`` (``metrics.json``'s
    ``negatives_match``, a table of the report).
    """
    labels = np.asarray(labels)
    has_tracks = tracks.ndim == 3 and tracks.shape[1] > 0
    out = {}
    for name, lab in (("positives", 1), ("negatives", 0)):
        idx = np.flatnonzero(labels == lab)
        row: dict = {"n": int(len(idx))}
        if dna and len(idx):
            row["gc_mean"] = round(float(gc_fraction(np.asarray(codes[idx])).mean()), 4)
        if has_tracks and len(idx):
            t = np.asarray(tracks[idx], np.float32).mean(axis=(1, 2))
            q = np.quantile(t, [0.25, 0.5, 0.75])
            row.update(track_mean=round(float(t.mean()), 4), track_q25=round(float(q[0]), 4),
                       track_q50=round(float(q[1]), 4), track_q75=round(float(q[2]), 4))
        out[name] = row
    return out
