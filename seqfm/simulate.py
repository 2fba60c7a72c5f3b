"""Simulated example data: a small DNA genome with planted JASPAR motifs.

``simulate(out_dir, seed=1, ...)`` writes a self-contained, seeded DNA example into
``out_dir``:

``genome.fa`` (+ ``genome.fa.fai``)
    chromosomes ``chr1..chrN`` of differing lengths, 60 letters a line. Bases come from a
    first-order Markov chain with mammalian-like composition (about 41% GC, CpG depleted to
    an observed/expected ratio near 0.22), run in GC "isochore" blocks of slightly different
    composition. A few percent is soft-masked (lowercase, partly simple repeats) and a few
    runs of ``N`` (1-5 kb) stand for assembly gaps.
``positives.bed`` / ``positives.narrowPeak``
    non-overlapping regions of 200-500 bp (BED6, strand ``.``), each carrying one planted
    motif instance, a fraction two different ones. The narrowPeak summit (column 10) is the
    offset of the planted site's centre, or the region centre when it carries two.
``truth.bed``
    every planted site; a ``#`` header names the columns
    ``chrom start end name score strand matrix_id motif region``: ``name`` is the JASPAR
    motif name, ``score`` the instance's relative PWM score (0-1000), ``strand`` the planted
    strand, ``motif`` the sampled instance in the motif's own orientation (the genome holds
    its reverse complement on ``-``) and ``region`` the positive region's name.
``decoys.bed``
    regions of the same size distribution without a motif, but with conserved elements
    drawn exactly like the positives' sites (same widths, offsets near the centre, strands,
    share of pairs), so that conservation alone cannot tell them from positives.
``decoy_elements.bed``
    the conserved elements inside the decoy regions, one row each; a ``#`` header names the
    columns ``chrom start end name score strand shaped_like region``: ``name`` is the
    element's own name (``{region}.{k}``), ``score`` 0, ``strand`` the strand of its
    conservation profile, ``shaped_like`` the JASPAR name of the motif whose width and
    information profile its conservation takes (no motif sequence is there) and ``region``
    the decoy region's name. The truth of what a call on conserved DNA without a motif is.
``conservation.bw`` (and ``conservation.bedGraph`` on request)
    a phyloP-like per-base score: noise around 0 (sd 1), raised by 3 on average over planted
    sites and decoys' conserved elements, column by column in proportion to the motif's
    information content. N runs carry no value.
``simulate.json``
    parameters, seed, motifs, counts, GC fraction and CpG observed/expected.

All files are written under temporary names and renamed into place at the end; the same
seed gives byte-identical files. Coordinates are 0-based, half-open.

The genome is never held whole: regions, sites and the soft-masked stretches are planned
first (a few numbers each), then the sequence and its conservation are drawn, planted and
written ``PIECE_BASES`` at a time, each random stream consumed in the same order as a draw of
the whole genome would (:class:`MarkovChain` jumps over the chunks outside a piece). Memory
therefore follows the piece and the number of regions, not the genome's length, and the
pieces change no byte of the output.

Length: one generator, read top to bottom (background, planted sites, decoys, tracks,
streaming writers); nothing else in the package depends on its parts.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyBigWig

from . import __version__
from .errors import InputError
from .io import FastaWriter, staged_files
from .jaspar import JASPAR_RELEASE, matrix_counts, releases

log = logging.getLogger("seqfm")

#: CTCF, GATA1 (the WGATAR ChIP-seq matrix), FOXA2, USF1 (E-box)
DEFAULT_MOTIFS = ("MA0139.2", "MA0035.2", "MA0047.4", "MA0093.4")
DNA_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)
#: planted sites keep at least this many bp from both region edges
SITE_EDGE = 20
#: regions keep this far from chromosome ends and N runs, and this far from each other
REGION_MARGIN = 1000
REGION_SPACING = 50
#: the random streams; each part of the simulation draws from its own
_STREAMS = ("genome", "mask", "gaps", "regions", "sites", "instances", "conservation", "peaks")


# ====================================================================== motifs
@dataclass(frozen=True, eq=False)
class Motif:
    """A JASPAR matrix as sampling probabilities.

    Attributes
    ----------
    matrix_id, name : str
        JASPAR matrix id and TF name.
    probs : numpy.ndarray, shape ``(W, 4)``
        Column probabilities over A, C, G, T, pseudocounts included.
    """

    matrix_id: str
    name: str
    probs: np.ndarray

    @property
    def width(self) -> int:
        return int(self.probs.shape[0])

    @property
    def consensus(self) -> str:
        return DNA_LETTERS[self.probs.argmax(axis=1)].tobytes().decode()

    def log_odds(self, background: float = 0.25) -> np.ndarray:
        """Log2-odds matrix against a uniform background, shape ``(W, 4)``."""
        return np.log2(self.probs / background)

    def information(self) -> np.ndarray:
        """Information content of each column in bits, shape ``(W,)``."""
        return 2.0 + (self.probs * np.log2(self.probs)).sum(axis=1)


def motif_from_counts(matrix_id: str, name: str, counts: np.ndarray,
                      pseudocount: float = 0.01) -> Motif:
    """Column frequencies plus ``pseudocount`` per letter, renormalised.

    Parameters
    ----------
    counts : numpy.ndarray, shape ``(W, 4)``
        Counts (or frequencies) over A, C, G, T.
    """
    counts = np.asarray(counts, dtype=np.float64)
    freqs = counts / counts.sum(axis=1, keepdims=True)
    probs = (freqs + pseudocount) / (1.0 + 4 * pseudocount)
    return Motif(matrix_id, name, probs)


def load_jaspar_motifs(ids: Sequence[str], release: str = JASPAR_RELEASE) -> list[Motif]:
    """Fetch JASPAR matrices by id from pyjaspar's offline database.

    Raises
    ------
    InputError
        An id that is malformed, repeated or not in ``release``.
    """
    ids = list(ids)
    if not ids:
        raise InputError("--motifs: give at least one JASPAR matrix id, e.g. MA0139.2")
    for mid in ids:
        if not re.fullmatch(r"[A-Z]{2}\d{4}\.\d+", mid):
            raise InputError(f"--motifs: {mid!r} is not a JASPAR matrix id "
                             "(versioned ids look like MA0139.2)")
    if len(set(ids)) != len(ids):
        raise InputError(f"--motifs: ids must be distinct, got {','.join(ids)}")
    if release not in releases():
        raise InputError(f"--jaspar-release: {release!r} is not a pyjaspar release; use one of "
                         f"{', '.join(releases())}")
    motifs = []
    for mid, found in zip(ids, matrix_counts(ids, release)):
        if found is None:
            raise InputError(f"--motifs: JASPAR matrix {mid!r} is not in {release}; "
                             f"use ids of that release such as {','.join(DEFAULT_MOTIFS)}")
        motifs.append(motif_from_counts(mid, *found))
    return motifs


def sample_instances(motif: Motif, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` instances letter by letter from the motif's columns.

    Returns
    -------
    numpy.ndarray, shape ``(n, W)``, uint8 codes 0..3 (A, C, G, T).
    """
    cum = np.cumsum(motif.probs, axis=1)[:, :3]
    u = rng.random((n, motif.width))
    return (u[:, :, None] > cum[None]).sum(axis=2).astype(np.uint8)


def relative_scores(motif: Motif, codes: np.ndarray) -> np.ndarray:
    """Log-odds score of instances ``(n, W)`` scaled to 0..1 between the PWM's min and max."""
    lo = motif.log_odds()
    raw = lo[np.arange(motif.width), codes].sum(axis=1)
    low, high = lo.min(axis=1).sum(), lo.max(axis=1).sum()
    return (raw - low) / (high - low)


# ====================================================================== genome
def chromosome_lengths(genome_size: int, n_chroms: int) -> dict[str, int]:
    """Lengths falling linearly, e.g. 3 Mb in 5 -> 900k, 750k, 600k, 450k, 300k."""
    weights = np.arange(n_chroms + 1, 1, -1, dtype=np.float64)
    lengths = np.floor(genome_size * weights / weights.sum()).astype(np.int64)
    return {f"chr{i + 1}": int(n) for i, n in enumerate(lengths)}


def dna_transitions(gc: float, cpg_oe: float) -> np.ndarray:
    """First-order transition matrix with GC fraction ``gc`` and CpG o/e ``cpg_oe``.

    The dinucleotide table starts from independence, the CG cell is scaled down, and
    Sinkhorn balancing restores both margins to the target composition, so the chain's
    stationary distribution is exactly that composition. The CG scale is refined until
    the table's observed/expected CpG equals ``cpg_oe``.

    Returns
    -------
    numpy.ndarray, shape ``(4, 4)``: row = current base, column = next base (A, C, G, T).
    """
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    scale = cpg_oe
    for _ in range(30):
        kernel = np.outer(p, p)
        kernel[1, 2] *= scale
        a = np.ones(4)
        for _ in range(200):
            b = p / (kernel.T @ a)
            a = p / (kernel @ b)
        table = a[:, None] * kernel * b[None, :]
        scale *= cpg_oe / (table[1, 2] / (p[1] * p[2]))
    return table / table.sum(axis=1, keepdims=True)


class MarkovChain:
    """The background sequence of :func:`dna_markov_sequence`, drawn piece by piece.

    The sequence is cut into chunks of ``chunk`` bases that run as independent chains side
    by side (one numpy step per position, not per base); each starts from its chain's
    stationary distribution. Blocks of ``block`` chunks share an "isochore" GC level,
    ``gc`` plus one of ``isochore_spread * (-1.33, -0.5, 0.5, 1.33)``, given out in equal
    numbers so the genome-wide GC stays at ``gc``.

    The uniform draws form one table ``(chunk, n_chunks)`` in the generator's order (row by
    row). :meth:`codes` draws only the columns of the chunks it needs, jumping over the others
    (``bit_generator.advance``), so any stretch comes out as it is in the whole sequence and
    memory follows the stretch, not the genome. Constructing the chain leaves ``rng`` where
    drawing the whole table would have left it.

    Parameters
    ----------
    length : int
    rng : numpy.random.Generator
        A generator whose bit generator can ``advance`` (numpy's default, PCG64).
    """

    def __init__(self, length: int, rng: np.random.Generator, gc: float = 0.41,
                 cpg_oe: float = 0.22, isochore_spread: float = 0.03, chunk: int = 2000,
                 block: int = 16) -> None:
        if not hasattr(rng.bit_generator, "advance"):
            raise TypeError("MarkovChain needs a bit generator that can advance (PCG64)")
        levels = gc + isochore_spread * np.array([-4, -1.5, 1.5, 4]) / 3
        trans = np.stack([dna_transitions(g, cpg_oe) for g in levels])       # (K, 4, 4)
        self.cum = np.cumsum(trans, axis=2)[:, :, :3].reshape(-1, 3)         # (K*4, 3)
        self.start_cum = np.cumsum(np.stack([[1 - g, g, g, 1 - g] for g in levels]) / 2,
                                   axis=1)[:, :3]
        self.length, self.chunk = int(length), int(chunk)
        self.n_chunks = -(-self.length // self.chunk)
        n_blocks = -(-self.n_chunks // block)
        block_class = rng.permutation(np.resize(np.arange(len(levels)), n_blocks))
        self.cls = np.repeat(block_class, block)[: self.n_chunks]
        self._bit_generator = type(rng.bit_generator)
        self._state = rng.bit_generator.state
        rng.bit_generator.advance(self.chunk * self.n_chunks)

    def codes(self, start: int, end: int) -> np.ndarray:
        """uint8 codes 0..3 (A, C, G, T) of bases ``[start, end)``, shape ``(end - start,)``."""
        c = self.chunk
        j0, j1 = start // c, -(-end // c)
        n = j1 - j0
        bg = self._bit_generator()
        bg.state = self._state
        gen = np.random.Generator(bg)
        cls = self.cls[j0:j1]
        row = cls * 4
        out = np.empty((c, n), dtype=np.uint8)
        bg.advance(j0)
        out[0] = (gen.random(n)[:, None] > self.start_cum[cls]).sum(axis=1)
        skip = self.n_chunks - n
        for t in range(1, c):
            if skip:
                bg.advance(skip)
            out[t] = (gen.random(n)[:, None] > self.cum[row + out[t - 1]]).sum(axis=1)
        return out.T.ravel()[start - j0 * c: end - j0 * c]


def dna_markov_sequence(length: int, rng: np.random.Generator, gc: float = 0.41,
                        cpg_oe: float = 0.22, isochore_spread: float = 0.03,
                        chunk: int = 2000, block: int = 16) -> np.ndarray:
    """Sample a DNA sequence from a first-order Markov chain (:class:`MarkovChain`).

    Returns
    -------
    numpy.ndarray, shape ``(length,)``, uint8 codes 0..3 (A, C, G, T).
    """
    return MarkovChain(length, rng, gc, cpg_oe, isochore_spread, chunk, block).codes(0, length)


#: simple repeats a soft-masked interval may become
REPEAT_UNITS = ("A", "T", "CA", "TG", "AAT", "ATT", "AAAT", "TTTA", "AGAT", "GGAA", "TCTCC")


@dataclass
class SoftMask:
    """Soft-masked intervals of a sequence, applied to it piece by piece.

    Attributes
    ----------
    starts, ends : numpy.ndarray, shape ``(n,)``
        Intervals ``[start, end)`` lowercased (ends clipped to the sequence).
    repeats : list of ``(start, span, unit)``
        Stretches overwritten by a simple repeat of ``unit`` (ASCII bytes), in order (a later
        one overwrites an earlier one where they overlap).
    """

    starts: np.ndarray
    ends: np.ndarray
    repeats: list[tuple[int, int, bytes]]

    @classmethod
    def draw(cls, size: int, rng: np.random.Generator, fraction: float = 0.05,
             repeat_share: float = 0.2) -> "SoftMask":
        """About ``fraction`` of ``size`` bases in intervals of 100-1000 bp; a share
        ``repeat_share`` of the intervals becomes a simple (micro-satellite) repeat over its
        first 200 bp at most."""
        n = int(round(fraction * size / 550))
        if n == 0:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), [])
        lengths = rng.integers(100, 1001, n)
        starts = rng.integers(0, max(1, size - 1000), n)
        pick = rng.random(n) < repeat_share
        unit_idx = rng.integers(0, len(REPEAT_UNITS), n)
        repeats = [(int(s), min(int(length), 200), REPEAT_UNITS[i].encode())
                   for s, length, i in zip(starts[pick], lengths[pick], unit_idx[pick])]
        return cls(starts, np.minimum(starts + lengths, size), repeats)

    def apply(self, seq: np.ndarray, start: int = 0) -> None:
        """Mask ASCII ``seq``, the bases ``[start, start + len(seq))``, in place."""
        end = start + seq.size
        for s, span, unit in self.repeats:
            lo, hi = max(s, start), min(s + span, end)
            if lo < hi:
                seq[lo - start: hi - start] = np.resize(np.frombuffer(unit, np.uint8), span)[lo - s: hi - s]
        hit = (self.starts < end) & (self.ends > start)
        for s, e in zip(self.starts[hit], self.ends[hit]):
            seq[max(s, start) - start: min(e, end) - start] |= 0x20


def soft_mask(seq: np.ndarray, rng: np.random.Generator, fraction: float = 0.05,
              repeat_share: float = 0.2) -> None:
    """Lowercase about ``fraction`` of ASCII ``seq`` in place, in intervals of 100-1000 bp.

    A share ``repeat_share`` of the intervals becomes a simple (micro-satellite) repeat
    (:class:`SoftMask`).
    """
    SoftMask.draw(seq.size, rng, fraction, repeat_share).apply(seq)


def place_n_gaps(lengths: Sequence[int], rng: np.random.Generator,
                 n_gaps: int = 3) -> list[tuple[int, int, int]]:
    """Choose ``n_gaps`` runs of N of 1-5 kb inside chromosomes (20-80% along).

    Returns
    -------
    list of ``(chrom_index, start, end)``, sorted and merged; gaps go to distinct
    chromosomes first.
    """
    order = rng.permutation(len(lengths))
    gaps = []
    for i in range(n_gaps):
        c = int(order[i % len(lengths)])
        size = int(rng.integers(1000, 5001))
        start = int(rng.integers(int(0.2 * lengths[c]), int(0.8 * lengths[c]) - size))
        gaps.append((c, start, start + size))
    merged: list[tuple[int, int, int]] = []
    for c, s, e in sorted(gaps):
        if merged and merged[-1][0] == c and s <= merged[-1][2]:
            merged[-1] = (c, merged[-1][1], max(e, merged[-1][2]))
        else:
            merged.append((c, s, e))
    return merged


def usable_segments(lengths: Sequence[int], gaps: list[tuple[int, int, int]],
                    margin: int = REGION_MARGIN) -> list[tuple[int, int, int]]:
    """Stretches of each chromosome away from its ends and N runs by ``margin``."""
    segments = []
    for c, n in enumerate(lengths):
        cuts = [(s, e) for gc_, s, e in gaps if gc_ == c]
        edges = [0] + [x for s, e in cuts for x in (s, e)] + [n]
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a > 2 * margin:
                segments.append((c, a + margin, b - margin))
    return segments


def place_regions(segments: list[tuple[int, int, int]], n: int, rng: np.random.Generator,
                  min_len: int = 200, max_len: int = 500,
                  spacing: int = REGION_SPACING) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place ``n`` non-overlapping regions uniformly at random in the segments.

    Regions are shared out over segments by free length; inside a segment, random gap
    sizes (sorted uniform cut points over the free room) separate them.

    Returns
    -------
    chrom, start, end : numpy.ndarray, shape ``(n,)``, sorted by chromosome then start.
    """
    lengths = rng.integers(min_len, max_len + 1, n)
    room = np.array([e - s for _, s, e in segments], dtype=np.float64)
    need = lengths.sum() + n * spacing
    if need > 0.8 * room.sum():
        raise InputError(f"{n} regions of {min_len}-{max_len} bp need about {need:,} bp but the "
                         f"genome has {int(room.sum()):,} bp away from ends and N runs; use a "
                         "larger --genome-size or fewer --n-positives/--n-decoys")
    share = np.floor(n * room / room.sum()).astype(int)
    share[np.argsort(-(n * room / room.sum() - share), kind="stable")[: n - share.sum()]] += 1
    chrom, start = [], []
    taken = 0
    for (c, s, e), k in zip(segments, share):
        lens = lengths[taken:taken + k]
        free = (e - s) - lens.sum() - max(k - 1, 0) * spacing
        cuts = np.sort(rng.integers(0, free + 1, k))
        before = np.concatenate([[0], np.cumsum(lens)[:-1]])
        start.append(s + cuts + before + np.arange(k) * spacing)
        chrom.append(np.full(k, c))
        taken += k
    chrom_a, start_a = np.concatenate(chrom), np.concatenate(start)
    return chrom_a, start_a, start_a + lengths[:taken]


def plan_sites(region_len: np.ndarray, widths: np.ndarray, rng: np.random.Generator,
               two_fraction: float = 0.3, sd_single: float = 30.0,
               sd_pair: float = 15.0) -> dict[str, np.ndarray]:
    """Choose motifs, offsets and strands of the planted sites.

    Each region gets one site; ``round(two_fraction * n)`` regions (at random) get a
    second, different motif 5-40 bp from the first. Single sites are centred near the
    region centre (normal, sd ``sd_single``), pairs as a block (sd ``sd_pair``), and
    always at least ``SITE_EDGE`` bp from both region edges.

    Parameters
    ----------
    region_len : numpy.ndarray, shape ``(R,)``
    widths : numpy.ndarray, shape ``(M,)``
        Motif widths.

    Returns
    -------
    dict of arrays over sites ``(S,)``: ``region``, ``motif``, ``offset`` (from region
    start), ``minus`` (bool); and ``summit`` over regions ``(R,)``.
    """
    n, m = len(region_len), len(widths)
    n_two = int(round(two_fraction * n)) if m > 1 else 0
    two = np.zeros(n, dtype=bool)
    two[rng.permutation(n)[:n_two]] = True
    one_idx, two_idx = np.flatnonzero(~two), np.flatnonzero(two)
    # singles: each motif equally often
    m1 = rng.permutation(np.resize(np.arange(m), len(one_idx)))
    w1 = widths[m1]
    c1 = region_len[one_idx] / 2 + rng.normal(0, sd_single, len(one_idx))
    s1 = np.clip(np.round(c1 - w1 / 2).astype(int), SITE_EDGE, region_len[one_idx] - SITE_EDGE - w1)
    # pairs: two different motifs with a gap, placed as one block
    ma = rng.integers(0, m, len(two_idx))
    mb = (ma + rng.integers(1, max(m, 2), len(two_idx))) % m
    gap = rng.integers(5, 41, len(two_idx))
    block = widths[ma] + gap + widths[mb]
    cb = region_len[two_idx] / 2 + rng.normal(0, sd_pair, len(two_idx))
    sb = np.clip(np.round(cb - block / 2).astype(int), SITE_EDGE,
                 region_len[two_idx] - SITE_EDGE - block)
    summit = region_len // 2
    summit[one_idx] = s1 + w1 // 2
    region = np.concatenate([one_idx, two_idx, two_idx])
    order = np.lexsort((np.concatenate([s1, sb, sb + widths[ma] + gap]), region))
    sites = {
        "region": region,
        "motif": np.concatenate([m1, ma, mb]),
        "offset": np.concatenate([s1, sb, sb + widths[ma] + gap]),
    }
    sites = {k: v[order] for k, v in sites.items()}
    sites["minus"] = rng.random(len(region)) < 0.5
    sites["summit"] = summit
    return sites


@dataclass
class Stamps:
    """Fixed-width stretches laid onto the flat genome, motif by motif, a piece at a time.

    For motif ``k``: ``starts[k]`` ``(n_k,)`` flat-genome starts, and the stretch at
    ``starts[k][i]`` carries the row ``values[k][which[k][i]]`` of ``values[k]`` ``(R_k, W_k)``
    (one row per stretch, or a few shared rows such as a profile and its reverse). Stretches
    do not overlap.
    """

    starts: list[np.ndarray]
    which: list[np.ndarray]
    values: list[np.ndarray]

    def paint(self, piece: np.ndarray, start: int, add: bool = False) -> None:
        """Write (or with ``add`` add) the stretches' values into ``piece``, the flat bases
        ``[start, start + len(piece))``, in place; stretches crossing its ends in part."""
        end = start + piece.size
        for s, which, values in zip(self.starts, self.which, self.values):
            width = values.shape[1]
            sel = np.flatnonzero((s < end) & (s + width > start))
            if not sel.size:
                continue
            pos = s[sel, None] + np.arange(width)
            inside = (pos >= start) & (pos < end)
            rows = values[which[sel]][inside]
            if add:
                piece[pos[inside] - start] += rows
            else:
                piece[pos[inside] - start] = rows


def sample_sites(starts: np.ndarray, motif_idx: np.ndarray, minus: np.ndarray,
                 motifs: Sequence[Motif], rng: np.random.Generator
                 ) -> tuple[list[str], np.ndarray, Stamps]:
    """Sample the instances planted at flat-genome ``starts``.

    Returns
    -------
    instances : list of str
        Each instance in the motif's own orientation.
    score : numpy.ndarray, shape ``(S,)``
        Relative PWM score (0..1) of each instance.
    planted : Stamps
        The uppercase ASCII letters written into the genome (reverse-complemented on the
        minus strand).
    """
    instances = np.empty(len(starts), dtype=object)
    score = np.zeros(len(starts))
    planted = Stamps([], [], [])
    for k, motif in enumerate(motifs):
        idx = np.flatnonzero(motif_idx == k)
        codes = sample_instances(motif, len(idx), rng)
        score[idx] = relative_scores(motif, codes)
        instances[idx] = [DNA_LETTERS[c].tobytes().decode() for c in codes]
        written = np.where(minus[idx, None], 3 - codes[:, ::-1], codes)
        planted.starts.append(starts[idx])
        planted.which.append(np.arange(len(idx)))
        planted.values.append(DNA_LETTERS[written])
    return list(instances), score, planted


def conservation_stamps(starts: np.ndarray, motif_idx: np.ndarray, minus: np.ndarray,
                        motifs: Sequence[Motif], boost: float = 3.0) -> Stamps:
    """What each conserved element (a planted site, or a decoy's site-shaped element with no
    motif in it) at flat-genome ``starts`` adds to the conservation: ``boost`` on average,
    column by column in proportion to the motif's information content (reversed on the
    minus strand)."""
    stamps = Stamps([], [], [])
    for k, motif in enumerate(motifs):
        ic = motif.information()
        profile = (boost * ic / ic.mean()).astype(np.float32)
        idx = np.flatnonzero(motif_idx == k)
        stamps.starts.append(starts[idx])
        stamps.which.append(minus[idx].astype(np.int64))
        stamps.values.append(np.stack([profile, profile[::-1]]))
    return stamps


def conservation_scores(n: int, rng: np.random.Generator, elements: Stamps,
                        start: int = 0) -> np.ndarray:
    """PhyloP-like per-base scores of the flat bases ``[start, start + n)``, shape ``(n,)``
    float32.

    Noise is standard normal clipped to [-4, 4], raised over the conserved ``elements``
    (:func:`conservation_stamps`). Values are rounded to 3 decimals, as in published phyloP
    tracks. Consecutive pieces drawn from one ``rng`` give the scores of the whole in one.
    """
    values = np.clip(rng.standard_normal(n, dtype=np.float32), -4, 4)
    elements.paint(values, start, add=True)
    return np.round(np.clip(values, -5, 9), 3).astype(np.float32)


def composition(seq: np.ndarray, offsets: np.ndarray) -> tuple[float, float]:
    """GC fraction and CpG observed/expected of ASCII ``seq``, ignoring N.

    CpG o/e = n(CG) * n(ACGT) / (n(C) * n(G)); dinucleotides do not cross chromosomes.
    """
    upper = seq & 0xDF
    n_c, n_g = np.count_nonzero(upper == ord("C")), np.count_nonzero(upper == ord("G"))
    n_acgt = n_c + n_g + np.count_nonzero((upper == ord("A")) | (upper == ord("T")))
    cg = (upper[:-1] == ord("C")) & (upper[1:] == ord("G"))
    cg[offsets[1:-1] - 1] = False
    return (n_c + n_g) / n_acgt, float(cg.sum()) * n_acgt / (n_c * n_g)


class Composition:
    """The counts behind :func:`composition`, and the soft-masked and N shares, gathered
    piece by piece (:meth:`add` in genome order)."""

    def __init__(self) -> None:
        self.n_c = self.n_g = self.n_at = self.n_cg = self.n_lower = self.n_n = self.n = 0
        self._last = 0

    def add(self, seq: np.ndarray, new_chrom: bool) -> None:
        """Count ASCII ``seq``; unless ``new_chrom`` it continues the previous piece."""
        if not seq.size:
            return
        upper = seq & 0xDF
        c, g = upper == ord("C"), upper == ord("G")
        self.n_c += int(np.count_nonzero(c))
        self.n_g += int(np.count_nonzero(g))
        self.n_at += int(np.count_nonzero((upper == ord("A")) | (upper == ord("T"))))
        self.n_cg += int(np.count_nonzero(c[:-1] & g[1:]))
        if not new_chrom and self._last == ord("C") and g[0]:
            self.n_cg += 1
        self._last = int(upper[-1])
        self.n_lower += int(np.count_nonzero(seq & 0x20))
        self.n_n += int(np.count_nonzero(seq == ord("N")))
        self.n += seq.size

    def gc_cpg(self) -> tuple[float, float]:
        """GC fraction and CpG observed/expected, as :func:`composition` gives them."""
        n_acgt = self.n_c + self.n_g + self.n_at
        return (self.n_c + self.n_g) / n_acgt, float(self.n_cg) * n_acgt / (self.n_c * self.n_g)


# ====================================================================== writers
def write_table(path: Path, rows: Iterable[Sequence], header: str | None = None,
                batch: int = 100_000) -> None:
    """Tab-separated rows (any iterable, written a batch at a time), with an optional ``#``
    header line."""
    with open(path, "w") as fh:
        if header:
            fh.write(f"#{header}\n")
        rows = iter(rows)
        while True:
            text = "".join("\t".join(map(str, r)) + "\n" for r in islice(rows, batch))
            if not text:
                break
            fh.write(text)


class BigWigWriter:
    """A base-resolution bigWig (pyBigWig) fed in genome order, a stretch at a time."""

    def __init__(self, path: Path, names: Sequence[str], lengths: Sequence[int]) -> None:
        self._bw = pyBigWig.open(str(path), "w")
        self._bw.addHeader(list(zip(names, (int(n) for n in lengths))))

    def add(self, chrom: str, start: int, values: np.ndarray) -> None:
        """``values`` ``(n,)`` of bases ``[start, start + n)`` (consecutive stretches of a
        chromosome continue one another, as one stretch would)."""
        self._bw.addEntries(chrom, int(start), values=values.astype(np.float64), span=1, step=1)

    def close(self) -> None:
        if self._bw is not None:
            self._bw.close()
            self._bw = None


class BedGraphWriter:
    """bedGraph with runs of equal values merged, fed like :class:`BigWigWriter`; a run
    continues across stretches that follow one another without a gap."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "w")
        self._carry: tuple[str, int, int, np.float32] | None = None  # the open last run

    def add(self, chrom: str, start: int, values: np.ndarray) -> None:
        import pandas as pd  # 0.3-0.7 s to import, for the optional bedGraph only

        if not values.size:
            return
        cut = np.flatnonzero(np.diff(values) != 0) + 1
        lo = np.concatenate([[0], cut]).astype(np.int64)
        hi = np.concatenate([cut, [values.size]]).astype(np.int64)
        starts, ends, vals = start + lo, start + hi, values[lo]
        carry = self._carry
        if carry is not None and carry[0] == chrom and carry[2] == start and carry[3] == values[0]:
            starts[0] = carry[1]  # the open run goes on
        elif carry is not None:
            self._emit(*carry)
        self._carry = (chrom, int(starts[-1]), int(ends[-1]), vals[-1])
        if len(starts) > 1:
            pd.DataFrame({"chrom": chrom, "start": starts[:-1], "end": ends[:-1],
                          "value": vals[:-1]}).to_csv(self._fh, sep="\t", header=False,
                                                      index=False, float_format="%.3f")

    def _emit(self, chrom: str, start: int, end: int, value) -> None:
        import pandas as pd  # see add

        pd.DataFrame({"chrom": chrom, "start": np.array([start], np.int64),
                      "end": np.array([end], np.int64),
                      "value": np.array([value], np.float32)}).to_csv(
            self._fh, sep="\t", header=False, index=False, float_format="%.3f")

    def close(self) -> None:
        if self._fh.closed:
            return
        if self._carry is not None:
            self._emit(*self._carry)
            self._carry = None
        self._fh.close()


# ====================================================================== DNA example
#: bases generated and written at a time: memory follows this, not the genome (a multiple of
#: the FASTA line width and of the Markov chain's chunk)
PIECE_BASES = 6_000_000


@dataclass
class DnaGenome:
    """A simulated genome, drawn piece by piece (:meth:`letters`), never held whole.

    Attributes
    ----------
    names : list of str
        Chromosome names, in FASTA order.
    lengths : numpy.ndarray, shape ``(C,)``
    offsets : numpy.ndarray, shape ``(C + 1,)``
        Start of each chromosome in the flat genome: flat base ``offsets[c] + pos`` is
        ``pos`` on ``c``.
    chain : MarkovChain
        The background sequence.
    mask : SoftMask
        The soft-masked stretches and simple repeats.
    gaps : list of ``(chrom_index, start, end)``
        The N runs.
    """

    names: list[str]
    lengths: np.ndarray
    offsets: np.ndarray
    chain: MarkovChain
    mask: SoftMask
    gaps: list[tuple[int, int, int]]

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def letters(self, start: int, end: int) -> np.ndarray:
        """ASCII letters of flat bases ``[start, end)`` (ACGT, lowercase when soft-masked, N
        in gaps; no planted site), uint8 ``(end - start,)``."""
        seq = DNA_LETTERS[self.chain.codes(start, end)]
        self.mask.apply(seq, start)
        for c, s, e in self.gaps:
            lo, hi = max(int(self.offsets[c]) + s, start), min(int(self.offsets[c]) + e, end)
            if lo < hi:
                seq[lo - start: hi - start] = ord("N")
        return seq


@dataclass
class DnaRegions:
    """Positive and decoy regions with their planted (or conserved-only) sites.

    Region arrays are ``(R,)`` with chromosome index, start and end; ``sites`` and
    ``decoy_sites`` are :func:`plan_sites` dicts plus ``start`` (chromosome coordinate)
    and ``glob`` (flat-genome coordinate); ``instances``/``rel_score`` describe the
    planted sites, ``planted`` holds their letters and ``signal`` is each positive's
    simulated enrichment.
    """

    pos_chrom: np.ndarray
    pos_start: np.ndarray
    pos_end: np.ndarray
    dec_chrom: np.ndarray
    dec_start: np.ndarray
    dec_end: np.ndarray
    sites: dict[str, np.ndarray]
    decoy_sites: dict[str, np.ndarray]
    instances: list[str]
    rel_score: np.ndarray
    signal: np.ndarray
    planted: Stamps


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per part of the simulation, all from ``seed``."""
    seqs = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seqs)}


def simulate_dna_genome(rng: dict[str, np.random.Generator], genome_size: int, n_chroms: int,
                        gc: float, cpg_oe: float, n_gaps: int,
                        mask_fraction: float) -> DnaGenome:
    """Markov-chain chromosomes with soft-masked stretches and N runs (drawn when read)."""
    chroms = chromosome_lengths(genome_size, n_chroms)
    lengths = np.array(list(chroms.values()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    chain = MarkovChain(int(offsets[-1]), rng["genome"], gc, cpg_oe)
    mask = SoftMask.draw(int(offsets[-1]), rng["mask"], mask_fraction)
    gaps = place_n_gaps(lengths, rng["gaps"], n_gaps)
    return DnaGenome(list(chroms), lengths, offsets, chain, mask, gaps)


def _locate(plan: dict[str, np.ndarray], chrom: np.ndarray, start: np.ndarray,
            offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Add chromosome (``start``) and flat-genome (``glob``) coordinates to a site plan."""
    r = plan["region"]
    local = start[r] + plan["offset"]
    return {**plan, "start": local, "glob": offsets[chrom[r]] + local}


def simulate_dna_regions(genome: DnaGenome, motifs: Sequence[Motif],
                         rng: dict[str, np.random.Generator], n_positives: int, n_decoys: int,
                         two_fraction: float, min_len: int, max_len: int) -> DnaRegions:
    """Place positives and decoys and sample the motif instances planted in the positives.

    Decoys get a site plan drawn like the positives' (same motifs, offsets, strands) that
    only shapes their conservation: no sequence is planted there.
    """
    widths = np.array([m.width for m in motifs])
    chrom, start, end = place_regions(usable_segments(genome.lengths, genome.gaps),
                                      n_positives + n_decoys, rng["regions"], min_len, max_len)
    is_pos = np.zeros(chrom.size, dtype=bool)
    is_pos[rng["regions"].permutation(chrom.size)[:n_positives]] = True
    pc, ps, pe = chrom[is_pos], start[is_pos], end[is_pos]
    dc, ds, de = chrom[~is_pos], start[~is_pos], end[~is_pos]
    sites = _locate(plan_sites(pe - ps, widths, rng["sites"], two_fraction), pc, ps,
                    genome.offsets)
    decoy_sites = _locate(plan_sites(de - ds, widths, rng["sites"], two_fraction), dc, ds,
                          genome.offsets)
    instances, rel, planted = sample_sites(sites["glob"], sites["motif"], sites["minus"],
                                           motifs, rng["instances"])
    n_sites = np.bincount(sites["region"], minlength=n_positives)
    signal = np.exp(rng["peaks"].normal(2.0, 0.5, n_positives)) * (1 + 0.5 * (n_sites > 1))
    return DnaRegions(pc, ps, pe, dc, ds, de, sites, decoy_sites, instances, rel, signal,
                      planted)


def write_dna_genome(out: Path, genome: DnaGenome, planted: Stamps, elements: Stamps,
                     rng: np.random.Generator, bedgraph: bool,
                     piece: int | None = None) -> Composition:
    """Write ``genome.fa`` (+ .fai), ``conservation.bw`` (and ``conservation.bedGraph``) into
    ``out``, ``piece`` bases at a time: the sequence with the ``planted`` sites, and the
    conservation (:func:`conservation_scores` with the conserved ``elements``, noise from
    ``rng``) outside the N runs.

    Returns
    -------
    Composition
        The genome's counts (GC, CpG, soft-masked and N shares).
    """
    g = genome
    piece = piece or PIECE_BASES
    covered = usable_segments(g.lengths, g.gaps, margin=0)
    comp = Composition()
    fasta = FastaWriter(out / "genome.fa")
    writers = [BigWigWriter(out / "conservation.bw", g.names, g.lengths)]
    if bedgraph:
        writers.append(BedGraphWriter(out / "conservation.bedGraph"))
    try:
        for c, name in enumerate(g.names):
            fasta.start(name)
            length, base = int(g.lengths[c]), int(g.offsets[c])
            segments = [(s, e) for cc, s, e in covered if cc == c]
            for s in range(0, length, piece):
                e = min(length, s + piece)
                seq = g.letters(base + s, base + e)
                planted.paint(seq, base + s)
                fasta.write(seq)
                comp.add(seq, new_chrom=s == 0)
                values = conservation_scores(e - s, rng, elements, base + s)
                for s0, e0 in segments:
                    lo, hi = max(s0, s), min(e0, e)
                    if lo < hi:
                        for w in writers:
                            w.add(name, lo, values[lo - s: hi - s])
            log.debug("%s: %s bp written", name, f"{length:,}")
    finally:
        fasta.close()
        for w in writers:
            w.close()
    return comp


def write_dna_tables(out: Path, genome: DnaGenome, regions: DnaRegions,
                     motifs: Sequence[Motif]) -> None:
    """Write the BED files of the DNA example into ``out`` (a staging folder)."""
    g, r = genome, regions
    width = max(5, len(str(max(r.pos_chrom.size, r.dec_chrom.size))))
    pos_names = [f"peak_{i + 1:0{width}d}" for i in range(r.pos_chrom.size)]
    peaks = [(g.names[c], s, e, n, min(1000, int(v * 50)), ".")
             for c, s, e, n, v in zip(r.pos_chrom, r.pos_start, r.pos_end, pos_names, r.signal)]
    write_table(out / "positives.bed", peaks)
    write_table(out / "positives.narrowPeak",
                (row + (f"{v:.3f}", f"{3 * v:.3f}", f"{max(3 * v - 1, 0):.3f}", int(sm))
                 for row, v, sm in zip(peaks, r.signal, r.sites["summit"])))
    dec_names = [f"decoy_{i + 1:0{width}d}" for i in range(r.dec_chrom.size)]
    write_table(out / "decoys.bed",
                ((g.names[c], s, e, n, 0, ".")
                 for c, s, e, n in zip(r.dec_chrom, r.dec_start, r.dec_end, dec_names)))
    ds_ = r.decoy_sites
    nth = np.zeros(ds_["region"].size, dtype=np.int64)
    for i in range(1, nth.size):  # the plan is sorted by region, then offset
        nth[i] = nth[i - 1] + 1 if ds_["region"][i] == ds_["region"][i - 1] else 0
    write_table(out / "decoy_elements.bed", (
        (g.names[r.dec_chrom[ri]], s, s + motifs[k].width, f"{dec_names[ri]}.{n + 1}", 0,
         "-" if mi else "+", motifs[k].name, dec_names[ri])
        for ri, s, k, mi, n in zip(ds_["region"], ds_["start"], ds_["motif"], ds_["minus"], nth)),
        header="chrom\tstart\tend\tname\tscore\tstrand\tshaped_like\tregion")
    st = r.sites
    write_table(out / "truth.bed", (
        (g.names[r.pos_chrom[ri]], s, s + motifs[k].width, motifs[k].name,
         int(round(1000 * q)), "-" if mi else "+", motifs[k].matrix_id, inst, pos_names[ri])
        for ri, s, k, mi, inst, q in zip(st["region"], st["start"], st["motif"], st["minus"],
                                         r.instances, r.rel_score)),
        header="chrom\tstart\tend\tname\tscore\tstrand\tmatrix_id\tmotif\tregion")


def dna_summary(params: dict, genome: DnaGenome, regions: DnaRegions,
                motifs: Sequence[Motif], comp: Composition) -> dict:
    """The ``simulate.json`` content: parameters, motifs, counts and composition
    (``comp``: :func:`write_dna_genome`'s counts)."""
    gc_frac, cpg = comp.gc_cpg()
    st = regions.sites
    widths = np.array([m.width for m in motifs])[st["motif"]]
    region_len = (regions.pos_end - regions.pos_start)[st["region"]]
    centre = st["offset"] + widths / 2
    near_centre = np.abs(centre - region_len / 2) + widths / 2 <= 100
    near_summit = np.abs(centre - st["summit"][st["region"]]) + widths / 2 <= 100
    per_motif = np.bincount(st["motif"], minlength=len(motifs))
    n_sites = np.bincount(st["region"], minlength=regions.pos_chrom.size)
    files = ["genome.fa", "genome.fa.fai", "positives.bed", "positives.narrowPeak",
             "truth.bed", "decoys.bed", "decoy_elements.bed", "conservation.bw"]
    return {
        "generator": f"seqfm {__version__} simulate (DNA)",
        "seed": params["seed"],
        "parameters": params,
        "chromosomes": dict(zip(genome.names, map(int, genome.lengths))),
        "genome_bp": genome.size,
        "n_runs": [{"chrom": genome.names[c], "start": s, "end": e} for c, s, e in genome.gaps],
        "motifs": [{"matrix_id": m.matrix_id, "name": m.name, "consensus": m.consensus,
                    "width": m.width, "n_sites": int(k)} for m, k in zip(motifs, per_motif)],
        "counts": {"positives": int(regions.pos_chrom.size),
                   "decoys": int(regions.dec_chrom.size),
                   "sites": int(st["region"].size),
                   "two_motif_regions": int((n_sites > 1).sum()),
                   "sites_minus_strand": int(st["minus"].sum()),
                   "decoy_conserved_elements": int(regions.decoy_sites["region"].size)},
        "sites_within_100bp_of_centre": round(float(near_centre.mean()), 4),
        "sites_within_100bp_of_summit": round(float(near_summit.mean()), 4),
        "gc_fraction": round(gc_frac, 4),
        "cpg_observed_expected": round(cpg, 4),
        "soft_masked_fraction": round(comp.n_lower / comp.n, 4),
        "n_fraction": round(comp.n_n / comp.n, 4),
        "files": files + (["conservation.bedGraph"] if params["bedgraph"] else [])
                 + ["simulate.json"],
    }


def _check_options(p: dict, widths: np.ndarray) -> None:
    """Raise InputError on the first option out of range."""
    two = (np.sort(widths)[-2:].sum() + 40 if len(widths) > 1 and p["two_motif_fraction"] > 0
           else widths.max())
    checks = [
        (p["seed"] >= 0, f"--seed must be 0 or more, got {p['seed']}"),
        (p["n_chroms"] >= 1, f"--n-chroms must be at least 1, got {p['n_chroms']}"),
        (p["genome_size"] >= 50_000 * p["n_chroms"], "--genome-size must be at least 50,000 bp "
         f"per chromosome, got {p['genome_size']:,} for {p['n_chroms']}"),
        (p["n_positives"] >= 1, f"--n-positives must be at least 1, got {p['n_positives']}"),
        (p["n_decoys"] >= 0, f"--n-decoys must be 0 or more, got {p['n_decoys']}"),
        (p["n_gaps"] >= 0, f"--n-gaps must be 0 or more, got {p['n_gaps']}"),
        (0 <= p["two_motif_fraction"] <= 1,
         f"--two-motif-fraction must lie in [0, 1], got {p['two_motif_fraction']}"),
        (0.2 <= p["gc"] <= 0.8, f"--gc must lie in [0.2, 0.8], got {p['gc']}"),
        (0 < p["cpg_oe"] <= 1.5, f"--cpg-oe must lie in (0, 1.5], got {p['cpg_oe']}"),
        (0 <= p["mask_fraction"] <= 0.5,
         f"--mask-fraction must lie in [0, 0.5], got {p['mask_fraction']}"),
        (0 < p["min_length"] <= p["max_length"], "region lengths need 0 < --min-length <= "
         f"--max-length, got {p['min_length']} and {p['max_length']}"),
        (p["min_length"] - 2 * SITE_EDGE >= two,
         f"--min-length {p['min_length']} leaves no room for the motifs ({int(two)} bp plus "
         f"{SITE_EDGE} bp at each edge); use --min-length {int(two) + 2 * SITE_EDGE} or more"),
    ]
    for ok, msg in checks:
        if not ok:
            raise InputError(msg)


def simulate(out_dir: str | os.PathLike, seed: int = 1, genome_size: int = 3_000_000,
             n_chroms: int = 5, n_positives: int = 2400, n_decoys: int | None = None,
             motifs: Sequence[str] = DEFAULT_MOTIFS, two_motif_fraction: float = 0.3,
             gc: float = 0.41, cpg_oe: float = 0.22, n_gaps: int = 3,
             mask_fraction: float = 0.05, min_length: int = 200, max_length: int = 500,
             conservation_boost: float = 3.0, bedgraph: bool = False,
             jaspar_release: str = JASPAR_RELEASE) -> dict:
    """Write the DNA example data set into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    out_dir : path
        Output folder (created if needed); files appear only once all are written.
    seed : int
        Seed of every random choice; the same seed gives byte-identical files.
    genome_size, n_chroms : int
        Total genome length and number of chromosomes (lengths fall linearly).
    n_positives, n_decoys : int
        Positive regions (each with planted motifs) and conserved decoy regions
        (default: as many as positives).
    motifs : sequence of str
        JASPAR matrix ids to plant.
    two_motif_fraction : float
        Share of positive regions that carry two different motifs.
    gc, cpg_oe : float
        Target GC fraction and CpG observed/expected of the background chain.
    n_gaps, mask_fraction : int, float
        Number of N runs and share of soft-masked (lowercase) sequence.
    min_length, max_length : int
        Region length range (bp).
    conservation_boost : float
        Mean conservation added over planted sites and decoys' conserved elements.
    bedgraph : bool
        Also write ``conservation.bedGraph``.
    jaspar_release : str
        pyjaspar release to take the matrices from.

    Returns
    -------
    dict
        The summary written to ``simulate.json``.
    """
    params = dict(seed=seed, genome_size=genome_size, n_chroms=n_chroms,
                  n_positives=n_positives,
                  n_decoys=n_positives if n_decoys is None else n_decoys,
                  motifs=list(motifs), two_motif_fraction=two_motif_fraction, gc=gc,
                  cpg_oe=cpg_oe, n_gaps=n_gaps, mask_fraction=mask_fraction,
                  min_length=min_length, max_length=max_length,
                  conservation_boost=conservation_boost, bedgraph=bedgraph,
                  jaspar_release=jaspar_release)
    mots = load_jaspar_motifs(params["motifs"], jaspar_release)
    _check_options(params, np.array([m.width for m in mots]))
    rng = _streams(seed)
    genome = simulate_dna_genome(rng, genome_size, n_chroms, gc, cpg_oe, n_gaps, mask_fraction)
    regions = simulate_dna_regions(genome, mots, rng, n_positives, params["n_decoys"],
                                   two_motif_fraction, min_length, max_length)
    elements = [regions.sites, regions.decoy_sites]
    conserved = conservation_stamps(*(np.concatenate([e[k] for e in elements])
                                      for k in ("glob", "motif", "minus")),
                                    mots, conservation_boost)
    out = Path(out_dir)
    stale = out / "conservation.bedGraph"
    with staged_files(out) as tmp:
        comp = write_dna_genome(tmp, genome, regions.planted, conserved, rng["conservation"],
                                bedgraph)
        write_dna_tables(tmp, genome, regions, mots)
        summary = dna_summary(params, genome, regions, mots, comp)
        (tmp / "simulate.json").write_text(json.dumps(summary, indent=2) + "\n")
        if not bedgraph and stale.exists():
            stale.unlink()
            log.info("removed %s left by an earlier run", stale)
    log.info("simulated %s bp in %d chromosomes: %d positives with %d sites, %d decoys -> %s",
             f"{genome.size:,}", len(genome.names), n_positives,
             summary["counts"]["sites"], params["n_decoys"], out)
    return summary
