"""bigWig writing (pyBigWig): tracks fed tile by tile in order, at a resolution of ``bin``
bases, and shards' files that share one header merged into one with zoom levels."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyBigWig

from .scan_kernels import bin_means


class TrackWriter:
    """bigWig writers (pyBigWig) for the CAM and chosen filters, fed tile by tile in order.

    Parameters
    ----------
    paths : list of path
        One file per column (CAM first).
    sizes : dict
        Every chromosome's size, in header order (all of them, so shards share one header).
    bin : int
        Bases per value (mean over the bin, bins aligned at multiples of ``bin``).
    """

    def __init__(self, paths: Sequence, sizes: dict, bin: int = 1, zooms: int = 10) -> None:
        self.paths = [Path(p) for p in paths]
        self.tmp = [p.with_name(f".{p.name}.tmp") for p in self.paths]
        self.bin = bin
        self.handles = []
        for t in self.tmp:
            t.parent.mkdir(parents=True, exist_ok=True)
            bw = pyBigWig.open(str(t), "w")
            bw.addHeader(list(sizes.items()), maxZooms=zooms)
            self.handles.append(bw)

    def add(self, chrom: str, start: int, values: np.ndarray) -> None:
        """Values ``(K, n)`` for bases ``[start, start + n)`` (NaN: no data)."""
        for bw, v in zip(self.handles, values):
            v = bin_means(np.ascontiguousarray(v, np.float32), self.bin)
            write_runs(bw, chrom, start, v, self.bin)

    def close(self, ok: bool = True) -> None:
        for bw, t, p in zip(self.handles, self.tmp, self.paths):
            bw.close()
            if ok:
                os.replace(t, p)
            elif t.exists():
                t.unlink()
        self.handles = []


def write_runs(bw, chrom: str, start: int, values: np.ndarray, step: int = 1) -> None:
    """``addEntries`` for each run of finite values (``values[i]`` covers bases
    ``[start + i * step, start + (i + 1) * step)``)."""
    fin = np.isfinite(values)
    if not fin.any():
        return
    edges = np.flatnonzero(np.diff(np.concatenate([[False], fin, [False]]).astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2]):
        bw.addEntries(chrom, int(start + a * step), values=np.ascontiguousarray(values[a:b], np.float64),
                      span=step, step=step)


def merge_tracks(inputs: Sequence[Path], out: Path, bin: int = 1, chunk: int = 500_000,
                 zooms: int = 10) -> None:
    """Merge bigWigs that share one header (each holding some chromosomes) into one file,
    reading ``chunk`` bases at a time (values at resolution ``bin``)."""
    chunk = max(bin, chunk // bin * bin)
    handles = [pyBigWig.open(str(p)) for p in inputs]
    try:
        sizes = dict(handles[0].chroms()) if handles else {}
        tmp = out.with_name(f".{out.name}.tmp")
        dst = pyBigWig.open(str(tmp), "w")
        dst.addHeader(list(sizes.items()), maxZooms=zooms)
        try:
            for chrom, size in sizes.items():
                for h in handles:
                    if not _has_data(h, chrom):
                        continue
                    for s in range(0, size, chunk):
                        e = min(size, s + chunk)
                        v = np.asarray(h.values(chrom, s, e, numpy=True), dtype=np.float64)
                        if bin > 1:
                            v = v[::bin]
                        write_runs(dst, chrom, s, v, bin)
        finally:
            dst.close()
        os.replace(tmp, out)
    finally:
        for h in handles:
            h.close()


def _has_data(bw, chrom: str) -> bool:
    """Whether a bigWig holds any value on ``chrom``."""
    if chrom not in bw.chroms():
        return False
    try:
        return bw.stats(chrom, type="max")[0] is not None
    except RuntimeError:
        return False
