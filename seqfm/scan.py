"""Genome-wide scanning with a trained :class:`~seqfm.model.SeqCNN`: binding-site calls and
browser tracks for whole chromosomes, in bounded memory. Three verbs, one module each beneath:

- ``seqfm scan-null`` (:func:`make_null`): the empirical null, once per genome
  (:mod:`seqfm.scan_null`);
- ``seqfm scan`` (:func:`run`): one shard's chromosomes, or the whole genome, through the engine
  (:mod:`seqfm.scanner`) to candidates, calls and tracks (:mod:`seqfm.shards`,
  :mod:`seqfm.scan_calls`, :mod:`seqfm.bigwig`);
- ``seqfm scan-merge`` (:func:`seqfm.shards.merge_shards`): shards gathered into genome-wide
  calls and tracks; ``seqfm scan-plan`` (:mod:`seqfm.shard_plan`) cuts a genome into shards.

Significance
------------
As in :mod:`seqfm.sites`, with the same :mod:`seqfm.significance`: an empirical null of peak
values per detector (each filter, and the CAM) and conservation stratum, from the genome's
own windows dinucleotide-shuffled with their tracks kept in place
(:func:`seqfm.scan_null.build_genome_null`: ``null_bases`` of seeded windows, the whole genome
when it is shorter). Candidates take the stratum of their window's track mean. A genome holds
far more tests than a null can resolve, so the upper tail of each group's null is modelled by an
exponential beyond the ``tail_fraction`` quantile (peaks over threshold; the mean excess is the
maximum-likelihood scale): :class:`~seqfm.significance.ScanNull`. Benjamini–Hochberg q-values
are computed within each detector and stratum over the candidates of every shard (the tests of
each split over the strata as the null's peaks are); a call passes at ``q <= q``.
Candidates are kept in a bounded buffer (``max_candidates``): beyond it only the smallest
p-values are kept and the others are counted as tests (see :func:`seqfm.sites.bh`); the scan's
value thresholds then rise so that it stops returning what would be dropped.

Outputs of a shard (``seqfm scan ... --chrom chr1 --out DIR``): ``DIR/candidates.npz`` (every
candidate with ``p <= q``), ``DIR/scan.json`` (tests per family, chromosome sizes, timings, the
options), ``DIR/sites.bed`` / ``DIR/sites.gff3`` (calls with this shard's q-values; not with
``--shard``, as the workflow runs it) and bigWigs ``DIR/cam.bw`` (+ ``DIR/filter_K.bw``; means
over bins of ``bin`` bases, 10 by default). ``seqfm scan-merge`` gathers shards into the same
files with genome-wide q-values, taking ``q`` and the merging of calls from the shards.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

from . import model as model_mod
from .calls import read_filter_labels
from .device import pick_device, set_threads
from .errors import InputError
from .io import Genome, Track
from .scan_null import build_genome_null
from .scanner import GenomeSource, ScanConfig, Scanner, model_fingerprint
from .shards import scan_sources
from .significance import ScanNull

log = logging.getLogger("seqfm")


def open_tracks(paths: Sequence[str], fill: float = 0.0) -> list:
    return [Track(p, fill=fill) for p in paths if p]


def load_model(model_pt, model_json, device: str = "auto"):
    """The model on the chosen device, in eval mode, and its ``model.json``."""
    model, info = model_mod.load(model_pt, model_json, pick_device(device))
    return model.eval(), info


def check_tracks(model, tracks: Sequence, model_json) -> None:
    n = model.arch["n_tracks"]
    if len(tracks) != n:
        raise InputError(f"{model_json}: the model reads {n} conservation track(s) but "
                         f"{len(tracks)} were given (--conservation)")


def _open(model_pt, model_json, genome_path, conservation, fill, config: ScanConfig, threads: int):
    """The scanner of a model for a genome and its tracks, checked against each other."""
    set_threads(threads)
    torch.manual_seed(config.seed)
    model, info = load_model(model_pt, model_json, config.device)
    genome = Genome(genome_path)
    if not genome.sizes:
        raise InputError(f"{genome_path}: the FASTA holds no sequence")
    track_objs = open_tracks(conservation, fill)
    check_tracks(model, track_objs, model_json)
    return Scanner(model, info, config), genome, track_objs


def make_null(model_pt, model_json, genome_path, null_path, conservation: Sequence[str] = (),
              fill: float = 0.0, config: ScanConfig | None = None, threads: int = 0,
              progress: bool = False) -> dict:
    """``seqfm scan-null``: the genome's null (:func:`seqfm.scan_null.build_genome_null`),
    written to ``null_path``; every shard then reads the same one."""
    config = config or ScanConfig()
    scanner, genome, track_objs = _open(model_pt, model_json, genome_path, conservation, fill,
                                        config, threads)
    null = build_genome_null(scanner, genome, list(genome.sizes), config, track_objs,
                             model_fingerprint(scanner.model), progress)
    null.save(Path(null_path))
    return {"null": str(null_path), **null.info}


def run(model_pt, model_json, genome_path, out, chroms: Sequence[str] | None = None,
        conservation: Sequence[str] = (), fill: float = 0.0, config: ScanConfig | None = None,
        null_path=None, filters_tsv=None, threads: int = 0, progress: bool = False,
        shard: bool = False) -> dict:
    """``seqfm scan``: scan ``chroms`` (default: every sequence of the FASTA) into ``out``.

    The null is read from ``null_path`` when given, else built in process (seeded, from the
    whole genome, so every shard gets the same one). A ``shard`` writes only what
    :func:`seqfm.shards.merge_shards` reads (no BED or GFF3, bigWigs without zoom levels).
    """
    config = config or ScanConfig()
    if shard:  # zoom levels are built by the merge, in one file
        config = replace(config, zooms=0)
    scanner, genome, track_objs = _open(model_pt, model_json, genome_path, conservation, fill,
                                        config, threads)
    fp = model_fingerprint(scanner.model)
    all_chroms = list(genome.sizes)
    if null_path:
        null = ScanNull.load(null_path)
        null.info["path"] = str(Path(null_path).resolve())  # the merge reads its peaks
        if null.fingerprint and null.fingerprint != fp:
            raise InputError(f"{null_path}: the null was made with another model (rebuild it with "
                             "`seqfm scan-null`)")
    else:
        null = build_genome_null(scanner, genome, all_chroms, config, track_objs, fp, progress)
    chroms = list(chroms) if chroms else all_chroms
    missing = [c for c in chroms if c not in genome.sizes]
    if missing:
        raise InputError(f"chromosome '{missing[0]}' is not in {genome_path} (it has "
                         f"{', '.join(all_chroms[:5])}{' and more' if len(all_chroms) > 5 else ''})")
    chroms = sorted(set(chroms), key=all_chroms.index)  # bigWig entries go in header order
    sources = [GenomeSource(genome, c, scanner.alphabet, track_objs) for c in chroms]
    labels = (read_filter_labels(filters_tsv, scanner.n_filters, scanner.alphabet)
              if filters_tsv else None)
    log.info("scanning %s (%s) with %s on %s", genome_path, ",".join(chroms), model_pt, scanner.device)
    res = scan_sources(scanner, sources, null, out, dict(genome.sizes), labels, progress,
                       protein=scanner.alphabet.complement is None, text=not shard,
                       genome=str(Path(genome_path).resolve()))
    return {"out": str(res.out), "n_calls": res.n_calls, "n_candidates": res.n_candidates,
            "bases": res.bases, "seconds": res.seconds, **res.files}
