"""Conservation tracks aligned to prepared sequences.

DNA: phyloP/phastCons-style bigWig or bedGraph read over each sequence's genome
interval (reversed for minus-strand sequences). A shuffled negative gets the
values of the positive it was made from, *in place*: position ``i`` of the shuffle keeps
the conservation of position ``i`` of its source, so conservation alone cannot tell a
positive from its shuffle and the network must read the sequence.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import io
from .errors import InputError

log = logging.getLogger("seqfm.conservation")


def dna_tracks(table: pd.DataFrame, paths: list[str], seed: int, fill: float = 0.0) -> tuple[np.ndarray, list[str]]:
    """Read conservation tracks for every row of a prepared table.

    Parameters
    ----------
    table : DataFrame with ``name chrom start end strand source`` and fixed-length ``sequence``
    paths : list of bigWig/bedGraph paths (one track each)
    seed : int
        Unused (kept for the callers' signature: shuffled negatives copy their source's tracks).
    fill : float
        Value where a track has no data.

    Returns
    -------
    tracks : numpy.ndarray, float16, shape ``(N, T, L)``
    names : list of str, the track names (file names without extension)
    """
    n, length = len(table), len(table["sequence"].iloc[0]) if len(table) else 0
    out = np.zeros((n, len(paths), length), dtype=np.float16)
    if not paths:
        return out, []
    has = (table["chrom"] != "").to_numpy()
    if not has.any():
        raise InputError("conservation tracks need genome coordinates, but no sequence has any "
                         "(give BED + genome, or FASTA headers like chr1:100-300)")
    names = []
    for t, path in enumerate(paths):
        track = io.Track(path, fill=fill)
        names.append(track.name)
        for i in np.flatnonzero(has):
            r = table.iloc[i]
            vals = track.values(r.chrom, int(r.start), int(r.start) + length,
                                where=f"sequence '{r['name']}'")
            out[i, t] = vals[::-1] if r.strand == "-" else vals
        log.info("read track %s for %d sequences", track.name, int(has.sum()))
    tracks_for_shuffles(out, table)
    return out, names


def tracks_for_shuffles(out: np.ndarray, table: pd.DataFrame) -> None:
    """Give each shuffled negative (``source`` set) its source row's tracks, in place.

    ``out`` is ``(N, T, L)`` and is changed in place. Position ``i`` of a shuffle keeps the
    conservation of position ``i`` of its source: a shuffle differs from its positive by the
    sequence only, so a conserved block is no evidence for the positive class.
    """
    row_of = {name: i for i, name in enumerate(table["name"])}
    for i in np.flatnonzero(table["source"].to_numpy() != ""):
        out[i] = out[row_of[table["source"].iloc[i]]]


# --------------------------------------------------------------------------- protein
#: BLOSUM62 background amino-acid frequencies (Henikoff & Henikoff 1992), in PROTEIN.letters order,
#: the background of Capra & Singh's Jensen-Shannon divergence score
BLOSUM62_BACKGROUND = np.array([
    0.074, 0.025, 0.054, 0.054, 0.047, 0.074, 0.026, 0.068, 0.058, 0.099,   # A C D E F G H I K L
    0.025, 0.045, 0.039, 0.034, 0.052, 0.057, 0.051, 0.073, 0.013, 0.032,   # M N P Q R S T V W Y
])
BLOSUM62_BACKGROUND = BLOSUM62_BACKGROUND / BLOSUM62_BACKGROUND.sum()
MSA_SUFFIXES = (".a3m", ".sto", ".stockholm", ".fa", ".fasta", ".afa", ".aln.fa")


def henikoff_weights(msa: np.ndarray) -> np.ndarray:
    """Position-based sequence weights (Henikoff & Henikoff 1994) of an MSA ``(S, M)`` of codes.

    Codes 0..19 are residues; 20 is a gap. Each column gives 1 / (r * n_a) to a
    sequence with residue a, r distinct residues in the column; gaps count as a letter.
    """
    n_seq, n_col = msa.shape
    weights = np.zeros(n_seq)
    for j in range(n_col):
        col = msa[:, j]
        values, counts = np.unique(col, return_counts=True)
        per = 1.0 / (len(values) * counts)
        weights += per[np.searchsorted(values, col)]
    return weights / max(weights.sum(), 1e-12)


def js_divergence(msa: np.ndarray, window: int = 3, window_lambda: float = 0.5,
                  gap_penalty: bool = True, pseudocount: float = 1e-6,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Jensen-Shannon divergence conservation per MSA column (Capra & Singh 2007).

    Parameters
    ----------
    msa : numpy.ndarray, shape ``(S, M)``
        Residue codes 0..19 (``PROTEIN.letters`` order), 20 for a gap.
    window : int
        Half-width of the smoothing window; 0 turns smoothing off. A column's score
        becomes ``(1 - λ) s_i + λ mean(s_j, 0 < |i - j| <= window)``.
    window_lambda : float
        λ above.
    gap_penalty : bool
        Multiply each score by the weighted fraction of non-gaps in its column.
    weights : numpy.ndarray, optional
        Sequence weights; Henikoff position-based weights by default.

    Returns
    -------
    numpy.ndarray, shape ``(M,)``, in bits, 0 (background-like) to 1 (fully conserved,
    rare residue).
    """
    n_seq, n_col = msa.shape
    w = henikoff_weights(msa) if weights is None else np.asarray(weights, dtype=float)
    counts = np.zeros((n_col, 21))
    np.add.at(counts, (np.broadcast_to(np.arange(n_col), msa.shape), msa), np.broadcast_to(w[:, None], msa.shape))
    residues = counts[:, :20]
    p = (residues + pseudocount) / (residues.sum(axis=1, keepdims=True) + 20 * pseudocount)
    q = BLOSUM62_BACKGROUND[None, :]
    r = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 = 0
        p_term = np.where(p > 0, p * np.log2(p / r), 0.0)
    score = 0.5 * p_term.sum(axis=1) + 0.5 * np.sum(q * np.log2(q / r), axis=1)
    if gap_penalty:
        score *= 1.0 - counts[:, 20] / max(w.sum(), 1e-12)
    if window > 0:
        kernel = np.ones(2 * window + 1)
        kernel[window] = 0
        total = np.convolve(score, kernel)[window:window + n_col]  # 'same' breaks when M < kernel
        n = np.convolve(np.ones(n_col), kernel)[window:window + n_col]
        score = (1 - window_lambda) * score + window_lambda * total / np.maximum(n, 1)
    return score


def read_msa(path: str | Path, protein: str) -> tuple[np.ndarray, str]:
    """Read one protein's MSA (FASTA, Stockholm or A3M) as codes over the query's residues.

    The query is the row named like the protein, else the first row. Columns where
    the query has a gap are dropped (and A3M insertions, lowercase letters, too), so
    column ``i`` is residue ``i`` of the protein.

    Returns
    -------
    codes : numpy.ndarray, shape ``(S, M)``, residue codes 0..19, 20 for gaps and unknown letters
    query : str, the query's residues (uppercase), length M
    """
    path = Path(path)
    rows = _read_alignment_rows(path)
    if not rows:
        raise InputError(f"{path}: alignment for protein '{protein}' holds no sequence")
    query = next((seq for name, seq in rows if name == protein), rows[0][1])
    cols = np.flatnonzero([c not in "-." for c in query])
    from .alphabet import PROTEIN

    lookup = np.full(256, 20, dtype=np.uint8)  # gaps and unknown letters count as gaps
    for code, letter in enumerate(PROTEIN.letters):
        lookup[ord(letter)] = lookup[ord(letter.lower())] = code
    mat = np.stack([lookup[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)] for _, seq in rows])
    return mat[:, cols], "".join(query[c] for c in cols).upper()


def check_query(query: str, window: str, start: int, protein: str, path) -> None:
    """The query residues under a sequence window must be the window's residues (padding aside)."""
    for k, letter in enumerate(window.upper()):
        pos = start + k
        if letter == "X" and not 0 <= pos < len(query):
            continue  # padding
        got = query[pos] if 0 <= pos < len(query) else "end"
        if got != letter:
            raise InputError(f"{path}: the alignment's query row does not match protein '{protein}' at "
                             f"residue {pos + 1} (alignment has {got!r}, sequence has {letter!r})")


def _read_alignment_rows(path: Path) -> list[tuple[str, str]]:
    """(name, aligned row) pairs; A3M lowercase insertions removed so rows have equal length."""
    from Bio import AlignIO

    if path.suffix.lower() in (".sto", ".stockholm"):
        fmt = "stockholm"
    else:
        fmt = "fasta"
    try:
        if fmt == "fasta":
            from .io import read_fasta

            rows = [(r.name, r.sequence) for r in read_fasta(path, "alignment")]
            if path.suffix.lower() == ".a3m" or any(c.islower() for _, s in rows[1:] for c in s):
                rows = [(n, "".join(c for c in s if not c.islower() and c != ".")) for n, s in rows]
        else:
            rows = [(rec.id, str(rec.seq)) for rec in AlignIO.read(str(path), fmt)]
    except ValueError as err:
        raise InputError(f"{path}: not a readable {fmt} alignment ({err})") from None
    lengths = {len(s) for _, s in rows}
    if len(lengths) > 1:
        raise InputError(f"{path}: alignment rows differ in length ({sorted(lengths)[:3]}...); "
                         f"give an aligned FASTA, Stockholm or A3M file")
    return rows


def find_msa(folder: Path, protein: str) -> Path | None:
    for suffix in MSA_SUFFIXES:
        candidate = folder / f"{protein}{suffix}"
        if candidate.exists():
            return candidate
    return None


def read_score_table(path: str | Path) -> dict[str, np.ndarray]:
    """Per-residue scores the user already has: TSV with columns ``protein``, ``position`` (1-based), ``score``."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype={"protein": str})
    except (ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: not a tab-separated score table ({err})") from None
    missing = {"protein", "position", "score"} - set(df.columns)
    if missing:
        raise InputError(f"{path}: score table lacks column(s) {', '.join(sorted(missing))}; "
                         f"the header must be: protein, position (1-based), score")
    if (df["position"] < 1).any():
        row = int(np.argmax(df["position"].to_numpy() < 1)) + 2
        raise InputError(f"{path} line {row}: positions are 1-based (found {df['position'].min()})")
    out = {}
    for protein, g in df.groupby("protein", sort=False):
        vals = np.full(int(g["position"].max()), np.nan, dtype=np.float32)
        vals[g["position"].to_numpy() - 1] = g["score"].to_numpy()
        out[protein] = vals
    return out


def protein_tracks(table: pd.DataFrame, source: str, seed: int, fill: float = 0.0
                   ) -> tuple[np.ndarray, list[str]]:
    """One conservation track for protein rows: JS divergence from per-protein MSAs (``source`` a
    folder) or scores from a table (``source`` a TSV file).

    ``chrom`` of a protein row is the protein's name and ``start`` the window's offset in
    it (negative when the window was padded). An MSA's query row must match the
    protein's residues, else an :class:`InputError` names the protein and residue.
    """
    n, length = len(table), len(table["sequence"].iloc[0])
    out = np.full((n, 1, length), fill, dtype=np.float32)
    src = Path(source)
    if not src.exists():
        raise InputError(f"{src}: protein conservation source not found (give an MSA folder or a "
                         f"score table)")
    scores = read_score_table(src) if src.is_file() else None
    for i, r in enumerate(table.itertuples(index=False)):
        if not r.chrom:
            continue
        if scores is not None:
            values = scores.get(r.chrom)
            if values is None:
                raise InputError(f"{src}: no scores for protein '{r.chrom}'")
        else:
            msa = find_msa(src, r.chrom)
            if msa is None:
                raise InputError(f"{src}: no alignment for protein '{r.chrom}' (looked for "
                                 f"{r.chrom}{{{','.join(MSA_SUFFIXES)}}})")
            codes, query = read_msa(msa, r.chrom)
            check_query(query, r.sequence, r.start, r.chrom, msa)
            values = js_divergence(codes)
        lo, hi = max(0, r.start), min(len(values), r.start + length)
        if hi > lo:
            seg = values[lo:hi]
            out[i, 0, lo - r.start:hi - r.start] = np.where(np.isnan(seg), fill, seg)
    tracks_for_shuffles(out, table)
    return out.astype(np.float16), [src.stem if src.is_file() else "msa_jsd"]
