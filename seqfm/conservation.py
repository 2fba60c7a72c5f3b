"""Conservation tracks aligned to prepared sequences.

DNA: phyloP/phastCons-style bigWig or bedGraph read over each sequence's genome
interval (reversed for minus-strand sequences). A shuffled negative gets the
values of the positive it was made from, permuted over positions, so the track
keeps its distribution but loses the positional signal the shuffle destroyed.
"""

from __future__ import annotations

import logging

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
        Seed of the position permutation given to shuffled negatives.
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
    rng = np.random.default_rng(seed)
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
    row_of = {name: i for i, name in enumerate(table["name"])}
    for i in np.flatnonzero(table["source"].to_numpy() != ""):
        src = out[row_of[table["source"].iloc[i]]]
        out[i] = src[:, rng.permutation(length)]
    return out, names
