"""``seqfm motifs``: a trained :class:`~seqfm.model.SeqCNN`'s first-layer filters to named motifs.

The steps of :func:`run`, and the module each one calls:

1. the model on its device, checked against its dataset (:func:`seqfm.model.load`);
2. each filter's sites and PWM by Basset's rule (:mod:`seqfm.filter_sites`);
3. each filter's influence, by ablation (:mod:`seqfm.influence`);
4. conservation's share, by intervention; track-only filters (:mod:`seqfm.track_effect`);
5. one cluster per motif (:mod:`seqfm.clustering`), and each cluster's influence;
6. on the held-out sequences, each cluster's enrichment and the tracks' effect on the logits
   (:mod:`seqfm.influence`);
7. one record per cluster, most influential first, with its merged PWM (:mod:`seqfm.pwm`);
8. TomTom against JASPAR or a MEME file, with a calibrated rule (:mod:`seqfm.annotation`);
9. the rows of ``motifs.tsv`` and ``interpret/filters.tsv``;
10. the files: MEME (:func:`seqfm.io.write_meme`), the tables, and the logos drawn in parallel
    (:class:`seqfm.logos.LogoPool`).

Matrices are ``(W, A)``: one row per position, one column per letter in alphabet order
(``ACGT`` for DNA).

Length: the verb alone, its ten steps in reading order with the records they hand on, and the
column-by-column description of the files it writes; every computation the steps call lives in
the modules named above.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .alphabet import Alphabet
from .annotation import MatchRule, annotate
from .batching import BatchSource
from .clustering import cluster_filters, coactivation
from .dataset import Dataset, read as read_dataset
from .device import pick_device, set_threads
from .errors import InputError
from .filter_sites import FilterSites, filter_counts, filter_pwms
from .influence import (INFLUENCE_METRICS, ablation_effects, ablation_logits, cluster_calls, enrichment,
                        heldout_pass)
from .io import atomic_path, atomic_write, write_meme
from .jaspar import JASPAR_RELEASE, Database, load_jaspar, load_meme_database, releases
from .logos import LogoPool
from .model import SeqCNN, load as load_model
from .pwm import PWM, counts_to_probs, trim_bounds
from .track_effect import TrackResponse, track_background, track_only_filters, track_response, track_source

log = logging.getLogger("seqfm")


@dataclass
class MotifConfig:
    """Options of ``seqfm motifs`` (the ``motifs:`` section of ``config.yaml``).

    Attributes
    ----------
    frac : float
        Basset's activation threshold fraction (``mean + frac * (max - mean)``).
    min_sites : int
        Fewer sites and a filter gets no PWM.
    trim_bits : float
        Flank positions with less information (bits) are trimmed.
    pseudocount : float
        Per letter, added to the counts.
    cluster_max_p : float
        Two clusters merge when TomTom between their merged matrices (any offset, partial
        overlap, both strands) gives at most this p-value both ways (:func:`cluster_filters`).
    cluster_similarity : float
        Kept so that older configurations still run; no longer used (the clusters are cut
        on ``cluster_max_p``: the whole-matrix similarity it thresholded kept filters covering
        overlapping halves of one motif, or another offset, apart).
    coactivation : bool
        Clusters merge only when the mean correlation of their filters' per-sequence maximum
        activations (:func:`coactivation`) is at least ``min_coactivation``.
    min_coactivation : float
    track_only_ratio : float
        :func:`track_only_filters`: a filter keeping this share of its sites on shuffled
        sequence with the tracks in place is ``track-only``.
    track_max_seqs : int
        At most this many train + valid positives (evenly spaced) for :func:`track_response`.
    influence : str
        ``separation`` (mean logit drop on validation positives minus that on negatives),
        ``auroc`` (drop of validation AUROC) or ``positives`` (mean logit drop on
        positives) when the filter -- for a cluster, all its filters together -- is zeroed.
    jaspar_release, jaspar_collection, jaspar_tax_group : str
        The TomTom targets (pyjaspar, offline); ``jaspar_tax_group`` ``all`` for every taxon;
        ``jaspar_release`` ``none`` leaves the match columns empty (no TomTom).
    rule : MatchRule
    batch_size : int
    device : str
    threads : int
    logos : bool
        Draw the cluster logos (``logos/motif_K``, ``logos/track_K``), PNG + SVG.
    filter_logos : bool
        Also draw a logo of every filter with a PWM (``logos/filters/filter_N``); off by
        default: the report shows the cluster logos, and the filters' PWMs are in
        ``filters.meme``.
    """

    frac: float = 0.7
    min_sites: int = 10
    trim_bits: float = 0.3
    pseudocount: float = 0.5
    cluster_similarity: float = 0.7
    coactivation: bool = True
    cluster_max_p: float = 3e-4
    min_coactivation: float = 0.2
    track_only_ratio: float = 0.5
    track_max_seqs: int = 1000
    influence: str = "separation"
    jaspar_release: str = JASPAR_RELEASE
    jaspar_collection: str = "CORE"
    jaspar_tax_group: str = "vertebrates"
    motif_db: str = ""  # a MEME file annotating instead of JASPAR (any alphabet, e.g. protein motifs)
    rule: MatchRule = field(default_factory=MatchRule)
    batch_size: int = 256
    device: str = "auto"
    threads: int = 0
    logos: bool = True
    filter_logos: bool = False

    def __post_init__(self) -> None:
        if self.influence not in INFLUENCE_METRICS:
            raise InputError(f"influence must be one of {', '.join(INFLUENCE_METRICS)}, got {self.influence!r}")
        if self.min_sites < 1 or self.batch_size < 1:
            raise InputError("min_sites and batch_size must be >= 1")
        if not 0.0 < self.cluster_similarity <= 1.0:
            raise InputError(f"cluster_similarity must be in (0, 1], got {self.cluster_similarity}")
        if not 0.0 < self.cluster_max_p <= 1.0 or not 0.0 < self.track_only_ratio <= 1.0:
            raise InputError("cluster_max_p and track_only_ratio must be in (0, 1]")
        if not -1.0 <= self.min_coactivation <= 1.0:
            raise InputError(f"min_coactivation must be in [-1, 1], got {self.min_coactivation}")
        if self.pseudocount < 0 or self.trim_bits < 0:
            raise InputError("pseudocount and trim_bits must be >= 0")


FILTER_COLUMNS = ["filter", "cluster", "influence", "n_sites", "ic", "consensus", "match_id",
                  "match_name", "match_p", "match_q", "match_E", "match_offset", "match_strand",
                  "match_null_p", "match_null_z", "nearest_id", "nearest_name", "match_family",
                  "auroc_drop", "logit_drop_pos", "kind", "track_sites_kept", "track_act_kept",
                  "shuffled_sites_kept", "trim_start", "trim_end", "threshold", "act_max",
                  "logo"]


MOTIF_COLUMNS = ["rank", "cluster", "influence", "n_sites", "ic", "match_id", "match_name",
                 "match_p", "match_q", "filters", "kind", "match_E", "match_offset", "match_strand",
                 "consensus", "logo", "pos_frac", "neg_frac", "odds_ratio", "fisher_p",
                 "track_sites_kept", "track_act_kept", "track_logit_change", "shuffled_sites_kept",
                 "match_null_p", "match_null_z", "nearest_id",
                 "nearest_name", "match_family", "auroc_drop", "logit_drop_pos", "width"]


def run(model_pt: str | os.PathLike, model_json: str | os.PathLike, dataset_dir: str | os.PathLike,
        out: str | os.PathLike, config: MotifConfig | None = None, progress: bool = False) -> dict:
    """``seqfm motifs``: filters -> PWMs, influence, clusters, JASPAR matches, logos, files.

    Writes under ``out`` (each file atomically):

    ``filters.meme``
        The PWM of every filter with at least ``min_sites`` sites (``filter_N``), trimmed,
        MEME motif format 4 (``strands: + -`` for DNA; uniform background).
    ``interpret/motifs.meme``
        The merged PWM of every cluster (``motif_K``; alternate name: its filters).
    ``motifs.tsv``
        One row per cluster, best (largest influence) first: ``rank cluster influence
        n_sites ic match_id match_name match_p match_q filters``, then ``kind match_E
        match_offset match_strand consensus logo pos_frac neg_frac odds_ratio fisher_p
        track_sites_kept track_act_kept track_logit_change shuffled_sites_kept match_null_p
        match_null_z nearest_id nearest_name match_family auroc_drop logit_drop_pos width``.
        ``kind`` is ``motif`` (a cluster of sequence-motif filters, :func:`cluster_filters`,
        named ``motif_K``) or ``track-only`` (one filter that responds to the tracks without a
        sequence motif, :func:`track_only_filters`, named ``track_K``; K is the rank).
        ``influence`` is measured by zeroing all the cluster's filters together (not the max or
        sum of its members': redundant filters stand in for each other when one is zeroed);
        ``n_sites`` is the sum over its filters. Enrichment (:func:`enrichment`) is counted on
        the test split: a sequence has a call when any member filter passes its Basset site
        threshold in it (:func:`cluster_calls`; not a significance-based call).
        Conservation's share, by intervention (tracks at :func:`track_background`, the
        negatives' median): ``track_sites_kept`` (share of the cluster's sites, train + valid
        positives, left), ``track_act_kept`` (mean activation at its sites, relative),
        ``track_logit_change`` (mean logit change on test positives when only the cluster's
        filters see the background tracks), ``shuffled_sites_kept`` (sites on
        dinucleotide-shuffled sequence with the tracks in place, per real site); empty without
        tracks. ``match_id``/``match_name``/``match_family`` are filled only when
        the match passes ``config.rule``; ``match_p``/``q``/``E``/``offset``/``strand`` and
        ``nearest_*`` always describe the best TomTom target (``match_offset``: memelite's, the
        query's first column sits at that column of the target oriented by ``match_strand``).
    ``interpret/filters.tsv``
        One row per filter (``filter cluster influence n_sites ic consensus match_*
        nearest_* auroc_drop logit_drop_pos kind track_sites_kept track_act_kept
        shuffled_sites_kept trim_start trim_end threshold act_max logo``), most influential
        first; filters without a PWM that are not track-only have an empty ``cluster``.
    ``logos/``
        ``motif_K.png/.svg`` (the cluster beside its best JASPAR match and the conservation
        weights of its most influential filter; ``track_K`` for a track-only row) and, with
        ``config.filter_logos``, ``filters/filter_N.png/.svg``.

    Returns
    -------
    dict: a summary (counts, the top clusters).
    """
    cfg = config or MotifConfig()
    # the logo workers start now: their imports overlap the work before the logos
    with LogoPool(cfg.threads if cfg.logos else 1) as logo_pool:
        return _run(model_pt, model_json, dataset_dir, out, cfg, progress, logo_pool)


def _run(model_pt, model_json, dataset_dir, out, cfg: MotifConfig, progress: bool,
         logo_pool: LogoPool) -> dict:
    """``seqfm motifs`` step by step; see :func:`run`."""
    t0 = time.time()
    _check_jaspar_release(cfg)
    out = Path(out)
    inp = _load_inputs(model_pt, model_json, dataset_dir, cfg)
    fp = _filter_sites_and_pwms(inp, cfg, progress)
    infl = _filter_influence(inp, fp.n_filters, cfg, progress)
    tracks = _track_intervention(inp, fp, cfg)
    groups = _cluster_motif_filters(inp, fp, tracks, infl, cfg)
    held = _heldout_effects(inp, fp, tracks, infl, groups, cfg)
    clusters, logo_bounds = _cluster_records(inp, fp, infl, tracks, groups, held, cfg)
    log.info("%d motif clusters (TomTom p <= %.2g between merged matrices) and %d track-only filters",
             len(groups.found), cfg.cluster_max_p, len(tracks.track_only_filters))
    matches = _annotate_motifs(clusters, fp, inp.alpha, cfg)
    mot_rows = _motif_rows(clusters, matches)
    filt_rows = _filter_rows(fp, infl, tracks, clusters, matches, cfg.logos and cfg.filter_logos)
    _write_outputs(out, inp, fp, infl, clusters, logo_bounds, matches, mot_rows, filt_rows, cfg,
                   logo_pool)
    summary = {"n_filters": fp.n_filters, "n_pwms": len(fp.have), "n_clusters": len(groups.found),
               "n_track_only": len(tracks.track_only_filters), "pwm_sequences": fp.which,
               "influence_split_size": int(len(infl.rows)), "seconds": round(time.time() - t0, 1),
               "top": [(r["cluster"], r["match_id"], r["match_name"], r["influence"]) for r in mot_rows[:8]]}
    log.info("wrote %s/motifs.tsv, filters.meme, logos/, interpret/ in %.1f s", out, summary["seconds"])
    return summary


def _check_jaspar_release(cfg: MotifConfig) -> None:
    """Refuse, before any work, a JASPAR release pyjaspar does not ship (``none``: no annotation)."""
    if str(cfg.jaspar_release).lower() != "none" and cfg.jaspar_release not in releases():
        raise InputError(f"JASPAR release {cfg.jaspar_release!r} is not shipped with pyjaspar; use one "
                         f"of {', '.join(releases())} or 'none'")


@dataclass
class _Inputs:
    """What ``seqfm motifs`` reads: the model, its dataset and the batches made from it.

    Attributes
    ----------
    model : SeqCNN (eval mode, on ``device``)
    info : dict, the parsed ``model.json``
    data : seqfm.dataset.Dataset
    labels : numpy.ndarray, int64, ``(N,)``
    policy : str, the ambiguity policy of the one-hot input
    source : seqfm.batching.BatchSource over every row of ``data``
    device : torch.device
    """

    model: SeqCNN
    info: dict
    data: Dataset
    labels: np.ndarray
    policy: str
    source: Any
    device: Any

    @property
    def alpha(self) -> Alphabet:
        return self.model.alphabet

    def split(self, *splits: str) -> np.ndarray:
        """Rows of the given splits, in dataset order."""
        return np.flatnonzero(np.isin(self.data.meta["split"].to_numpy(), list(splits)))


def _load_inputs(model_pt, model_json, dataset_dir, cfg: MotifConfig) -> _Inputs:
    """Step 1: the dataset, the model on its device checked against it, and the batch source."""
    set_threads(cfg.threads)
    device = pick_device(cfg.device)
    dset_path = Path(dataset_dir)
    data = read_dataset(dset_path)
    model, info = load_model(model_pt, model_json, device, dataset=data, dataset_dir=dset_path)
    labels = np.asarray(data.labels).astype(np.int64)
    policy = info.get("policy", data.info.get("policy", "uniform"))
    source = BatchSource(data.codes, data.tracks, labels, device, model.alphabet, policy)
    log.info("model %s: %d filters of width %d on %s; dataset %s: %d sequences",
             model_pt, model.conv1.out_channels, model.filter_width, device, dset_path, len(labels))
    return _Inputs(model, info, data, labels, policy, source, device)


@dataclass
class _FilterPWMs:
    """Step 2's result: each filter's sites and PWM.

    Attributes
    ----------
    fit : numpy.ndarray, int, ``(M,)``
        The rows the sites were counted on.
    which : str
        What they are (``train+valid positives``, else ``all positives``).
    sites : FilterSites
    pwms : list of PWM or None, length F
    bounds : numpy.ndarray, int, ``(F, 2)``
        The trimmed ``[start, end)`` of each filter's window (:func:`filter_pwms`).
    """

    fit: np.ndarray
    which: str
    sites: FilterSites
    pwms: list
    bounds: np.ndarray

    @property
    def n_filters(self) -> int:
        return len(self.pwms)

    @property
    def have(self) -> list[int]:
        """The filters with a PWM."""
        return [f for f in range(self.n_filters) if self.pwms[f] is not None]


def _filter_sites_and_pwms(inp: _Inputs, cfg: MotifConfig, progress: bool) -> _FilterPWMs:
    """Step 2: Basset's sites of every filter over the train + valid positives (all positives
    when those splits hold none), and the PWMs of the filters with ``min_sites`` sites."""
    pos = np.flatnonzero(inp.labels == 1)
    fit = np.intersect1d(pos, inp.split("train", "valid"))
    which = "train+valid positives"
    if len(fit) == 0:
        fit, which = pos, "all positives"
    sites = filter_counts(inp.model, inp.source, fit, cfg.frac, cfg.batch_size, progress)
    pwms, bounds = filter_pwms(sites, inp.alpha.name, cfg.min_sites, cfg.trim_bits, cfg.pseudocount)
    fp = _FilterPWMs(fit, which, sites, pwms, bounds)
    log.info("filter PWMs from %d %s: %d of %d filters have >= %d sites", len(fit), which,
             len(fp.have), fp.n_filters, cfg.min_sites)
    return fp


@dataclass
class _Influence:
    """Step 3's result: the intact logits and each filter's ablation effects.

    Attributes
    ----------
    rows : numpy.ndarray, int, ``(M,)``  the influence split
    base : numpy.ndarray, ``(M,)``  the intact model's logits on it
    effects : dict of numpy.ndarray ``(F,)``  :func:`ablation_effects` of each filter zeroed
    metric : str  the effect that is the influence (``MotifConfig.influence``)
    """

    rows: np.ndarray
    base: np.ndarray
    effects: dict
    metric: str

    @property
    def of_filter(self) -> np.ndarray:
        """Each filter's influence ``(F,)``."""
        return self.effects[self.metric]


def _influence_rows(inp: _Inputs) -> np.ndarray:
    """The validation split, else the test split, else every row: the first holding both classes."""
    ev = inp.split("valid")
    if len(np.unique(inp.labels[ev])) < 2:
        ev = inp.split("test")
    if len(np.unique(inp.labels[ev])) < 2:
        ev = np.arange(len(inp.labels))
    return ev


def _filter_influence(inp: _Inputs, n_f: int, cfg: MotifConfig, progress: bool) -> _Influence:
    """Step 3: influence by ablation, each filter zeroed alone (:func:`ablation_logits`)."""
    ev = _influence_rows(inp)
    base, abl = ablation_logits(inp.model, inp.source, ev, 1.0 - np.eye(n_f), cfg.batch_size,
                                progress=progress)
    return _Influence(ev, base, ablation_effects(base, abl, inp.labels[ev]), cfg.influence)


@dataclass
class _TrackEffect:
    """Step 4's result: conservation's share, by intervention (all None / False without tracks).

    Attributes
    ----------
    background : numpy.ndarray ``(T,)`` or None  :func:`track_background` of the negatives
    response : TrackResponse or None
    track_only : numpy.ndarray, bool, ``(F,)``  :func:`track_only_filters`
    """

    background: np.ndarray | None
    response: TrackResponse | None
    track_only: np.ndarray

    @property
    def track_only_filters(self) -> list[int]:
        return [int(f) for f in np.flatnonzero(self.track_only)]


def _track_intervention(inp: _Inputs, fp: _FilterPWMs, cfg: MotifConfig) -> _TrackEffect:
    """Step 4: the filters' sites with the tracks at background and on shuffled sequence
    (:func:`track_response`, on up to ``track_max_seqs`` of the PWM rows); the filters that
    respond to the tracks without a sequence motif are track-only."""
    data, labels, n_f = inp.data, inp.labels, fp.n_filters
    n_tracks = data.tracks.shape[1] if data.tracks.ndim == 3 else 0
    neg = np.flatnonzero(labels == 0)
    background = track_background(data.tracks, neg if len(neg) else np.arange(len(labels))) if n_tracks else None
    if background is None:
        return _TrackEffect(None, None, np.zeros(n_f, dtype=bool))
    sub = fp.fit
    if len(sub) > cfg.track_max_seqs:
        sub = fp.fit[np.linspace(0, len(fp.fit) - 1, cfg.track_max_seqs).round().astype(np.int64)]
    response = track_response(inp.model, data.codes, data.tracks, sub, fp.sites.threshold, background,
                              cfg.rule.seed, inp.policy, cfg.batch_size)
    track_only = track_only_filters(response, fp.pwms, fp.sites.n_sites, cfg.min_sites, cfg.track_only_ratio)
    log.info("tracks at background (%s): %d of %d filters keep half their sites or less; %d filters "
             "are track-only (fire on shuffled sequence with the tracks in place, or a flat PWM "
             "following the track)", ", ".join(f"{b:.3g}" for b in background),
             int((response.kept_background <= 0.5).sum()), n_f, int(track_only.sum()))
    return _TrackEffect(background, response, track_only)


@dataclass
class _Groups:
    """Step 5's result: the clusters, then one group per track-only filter.

    Attributes
    ----------
    found : list of Cluster  the motif clusters (:func:`cluster_filters`)
    members : list of list of int  each group's filters (clusters first)
    kinds : list of str  ``motif`` or ``track-only``, per group
    masks : numpy.ndarray ``(K, F)``  0 on each group's filters
    effects : dict of numpy.ndarray ``(K,)``  :func:`ablation_effects` of each group zeroed
    order : numpy.ndarray ``(K,)``  the groups by decreasing influence
    """

    found: list
    members: list
    kinds: list
    masks: np.ndarray
    effects: dict
    order: np.ndarray


def _cluster_motif_filters(inp: _Inputs, fp: _FilterPWMs, tracks: _TrackEffect, infl: _Influence,
                           cfg: MotifConfig) -> _Groups:
    """Step 5: cluster the motif filters (TomTom between merged matrices, and co-activation),
    then measure each group's influence with all its filters zeroed together."""
    n_f = fp.n_filters
    motif_f = [f for f in fp.have if not tracks.track_only[f]]
    coact = None
    if fp.sites.seq_max is not None and cfg.coactivation:
        coact = coactivation(fp.sites.seq_max)[np.ix_(motif_f, motif_f)]
    found = cluster_filters([fp.pwms[f] for f in motif_f], inp.alpha, cfg.cluster_max_p, coact,
                            cfg.min_coactivation, cfg.trim_bits)
    track_f = tracks.track_only_filters
    members = [[motif_f[i] for i in cl.members] for cl in found] + [[f] for f in track_f]
    kinds = ["motif"] * len(found) + ["track-only"] * len(track_f)
    masks = np.ones((len(members), n_f))
    for c, g in enumerate(members):
        masks[c, g] = 0.0
    if members:
        _, abl = ablation_logits(inp.model, inp.source, infl.rows, masks, cfg.batch_size)
        effects = ablation_effects(infl.base, abl, inp.labels[infl.rows])
    else:
        effects = {k: np.zeros(0) for k in INFLUENCE_METRICS}
    order = np.argsort(-np.nan_to_num(effects[cfg.influence], nan=-np.inf), kind="stable")
    return _Groups(found, members, kinds, masks, effects, order)


def _heldout_effects(inp: _Inputs, fp: _FilterPWMs, tracks: _TrackEffect, infl: _Influence,
                     groups: _Groups, cfg: MotifConfig) -> tuple[dict, np.ndarray]:
    """Step 6, on the held-out (test) sequences: each group's enrichment of calls
    (:func:`enrichment`), and the mean logit change on positives when only its filters read
    the tracks at background (the last entry: every filter).

    Returns
    -------
    (enrichment, logit_change ``(K + 1,)``, NaN without tracks)
    """
    labels, n_f = inp.labels, fp.n_filters
    held = inp.split("test")
    held_name = "test"
    if len(np.unique(labels[held])) < 2:
        held, held_name = infl.rows, "influence split"
    bsrc = (track_source(inp.data.codes, inp.data.tracks, held, inp.alpha, inp.policy, inp.device,
                        tracks.background)
            if tracks.background is not None else None)
    gmasks = np.vstack([groups.masks, np.zeros((1, n_f))])  # last row: every filter at background
    hbase, hmixed, hmax = heldout_pass(inp.model, inp.source, held, gmasks, bsrc, cfg.batch_size)
    enr = enrichment(cluster_calls(hmax, fp.sites.threshold, groups.members), labels[held])
    hpos = labels[held] == 1
    logit_change = np.full(len(gmasks), np.nan)
    if hmixed is not None and hpos.any():
        logit_change = (hmixed - hbase[None])[:, hpos].mean(axis=1)
        log.info("tracks at background for every filter: mean logit change %.3g on %d %s positives",
                 logit_change[-1], int(hpos.sum()), held_name)
    return enr, logit_change


def _track_kept(response: TrackResponse | None):
    """``kept(filters, num, den)``: a share of ``response``'s per-filter sums over a group's
    filters (``n``, ``n_bg``, ``n_sh``: sites; ``act``, ``act_bg``: summed activation at them),
    NaN without tracks or sites."""
    per_filter = {}
    if response is not None:
        per_filter = {"n": response.n_sites, "n_bg": response.n_sites_background,
                      "n_sh": response.n_sites_shuffled,
                      "act": np.nan_to_num(response.act_sites * response.n_sites),
                      "act_bg": np.nan_to_num(response.act_sites_background * response.n_sites)}

    def kept(g: list[int], num: str, den: str) -> float:
        if not per_filter:
            return float("nan")
        d = float(per_filter[den][g].sum())
        return float(per_filter[num][g].sum()) / d if d > 0 else float("nan")

    return kept


def _cluster_records(inp: _Inputs, fp: _FilterPWMs, infl: _Influence, tracks: _TrackEffect,
                     groups: _Groups, held: tuple[dict, np.ndarray], cfg: MotifConfig
                     ) -> tuple[list[dict], np.ndarray]:
    """Step 7: one record per group, most influential first (``motif_K`` / ``track_K``, K the
    rank): its merged, trimmed PWM and every number of its ``motifs.tsv`` row.

    Returns
    -------
    (records, logo_bounds): ``logo_bounds`` ``(F, 2)`` is :attr:`_FilterPWMs.bounds` with a
    track-only filter without a PWM spanning its whole window (its logo's track weights).
    """
    enr, logit_change = held
    sites, alpha = fp.sites, inp.alpha
    kept = _track_kept(tracks.response)
    logo_bounds = fp.bounds.copy()
    records = []
    for rank, c in enumerate(groups.order, start=1):
        g = groups.members[c]
        rep_i = int(np.argmax([infl.of_filter[f] for f in g]))
        if groups.kinds[c] == "motif":
            counts, place = groups.found[c].counts, groups.found[c].place
        else:
            f = g[0]
            if fp.pwms[f] is None:
                logo_bounds[f] = 0, sites.counts.shape[1]
                counts = sites.counts[f]
            else:
                counts = fp.pwms[f].counts
            place = [(0, 0)]
        lo, hi = trim_bounds(counts_to_probs(counts, cfg.pseudocount), cfg.trim_bits)
        if hi <= lo:
            lo, hi = 0, len(counts)
        name = f"motif_{rank}" if groups.kinds[c] == "motif" else f"track_{rank}"
        pwm = PWM(name, counts[lo:hi], int(sum(sites.n_sites[f] for f in g)), alpha.name,
                  cfg.pseudocount, altname="+".join(f"filter_{f}" for f in g))
        ceff = groups.effects
        records.append({"name": name, "rank": rank, "c": c, "filters": g, "rep": g[rep_i], "pwm": pwm,
                        "kind": groups.kinds[c], "rep_place": (place[rep_i][0] - lo, place[rep_i][1]),
                        "influence": float(ceff[cfg.influence][c]),
                        "auroc_drop": float(ceff["auroc"][c]),
                        "logit_drop_pos": float(ceff["positives"][c]),
                        "enrichment": {k: float(v[c]) for k, v in enr.items()},
                        "track_sites_kept": kept(g, "n_bg", "n"),
                        "track_act_kept": kept(g, "act_bg", "act"),
                        "shuffled_sites_kept": kept(g, "n_sh", "n"),
                        "track_logit_change": float(logit_change[c])})
    return records, logo_bounds


#: the TomTom columns of motifs.tsv and filters.tsv (:meth:`_Matches.columns`)
MATCH_COLUMNS = ("match_id", "match_name", "match_p", "match_q", "match_E", "match_offset",
                 "match_strand", "match_null_p", "match_null_z", "nearest_id", "nearest_name",
                 "match_family")


@dataclass
class _Matches:
    """Step 8's result: TomTom's answer for the queries, the clusters first, then the filters
    with a PWM (``db`` and ``ann`` None without annotation)."""

    db: Database | None = None
    ann: dict | None = None

    def columns(self, i: int) -> dict:
        """The :data:`MATCH_COLUMNS` of query ``i`` (empty strings without annotation)."""
        ann, db = self.ann, self.db
        if ann is None:
            return dict.fromkeys(MATCH_COLUMNS, "")
        t = int(ann["target"][i])
        sig = bool(ann["significant"][i])
        return {"match_id": db.ids[t] if sig else "", "match_name": db.names[t] if sig else "",
                "match_p": _g(ann["p"][i]), "match_q": _g(ann["q"][i]), "match_E": _g(ann["E"][i]),
                "match_offset": int(ann["offset"][i]), "match_strand": "-" if ann["strand"][i] else "+",
                "match_null_p": _g(ann["null_p"][i]),
                "match_null_z": _g(ann["null_z"][i]), "nearest_id": db.ids[t],
                "nearest_name": db.names[t], "match_family": _family(db, t) if sig else ""}

    def logo_match(self, i: int) -> dict:
        """Keywords of :func:`seqfm.logos.save_logo` drawing query ``i``'s best target beside it."""
        ann, db = self.ann, self.db
        if ann is None:
            return {}
        t = int(ann["target"][i])
        return dict(match_probs=db.probs[t], match_offset=int(ann["offset"][i]),
                    match_strand=int(ann["strand"][i]),
                    match_title=f"{db.ids[t]} {db.names[t]}  p={ann['p'][i]:.2g} "
                                f"E={ann['E'][i]:.2g}" + ("" if ann["significant"][i] else " (n.s.)"))


def _annotate_motifs(clusters: list[dict], fp: _FilterPWMs, alpha: Alphabet, cfg: MotifConfig) -> _Matches:
    """Step 8: the clusters' and the filters' PWMs against the motif database in one TomTom
    call: ``motif_db`` when given, else JASPAR for DNA (none with release ``none``)."""
    queries = [cl["pwm"].probs for cl in clusters] + [fp.pwms[f].probs for f in fp.have]
    if cfg.motif_db and queries:
        db = load_meme_database(cfg.motif_db, alpha)
        ann = annotate(queries, db, cfg.rule, reverse_complement=alpha.complement is not None)
        log.info("TomTom against %s (%d matrices): %d of %d queries annotated", db.label, len(db),
                 int(ann["significant"].sum()), len(queries))
        return _Matches(db, ann)
    if str(cfg.jaspar_release).lower() == "none":
        log.info("JASPAR annotation turned off (jaspar release 'none')")
    elif alpha.name == "dna" and queries:
        db = load_jaspar(cfg.jaspar_release, cfg.jaspar_collection, cfg.jaspar_tax_group)
        t1 = time.time()
        ann = annotate(queries, db, cfg.rule)
        log.info("TomTom against %s (%d matrices): %d of %d queries annotated (%.1f s)", db.label,
                 len(db), int(ann["significant"].sum()), len(queries), time.time() - t1)
        return _Matches(db, ann)
    elif queries:
        log.info("no motif database for the %s alphabet: no annotation", alpha.name)
    return _Matches()


def _motif_rows(clusters: list[dict], matches: _Matches) -> list[dict]:
    """Step 9a: the ``motifs.tsv`` rows (:data:`MOTIF_COLUMNS`), one per cluster record."""
    rows = []
    for k, cl in enumerate(clusters):
        enr = cl["enrichment"]
        row = {"rank": cl["rank"], "cluster": cl["name"], "influence": _g(cl["influence"]),
               "n_sites": cl["pwm"].n_sites, "ic": round(cl["pwm"].ic, 3),
               "filters": ",".join(f"filter_{f}" for f in cl["filters"]), "kind": cl["kind"],
               "consensus": cl["pwm"].consensus(), "logo": f"logos/{cl['name']}.png",
               "pos_frac": _g(enr["pos_frac"]), "neg_frac": _g(enr["neg_frac"]),
               "odds_ratio": _g(enr["odds_ratio"]), "fisher_p": _g(enr["fisher_p"]),
               "track_sites_kept": _g(cl["track_sites_kept"]), "track_act_kept": _g(cl["track_act_kept"]),
               "track_logit_change": _g(cl["track_logit_change"]),
               "shuffled_sites_kept": _g(cl["shuffled_sites_kept"]),
               "auroc_drop": _g(cl["auroc_drop"]), "logit_drop_pos": _g(cl["logit_drop_pos"]),
               "width": cl["pwm"].width}
        row.update(matches.columns(k))
        rows.append(row)
    return rows


def _filter_rows(fp: _FilterPWMs, infl: _Influence, tracks: _TrackEffect, clusters: list[dict],
                 matches: _Matches, filter_logos: bool) -> list[dict]:
    """Step 9b: the ``interpret/filters.tsv`` rows (:data:`FILTER_COLUMNS`), one per filter,
    most influential first."""
    sites, response, eff = fp.sites, tracks.response, infl.effects
    cluster_of = _cluster_of(clusters)
    query_of = {f: len(clusters) + j for j, f in enumerate(fp.have)}
    rows = []
    for f in range(fp.n_filters):
        p = fp.pwms[f]
        row = {"filter": f"filter_{f}", "cluster": cluster_of.get(f, ""), "influence": _g(infl.of_filter[f]),
               "n_sites": int(sites.n_sites[f]), "ic": round(p.ic, 3) if p else "",
               "consensus": p.consensus() if p else "", "auroc_drop": _g(eff["auroc"][f]),
               "logit_drop_pos": _g(eff["positives"][f]),
               "kind": ("track-only" if tracks.track_only[f] else "motif" if f in cluster_of else ""),
               "track_sites_kept": _g(response.kept_background[f]) if response is not None else "",
               "track_act_kept": (_g(response.act_sites_background[f] / response.act_sites[f])
                                  if response is not None and response.act_sites[f] > 0 else ""),
               "shuffled_sites_kept": _g(response.kept_shuffled[f]) if response is not None else "",
               "trim_start": int(fp.bounds[f, 0]) if p else "", "trim_end": int(fp.bounds[f, 1]) if p else "",
               "threshold": _g(sites.threshold[f]), "act_max": _g(sites.act_max[f]),
               "logo": f"logos/filters/filter_{f}.png" if p and filter_logos else ""}
        row.update(matches.columns(query_of[f]) if p else dict.fromkeys(MATCH_COLUMNS, ""))
        rows.append(row)
    rows.sort(key=lambda r: -float(r["influence"]) if r["influence"] != "" else np.inf)
    return rows


def _cluster_of(clusters: list[dict]) -> dict[int, str]:
    """The cluster record's name of each clustered filter."""
    return {f: cl["name"] for cl in clusters for f in cl["filters"]}


def _write_outputs(out: Path, inp: _Inputs, fp: _FilterPWMs, infl: _Influence, clusters: list[dict],
                   logo_bounds: np.ndarray, matches: _Matches, mot_rows: list[dict],
                   filt_rows: list[dict], cfg: MotifConfig, logo_pool: LogoPool) -> None:
    """Step 10: the logos, ``filters.meme``, ``interpret/motifs.meme``, ``interpret/filters.tsv``
    and ``motifs.tsv``, each written atomically; ``logos/`` is drawn beside and swapped in last
    (a killed run's leftover is removed next time)."""
    alpha = inp.alpha
    filter_logos = cfg.logos and cfg.filter_logos
    with atomic_path(out / "logos", folder=True, ours=_is_logos_folder,
                     what="a seqfm logos folder") as logo_tmp:
        if cfg.logos:
            log.info("drawing %d cluster logos%s (PNG + SVG)", len(clusters),
                     f" and {len(fp.have)} filter logos" if filter_logos else "")
            weight = inp.model.first_layer_weights().detach().cpu().numpy()
            track_names = inp.data.track_names
            jobs = [_cluster_logo_job(logo_tmp, cl, matches.logo_match(k), weight, alpha, logo_bounds,
                                      track_names) for k, cl in enumerate(clusters)]
            cluster_of = _cluster_of(clusters)
            jobs += [_filter_logo_job(logo_tmp, f, fp, infl.of_filter[f], cluster_of.get(f, ""), weight,
                                      alpha, track_names) for f in (fp.have if filter_logos else [])]
            logo_pool.draw(jobs)

        (out / "interpret").mkdir(parents=True, exist_ok=True)
        write_meme([fp.pwms[f] for f in fp.have], out / "filters.meme", alpha.name)
        write_meme([cl["pwm"] for cl in clusters], out / "interpret" / "motifs.meme", alpha.name)
        _write_tsv(pd.DataFrame(filt_rows, columns=FILTER_COLUMNS), out / "interpret" / "filters.tsv")
        _write_tsv(pd.DataFrame(mot_rows, columns=MOTIF_COLUMNS), out / "motifs.tsv")


def _cluster_logo_job(folder: Path, cl: dict, match: dict, weight: np.ndarray, alpha: Alphabet,
                      bounds: np.ndarray, track_names: list[str]) -> dict:
    """The :func:`seqfm.logos.save_logo` keywords of a cluster record's logo (``folder/NAME``)."""
    tw = _cluster_track_weights(weight, alpha, cl, bounds)
    return dict(stem=folder / cl["name"], probs=cl["pwm"].probs, alphabet=alpha.name,
                title=f"{cl['name']}  {len(cl['filters'])} filter(s)"
                      f"{'  track-only' if cl['kind'] != 'motif' else ''}  n={cl['pwm'].n_sites}  "
                      f"influence={cl['influence']:.3g}",
                track_weights=tw, track_names=track_names, **match)


def _filter_logo_job(folder: Path, f: int, fp: _FilterPWMs, influence: float, cluster: str,
                     weight: np.ndarray, alpha: Alphabet, track_names: list[str]) -> dict:
    """The :func:`seqfm.logos.save_logo` keywords of filter ``f``'s logo (``folder/filters/filter_f``)."""
    lo, hi = fp.bounds[f]
    tw = weight[f, alpha.size:, lo:hi].T if weight.shape[1] > alpha.size else None
    pwm = fp.pwms[f]
    return dict(stem=folder / "filters" / f"filter_{f}", probs=pwm.probs, alphabet=alpha.name,
                title=f"filter_{f}  n={pwm.n_sites}  influence={influence:.3g}  {cluster}",
                track_weights=tw, track_names=track_names)


def _g(x) -> str:
    """A number for a TSV cell (4 significant digits; empty for NaN)."""
    x = float(x)
    return "" if math.isnan(x) else f"{x:.4g}"


def _family(db: Database, t: int) -> str:
    fam = getattr(db, "families", None)
    return fam[t] if fam else ""


def _cluster_track_weights(weight: np.ndarray, alpha: Alphabet, cl: dict, bounds: np.ndarray):
    """The representative filter's conservation weights placed on the cluster's positions ``(W, T)``."""
    if weight.shape[1] <= alpha.size:
        return None
    f = cl["rep"]
    lo, hi = bounds[f]
    tw = weight[f, alpha.size:, lo:hi].T  # (w, T), strand-0 orientation
    off, strand = cl["rep_place"]
    if strand:
        tw = tw[::-1]
    out = np.zeros((cl["pwm"].width, tw.shape[1]))
    for i in range(len(tw)):
        j = off + i
        if 0 <= j < len(out):
            out[j] = tw[i]
    return out


def _is_logos_folder(folder: Path) -> bool:
    """Whether ``folder`` holds only logos (PNG/SVG files and a ``filters/`` folder of them)."""
    for path in folder.rglob("*"):
        if not (path.is_dir() and path.name == "filters" or path.suffix in (".png", ".svg")):
            return False
    return True


def _write_tsv(df, path: Path) -> None:
    with atomic_write(path) as fh:
        fh.write(df.to_csv(sep="\t", index=False))
