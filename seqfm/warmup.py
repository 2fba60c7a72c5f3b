"""Compile seqfm's numba kernels (and memelite's TomTom) once, into numba's disk cache; keep
the default JASPAR selection on disk (:func:`seqfm.jaspar.load_jaspar`).

The first call of a numba kernel in a cold cache compiles it: TomTom alone takes about a
minute, the scan kernel several seconds, and a cluster run would pay that in every job that
starts on a cold cache. :func:`warm_up` runs each kernel once on tiny real inputs, the same
calls and argument types the commands make, so later runs load them in about a second.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import jaspar
from .alphabet import PARALLEL_MIN, get, one_hot, strings_to_one_hot
from .model import DEFAULTS, SeqCNN, save
from .numba_cache import use_numba_cache
from .tomtom import tomtom_best

log = logging.getLogger("seqfm")


def _tomtom() -> None:
    rng = np.random.default_rng(0)
    queries = [rng.dirichlet(np.ones(4), size=w) for w in (6, 8)]
    names = [f"m{i}" for i in range(30)]  # enough targets for TomTom's background
    db = jaspar.Database(names, names, [rng.dirichlet(np.ones(4), size=7) for _ in names])
    tomtom_best(queries, db)


def _jaspar() -> None:
    jaspar.load_jaspar()  # pyjaspar's default selection, kept on disk for the motifs step


def _one_hot() -> None:
    dna = get("dna")
    big = PARALLEL_MIN // (4 * 1000) + 1  # small batches run serially, large ones in parallel
    for n in (1, big):
        strings_to_one_hot(["ACGTN" * 200] * n, dna)
        one_hot(np.zeros((n, 1000), np.uint8), dna)


def _merge() -> None:
    # after use_numba_cache(): numba fixes a kernel's cache folder when its module is imported
    from .calls import merge_overlapping

    starts = np.arange(0, 100, 7)
    merge_overlapping(starts, starts + 10, np.zeros(len(starts), int), np.arange(len(starts)))


def _scan(tmp: Path) -> None:
    """A seeded two-chromosome genome scanned by a small untrained model of the default filter
    width, with and without a conservation track (null, tiles, p-values, calls, bigWigs, merged
    shards). The kernel is compiled per filter width (its track taps unroll), so a model of
    another width compiles once more, in its first scan."""
    # after use_numba_cache(): numba fixes a kernel's cache folder when its module is imported
    from . import scan, scanner, shards

    rng = np.random.default_rng(0)
    genome = tmp / "genome.fa"
    sizes = {"chr1": 6000, "chr2": 4000}
    with open(genome, "w") as f:
        for name, n in sizes.items():
            f.write(f">{name}\n" + "".join(rng.choice(list("ACGT"), n)) + "\n")
    bedgraph = tmp / "cons.bedGraph"
    with open(bedgraph, "w") as f:
        for name, n in sizes.items():
            for s in range(0, n, 100):
                f.write(f"{name}\t{s}\t{min(n, s + 100)}\t{rng.random():.3f}\n")
    torch.manual_seed(0)
    for n_tracks, tracks in ((0, []), (1, [str(bedgraph)])):
        model = SeqCNN({"n_filters": 8, "filter_width": DEFAULTS["filter_width"],
                        "n_tracks": n_tracks}).eval()
        pt, js = save(model, tmp / f"model{n_tracks}")
        cfg = scanner.ScanConfig(null_bases=20_000, null_window=2000, tile=2000)
        parts = []
        for chrom in sizes:
            out = tmp / f"scan{n_tracks}" / chrom
            scan.run(pt, js, genome, out, chroms=[chrom], conservation=tracks, config=cfg,
                     shard=chrom != "chr1")  # one run makes its own calls, as outside a workflow
            parts.append(out)
        shards.merge_shards(parts, tmp / f"scan{n_tracks}" / "all")


def warm_up() -> float:
    """Compile every kernel; returns the seconds it took."""
    use_numba_cache()
    t0 = time.perf_counter()
    level = log.level
    with tempfile.TemporaryDirectory(prefix="seqfm_warm_up_") as tmp:
        for name, step in (("TomTom", _tomtom), ("JASPAR", _jaspar), ("one-hot", _one_hot), ("merge", _merge),
                           ("scan", lambda: _scan(Path(tmp)))):
            t = time.perf_counter()
            log.setLevel(logging.WARNING)  # the steps' own messages are about toy data
            try:
                step()
            finally:
                log.setLevel(level)
            log.info("%s %s ready in %.1f s", name, "matrices" if name == "JASPAR" else "kernels",
                     time.perf_counter() - t)
    return time.perf_counter() - t0
