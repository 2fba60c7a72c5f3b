"""Binding-site calls from feature maps, with calibrated significance.

Pipeline (:func:`call_sites`, driven by ``seqfm sites``):

1. **Candidates.** On the evaluated sequences (by default the positives of the test split),
   every local maximum of every filter's activation (maximum over the strands) and of the
   class-activation map (CAM) is a candidate, after non-maximum suppression over the filter
   width (:mod:`seqfm.featuremaps`). Zero-valued filter maxima (the ReLU's floor) are
   candidates too: they count as tests and get p = 1.
2. **Empirical null** (:mod:`seqfm.significance`, shared with the genome scan).
   ``null_copies`` dinucleotide-shuffled copies of the same sequences (seeded; at most
   ``null_max_seqs`` sequences, a seeded subset) with every conservation track **kept in
   place** go through the same model and the same peak finding: the question a p-value
   answers is whether a filter fires this high on random sequence *with this conservation*.
   Candidates fall into conservation strata by the track's mean over their window (edges at
   the ``strata`` quantiles over the evaluated sequences); each detector (each filter, and the
   CAM) has its own null distribution per stratum, its top tail an exponential.
3. **p-values.** A candidate of detector d in stratum s with value x gets
   ``p = (1 + #{null peaks of (d, s) >= x}) / (1 + n_null(d, s))`` (the tail beyond it).
4. **q-values.** Benjamini–Hochberg within each detector and stratum (stratified FDR:
   conservation is a prior on where to look, never evidence); a call passes at
   ``q <= q_threshold`` (default 0.05).
5. **Merging.** Overlapping calls keep only the best (smallest p, then largest activation
   relative to the detector's null maximum): across every filter, one call per site named
   after its filter's cluster (``merge="all"``, the default); ``"cluster"`` within each motif
   cluster (``filters.tsv``); ``"none"`` keeps every call.

Coordinates: a filter call spans the filter's *core* (the columns that carry its motif,
:func:`seqfm.featuremaps.filter_cores`) on the strand that gave the peak; a CAM call spans the
first-layer window ``[j, j + W)``. Strands: a filter may learn a motif either way round, so the
strand of a filter call is the strand its weights matched on, flipped when ``filters.tsv`` says
the filter's JASPAR match aligned to its reverse complement (``match_strand`` ``-``): with a
match, the strand is the matched motif's orientation. A CAM call's strand is the strand whose
stream alone gives the larger map (the orientation of the filters that drive it). Sequences with genome coordinates (``chrom``/``start``/``end``
in ``meta.tsv``) are reported in genome coordinates; minus-strand rows (reverse-complemented at
extraction) count from the window's end and their strands flip. Sequences without coordinates
are reported in sequence coordinates with ``chrom`` = the sequence name.

Outputs (:func:`seqfm.calls.write_bed`, :func:`seqfm.calls.write_gff3`): ``sites.bed`` — BED6+ with the header line
``#chrom start end name score strand detector cluster activation p q match_name``, where
``name = <cluster or detector>:<sequence name>`` and
``score = int(1000 * min(1, -log10(q) / 10))`` (q = 1e-10 or smaller scores 1000), sorted by
chrom, start; ``sites.gff3`` — GFF3, 1-based inclusive, type ``TF_binding_site`` (SO:0000235)
for DNA or ``binding_site`` (SO:0000409) for protein, score = activation, attributes ``ID``,
``Name``, ``detector``, ``cluster``, ``activation``, ``p``, ``q``, ``match`` escaped as the
GFF3 specification asks.

Length: the verb's own data path (candidates, their null, coordinates, evaluation and the
report's ``featuremaps.npz``), read top to bottom; what it shares with the genome scan lives
in :mod:`seqfm.significance` and :mod:`seqfm.calls`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import labels as labels_mod
from . import significance as sig
from .calls import (MERGE_MODES, FilterLabels, filter_name, merge_calls, read_filter_labels,
                    score_of, write_calls)
from .errors import InputError
from .significance import NullModel, ScanNull, bh  # noqa: F401  (re-exported)

log = logging.getLogger("seqfm")

LABEL_CHOICES = ("positive", "negative", "all")
SPLIT_CHOICES = ("test", "valid", "train", "all")


# ---------------------------------------------------------------------- options
@dataclass
class SitesConfig:
    """Options of ``seqfm sites`` (the ``sites:`` section of ``config.yaml``).

    Attributes
    ----------
    split : str
        Evaluated split: ``test`` (default), ``valid``, ``train`` or ``all``.
    labels : str
        Evaluated sequences: ``positive`` (default), ``negative`` or ``all``.
    q : float
        BH q-value threshold of a call.
    null_copies : int
        Dinucleotide-shuffled copies of each sequence in the null (K).
    null_max_seqs : int
        Shuffle at most this many sequences (a seeded subset) per copy.
    seed : int
    nms_width : int or None
        Non-maximum-suppression window (None: the filter width).
    core_fraction : float
        A filter column belongs to its motif core when its letter-weight spread is at least
        this fraction of the filter's largest spread.
    cam : bool
        Also call CAM peaks.
    merge : str
        ``cluster``, ``all`` or ``none`` (see the module docstring).
    batch_size : int
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    top_n : int
        Sequences in ``featuremaps.npz``.
    top_filters : int
        Filters in ``featuremaps.npz``.
    """

    split: str = "test"
    labels: str = "positive"
    q: float = 0.05
    null_copies: int = 10
    null_max_seqs: int = 2000
    seed: int = 1
    nms_width: int | None = None
    core_fraction: float = 0.3
    cam: bool = True
    merge: str = "all"
    batch_size: int = 256
    device: str = "auto"
    top_n: int = 8
    top_filters: int = 4
    strata: tuple = sig.DEFAULT_STRATA
    tail_fraction: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 < self.q <= 1.0:
            raise InputError(f"sites q must be in (0, 1], got {self.q}")
        if self.null_copies < 1 or self.null_max_seqs < 1:
            raise InputError("sites null_copies and null_max_seqs must be >= 1")
        if self.split not in SPLIT_CHOICES:
            raise InputError(f"sites split must be one of {', '.join(SPLIT_CHOICES)}, got {self.split!r}")
        if self.labels not in LABEL_CHOICES:
            raise InputError(f"sites labels must be one of {', '.join(LABEL_CHOICES)}, got {self.labels!r}")
        if self.merge not in MERGE_MODES:
            raise InputError(f"sites merge must be one of {', '.join(MERGE_MODES)}, got {self.merge!r}")
        if not 0.0 < self.core_fraction <= 1.0:
            raise InputError(f"sites core_fraction must be in (0, 1], got {self.core_fraction}")
        if self.nms_width is not None and self.nms_width < 1:
            raise InputError(f"sites nms_width must be >= 1, got {self.nms_width}")


# ---------------------------------------------------------------------- the null
null_copies = sig.shuffled_copies  # the null keeps every track in place


# ---------------------------------------------------------------------- selection
def select_rows(meta: pd.DataFrame, labels: np.ndarray, split: str = "test",
                which: str = "positive") -> np.ndarray:
    """Rows of a dataset to evaluate: a split (or ``all``) and a label set."""
    sel = np.ones(len(meta), dtype=bool)
    if split != "all":
        sel &= meta["split"].astype(str).to_numpy() == split
    lab = np.asarray(labels)
    if which == "positive":
        sel &= lab == 1
    elif which == "negative":
        sel &= lab == 0
    return np.flatnonzero(sel)


# ---------------------------------------------------------------------- filter labels
# ---------------------------------------------------------------------- coordinates
def window_origin(meta: pd.DataFrame, length: int) -> np.ndarray:
    """Genome position of sequence position 0 (forward strand of the window), ``(N,)`` int64.

    Windows clipped at a chromosome start (``start == 0`` and shorter than ``length``) keep
    their true origin ``end - length``.
    """
    start = meta["start"].to_numpy(np.int64)
    end = meta["end"].to_numpy(np.int64)
    clipped = (start == 0) & (end - start < length)
    return np.where(clipped, end - length, start)


def to_output_coordinates(rows: np.ndarray, start: np.ndarray, end: np.ndarray,
                          strand: np.ndarray, meta: pd.DataFrame, length: int, stranded: bool
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sequence intervals to output coordinates.

    Parameters
    ----------
    rows : int ``(P,)``  dataset rows
    start, end : int ``(P,)``  0-based half-open interval in the sequence
    strand : int ``(P,)``  0 forward / 1 reverse of the sequence
    meta : DataFrame  the dataset's ``meta.tsv``
    length : int  sequence length L
    stranded : bool  whether strands mean anything (DNA); else strand is ``.``

    Returns
    -------
    chrom (object), start, end (int64), strand (object: ``+``, ``-`` or ``.``).
    Rows with a ``chrom`` give genome coordinates (minus-strand rows count from the window's
    end and flip the strand); rows without give sequence coordinates on ``chrom = name``.
    """
    chrom_col = meta["chrom"].astype(str).to_numpy()
    names = meta["name"].astype(str).to_numpy()
    mstrand = meta["strand"].astype(str).to_numpy()
    origin = window_origin(meta, length)
    rows = np.asarray(rows, np.int64)
    has = chrom_col[rows] != ""
    minus = has & (mstrand[rows] == "-")
    o = origin[rows]
    g_start = np.where(minus, o + length - end, o + start)
    g_end = np.where(minus, o + length - start, o + end)
    out_start = np.where(has, g_start, start)
    out_end = np.where(has, g_end, end)
    chrom = np.where(has, chrom_col[rows], names[rows]).astype(object)
    if stranded:
        s = np.asarray(strand) == 1
        s = s ^ minus
        out_strand = np.where(s, "-", "+").astype(object)
    else:
        out_strand = np.full(len(rows), ".", dtype=object)
    return chrom, out_start.astype(np.int64), out_end.astype(np.int64), out_strand


def truth_in_sequences(truth: pd.DataFrame, meta: pd.DataFrame, rows: np.ndarray, length: int
                       ) -> pd.DataFrame:
    """Planted sites (genome BED) that overlap the given sequences, in sequence coordinates.

    Returns
    -------
    DataFrame with ``seq`` (index into ``rows``), ``start``, ``end`` (clipped to the
    sequence), ``strand`` (relative to the sequence) and ``name``.
    """
    out = []
    origin = window_origin(meta, length)
    for k, r in enumerate(np.asarray(rows)):
        chrom = str(meta["chrom"].iloc[r])
        if not chrom:
            continue
        o = int(origin[r])
        t = truth[(truth["chrom"] == chrom) & (truth["end"] > o) & (truth["start"] < o + length)]
        minus = str(meta["strand"].iloc[r]) == "-"
        for s, e, st, nm in zip(t["start"], t["end"], t["strand"], t["name"]):
            if minus:
                a, b = o + length - e, o + length - s
                st = {"+": "-", "-": "+"}.get(st, st)
            else:
                a, b = s - o, e - o
            out.append((k, max(a, 0), min(b, length), st, nm))
    return pd.DataFrame(out, columns=["seq", "start", "end", "strand", "name"])


# ---------------------------------------------------------------------- calling
@dataclass
class SiteCalls:
    """Calls and what went into them.

    Attributes
    ----------
    calls : DataFrame
        One row per passing call: ``row`` (dataset row), ``detector`` (filter index, -1 CAM),
        ``pos`` (window start), ``seq_start``, ``seq_end``, ``seq_strand`` (0/1),
        ``activation``, ``p``, ``q``, ``rel`` (activation / the detector's null maximum).
    rows : numpy.ndarray  evaluated dataset rows
    null : NullModel
    n_tests : dict  family -> number of candidates (``filters``, ``cam``)
    cores : numpy.ndarray ``(F, 2)``  filter cores
    """

    calls: pd.DataFrame
    rows: np.ndarray
    null: NullModel
    n_tests: dict = field(default_factory=dict)
    cores: np.ndarray | None = None


def _strata_of(means: np.ndarray | None, peaks, edges: np.ndarray) -> np.ndarray:
    """Stratum of each peak from the window means ``(N, L1)`` of its sequence (0 without)."""
    if means is None or not len(edges):
        return np.zeros(len(peaks), np.int64)
    return sig.stratum_of(means[peaks.seq, peaks.pos], edges)


def _position_share(means: np.ndarray | None, edges: np.ndarray) -> np.ndarray:
    """Share of the window positions in each stratum ``(S,)``."""
    if means is None or not len(edges):
        return np.ones(1)
    return np.bincount(sig.stratum_of(means.ravel(), edges), minlength=len(edges) + 1) / means.size


def _peaks_and_tests(model, codes, tracks, means, edges, alphabet, policy, device, config,
                     rows=None, progress: bool = False, desc: str = "peaks"):
    """Filter and CAM peaks of ``codes`` (rows ``0..N-1``, or ``rows`` of a dataset), their
    strata (``means`` holds the window means of the same rows, in order), and the tests
    ``(F + 1, S)`` per detector and stratum."""
    from tqdm import tqdm

    from . import featuremaps as fm

    n_filters = model.conv1.weight.shape[0]
    n_strata = len(edges) + 1
    width = config.nms_width or model.filter_width
    index = np.arange(len(codes)) if rows is None else np.asarray(rows, np.int64)
    it = fm.iter_inputs(codes, tracks, index, alphabet, policy, device, config.batch_size)
    n_batches = (len(index) + config.batch_size - 1) // config.batch_size
    parts, n_tests = [], np.zeros(n_filters + 1, np.int64)
    for brows, x in tqdm(it, total=n_batches, desc=desc, disable=not progress, leave=False):
        fp, cp, nf, nc = fm.batch_peaks(model, x, brows, width, cam=config.cam)
        n_tests[:n_filters] += nf
        n_tests[n_filters] += nc
        parts += [fp, cp]
    peaks = fm.Peaks.concat(parts)
    local = fm.Peaks(np.searchsorted(index, peaks.seq), peaks.detector, peaks.pos,
                     peaks.strand, peaks.value)
    stratum = _strata_of(means, local, edges)
    det = np.where(peaks.detector < 0, n_filters, peaks.detector)
    returned = np.zeros((n_filters + 1, n_strata))
    np.add.at(returned, (det, stratum), 1)
    share = np.broadcast_to(_position_share(means, edges), returned.shape)
    return peaks, stratum, sig.tests_by_stratum(returned, n_tests, share)


def build_null(model, codes: np.ndarray, tracks: np.ndarray | None, alphabet, policy: str,
               device, config: SitesConfig, edges: np.ndarray | None = None,
               progress: bool = False) -> ScanNull:
    """Peak values of every detector and stratum on ``config.null_copies`` shuffled copies of
    ``codes``, tracks kept in place (:func:`seqfm.significance.shuffled_copies`)."""
    n_filters = model.conv1.weight.shape[0]
    edges = np.zeros(0) if edges is None else np.asarray(edges)
    n_strata = len(edges) + 1
    means = (sig.window_means(tracks, model.filter_width)
             if tracks is not None and len(edges) else None)
    from .featuremaps import filter_cores, site_intervals

    cores = filter_cores(model.conv1.weight.detach().cpu().numpy(), alphabet.size,
                         config.core_fraction)
    parts = []
    counts = np.zeros((n_filters + 1, n_strata))
    for k, (ck, tk) in enumerate(sig.shuffled_copies(codes, tracks, config.null_copies,
                                                     config.seed)):
        peaks, stratum, tests = _peaks_and_tests(model, ck, tk, means, edges, alphabet, policy,
                                                 device, config, progress=progress, desc="null")
        det = np.where(peaks.detector < 0, n_filters, peaks.detector)
        s, e = site_intervals(peaks.pos, peaks.strand, peaks.detector, cores, model.filter_width)
        parts.append({"group": det * n_strata + stratum, "value": peaks.value,
                      "key": k * len(codes) + peaks.seq, "start": s, "end": e})
        counts += tests
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    values, where = sig.sort_by_group(cols["group"], cols["value"], counts.size,
                                      key=cols["key"], start=cols["start"], end=cols["end"])
    floors = np.zeros((n_filters + 1, n_strata))
    floors[n_filters] = -np.inf
    null = NullModel(values, np.round(counts.ravel()).astype(np.int64), floors.ravel())
    info = {"strata_edges": [float(e) for e in edges], "copies": config.null_copies,
            "sequences": int(len(codes)), "tracks": "kept in place"}
    return ScanNull.fit(null, config.tail_fraction, info=info, peaks=where)


def _null_merger(labels: "FilterLabels", merge: str):
    """For :func:`seqfm.significance.site_level_by_family`: the null's peaks as calls, merged as
    the real ones are (:func:`seqfm.calls.merge_calls`)."""
    def merger(peaks: dict, n_det: int):
        det = peaks["detector"]
        null_calls = pd.DataFrame({"row": peaks["key"], "detector": np.where(det == n_det - 1, -1, det),
                                   "pos": peaks["start"], "seq_start": peaks["start"],
                                   "seq_end": peaks["end"], "p": peaks["p"], "rel": 0.0})
        return lambda sel: len(merge_calls(null_calls.iloc[sel], labels, merge))

    return merger


def call_sites(model, dataset, config: SitesConfig, rows: np.ndarray | None = None,
               labels: FilterLabels | None = None, progress: bool = False) -> SiteCalls:
    """Call binding sites on a dataset.

    Parameters
    ----------
    model : SeqCNN  in eval mode on its device
    dataset : seqfm.dataset.Dataset
    config : SitesConfig
    rows : numpy.ndarray, optional
        Rows to evaluate (default: :func:`select_rows` with the config's split and labels).
    labels : FilterLabels, optional
        Clusters for merging (default: each filter its own cluster).
    progress : bool

    Returns
    -------
    SiteCalls (sequence coordinates; see :func:`calls_table` for output coordinates).
    """
    import torch

    from . import featuremaps as fm

    device = next(model.parameters()).device
    alphabet, policy = dataset.alphabet, dataset.info.get("policy", "uniform")
    if rows is None:
        rows = select_rows(dataset.meta, dataset.labels, config.split, config.labels)
    rows = np.asarray(rows, np.int64)
    n_filters, width = model.conv1.weight.shape[0], model.filter_width
    labels = labels or FilterLabels.default(n_filters)
    cores = fm.filter_cores(model.conv1.weight.detach().cpu().numpy(), alphabet.size,
                            config.core_fraction)
    tracks = dataset.tracks if dataset.tracks.ndim == 3 and dataset.tracks.shape[1] else None
    if len(rows) == 0:
        raise InputError(f"no sequence to call sites on (split {config.split!r}, "
                         f"labels {config.labels!r}); choose another with --split / --labels")

    # conservation strata: quantiles of the window means over the evaluated sequences
    means = sig.window_means(np.asarray(tracks[rows]), width) if tracks is not None else None
    edges = sig.strata_edges(means, config.strata) if means is not None else np.zeros(0)
    # the null: shuffled copies of (a seeded subset of) the same sequences, tracks in place
    null_rows = rows
    if len(rows) > config.null_max_seqs:
        rng = np.random.default_rng(config.seed)
        null_rows = np.sort(rng.choice(rows, config.null_max_seqs, replace=False))
    null_codes = np.asarray(dataset.codes[null_rows])
    null_tracks = np.asarray(tracks[null_rows]) if tracks is not None else None
    with torch.no_grad():
        null = build_null(model, null_codes, null_tracks, alphabet, policy, device, config,
                          edges, progress)
        peaks, stratum, tests = _peaks_and_tests(
            model, dataset.codes, tracks, means, edges, alphabet, policy, device, config,
            rows=rows, progress=progress, desc="sites")
    log.info("null: %d shuffled copies of %d sequences (tracks in place), %d strata, %d peaks",
             config.null_copies, len(null_rows), null.n_strata, int(null.null.counts.sum()))
    det_idx = np.where(peaks.detector < 0, n_filters, peaks.detector)
    p = null.pvalues(det_idx, peaks.value, stratum=stratum)
    keep = p <= config.q
    peaks, p, stratum, det_idx = peaks.take(keep), p[keep], stratum[keep], det_idx[keep]
    q = sig.stratified_bh(p, det_idx, stratum, tests)
    s, e = fm.site_intervals(peaks.pos, peaks.strand, peaks.detector, cores, width)
    rel = peaks.value / null.detector_maxima()[det_idx]
    calls = pd.DataFrame({"row": peaks.seq, "detector": peaks.detector, "pos": peaks.pos,
                          "seq_start": s, "seq_end": e, "seq_strand": peaks.strand,
                          "activation": peaks.value.astype(np.float64), "p": p, "q": q,
                          "rel": rel, "stratum": stratum})
    calls["q"] = sig.site_level_by_family(
        calls["q"].to_numpy(np.float64), p, det_idx * null.n_strata + stratum, peaks.detector < 0,
        config.q, null, tests, lambda mask: len(merge_calls(calls[mask], labels, config.merge)),
        _null_merger(labels, config.merge))
    calls = calls[calls["q"] <= config.q]
    calls = merge_calls(calls, labels, config.merge)
    n_f, n_c = int(round(tests[:n_filters].sum())), int(round(tests[n_filters].sum()))
    log.info("%d calls at q <= %g (%d filter and %d CAM candidates on %d sequences)",
             len(calls), config.q, n_f, n_c, len(rows))
    return SiteCalls(calls.reset_index(drop=True), rows, null, {"filters": n_f, "cam": n_c}, cores)


# ---------------------------------------------------------------------- output tables
def calls_table(sc: SiteCalls, dataset, labels: FilterLabels, stranded: bool) -> pd.DataFrame:
    """The BED table (columns :data:`BED_HEADER`), sorted by chrom, start, end, name."""
    c = sc.calls
    length = dataset.codes.shape[1]
    det = c["detector"].to_numpy()
    seq_strand = c["seq_strand"].to_numpy().astype(bool) ^ labels.flipped(det)
    detector = np.array(["cam" if d < 0 else filter_name(d) for d in det], dtype=object)
    cluster = np.array(["." if d < 0 else labels.cluster[d] for d in det], dtype=object)
    match = np.array(["." if d < 0 else labels.match_name[d] for d in det], dtype=object)
    if labels.namer is not None and len(c):
        seq_strand = seq_strand.copy()
        name_by_sequence(labels.namer, dataset, c, det, cluster, match, seq_strand)
    chrom, start, end, strand = to_output_coordinates(
        c["row"].to_numpy(), c["seq_start"].to_numpy(), c["seq_end"].to_numpy(),
        seq_strand.astype(np.int8), dataset.meta, length, stranded)
    seqname = dataset.meta["name"].astype(str).to_numpy()[c["row"].to_numpy()]
    label = np.where(cluster != ".", cluster, detector)
    name = np.array([f"{a}:{b}" for a, b in zip(label, seqname)], dtype=object)
    table = pd.DataFrame({
        "chrom": chrom, "start": start, "end": end, "name": name,
        "score": score_of(c["q"].to_numpy()), "strand": strand, "detector": detector,
        "cluster": cluster, "activation": c["activation"].to_numpy(), "p": c["p"].to_numpy(),
        "q": c["q"].to_numpy(), "match_name": match,
    })
    return table.sort_values(["chrom", "start", "end", "name"], kind="mergesort").reset_index(drop=True)


def name_by_sequence(namer, dataset, c: pd.DataFrame, det: np.ndarray, cluster: np.ndarray,
                      match: np.ndarray, seq_strand: np.ndarray) -> None:
    """Rename filter calls (in place) after the cluster whose PWM explains their window best
    (:mod:`seqfm.labels`), the background being the letters of the called sequences."""
    rows = c["row"].to_numpy()
    length = dataset.codes.shape[1]
    lo = np.maximum(c["seq_start"].to_numpy() - labels_mod.FLANK, 0)
    hi = np.minimum(c["seq_end"].to_numpy() + labels_mod.FLANK, length)
    codes = np.asarray(dataset.codes[np.unique(rows)])
    background = labels_mod.composition(codes, dataset.alphabet.size)
    windows, lengths = labels_mod.pad([np.asarray(dataset.codes[r, a:b]) for r, a, b in
                                       zip(rows.tolist(), lo.tolist(), hi.tolist())], 255)
    take, k, rev = labels_mod.choose(namer, windows, lengths, background, cluster)
    take &= det >= 0
    cluster[take] = np.asarray(namer.clusters, dtype=object)[k[take]]
    match[take] = np.asarray(namer.match_names, dtype=object)[k[take]]
    seq_strand[take] = rev[take]


# ---------------------------------------------------------------------- evaluation
def score_against_truth(calls: pd.DataFrame, truth: pd.DataFrame, regions: pd.DataFrame,
                        tolerance: float = 10.0) -> dict:
    """Precision, recall and F1 of calls against planted sites.

    A call is right when its centre lies within ``tolerance`` of a planted site's centre (same
    chrom); a planted site is found when a call's centre lies that close. Only planted sites
    whose centre lies inside one of ``regions`` (the evaluated sequences) count.

    Parameters
    ----------
    calls, truth, regions : DataFrame with ``chrom``, ``start``, ``end``

    Returns
    -------
    dict: ``n_calls``, ``n_true``, ``tp_calls``, ``found``, ``precision``, ``recall``, ``f1`` and
    ``recall_by_name`` (recall per planted-site name when ``truth`` has a ``name`` column).
    """
    def centres(df):
        return (df["start"].to_numpy(np.float64) + df["end"].to_numpy(np.float64)) / 2

    t_c = centres(truth)
    inside = np.zeros(len(truth), dtype=bool)
    for chrom, reg in regions.groupby("chrom"):
        sel = np.flatnonzero(truth["chrom"].to_numpy() == chrom)
        if not len(sel):
            continue
        order = np.argsort(reg["start"].to_numpy())
        rs, re_ = reg["start"].to_numpy()[order], reg["end"].to_numpy()[order]
        re_max = np.maximum.accumulate(re_)
        k = np.searchsorted(rs, t_c[sel], side="right") - 1
        inside[sel] = (k >= 0) & (re_max[np.maximum(k, 0)] > t_c[sel])
    truth = truth[inside]
    t_c = t_c[inside]
    c_c = centres(calls)
    right = np.zeros(len(calls), dtype=bool)
    found = np.zeros(len(truth), dtype=bool)
    t_chrom, c_chrom = truth["chrom"].to_numpy(), calls["chrom"].to_numpy()
    for chrom in np.unique(np.concatenate([t_chrom, c_chrom])) if len(truth) or len(calls) else []:
        ti, ci = np.flatnonzero(t_chrom == chrom), np.flatnonzero(c_chrom == chrom)
        if not len(ti) or not len(ci):
            continue
        ts, cs = np.sort(t_c[ti]), np.sort(c_c[ci])
        # nearest planted centre of each call and nearest call centre of each planted site
        right[ci] = _nearest_distance(ts, c_c[ci]) <= tolerance
        found[ti] = _nearest_distance(cs, t_c[ti]) <= tolerance
    n_calls, n_true = len(calls), len(truth)
    by_name = {}
    if "name" in truth.columns and n_true:
        names = truth["name"].astype(str).to_numpy()
        by_name = {str(nm): float(found[names == nm].mean()) for nm in np.unique(names)}
    precision = right.sum() / n_calls if n_calls else 0.0
    recall = found.sum() / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n_calls": int(n_calls), "n_true": int(n_true), "tp_calls": int(right.sum()),
            "found": int(found.sum()), "precision": float(precision), "recall": float(recall),
            "f1": float(f1), "recall_by_name": by_name}


def _nearest_distance(sorted_ref: np.ndarray, x: np.ndarray) -> np.ndarray:
    k = np.searchsorted(sorted_ref, x)
    lo = np.abs(x - sorted_ref[np.clip(k - 1, 0, len(sorted_ref) - 1)])
    hi = np.abs(x - sorted_ref[np.clip(k, 0, len(sorted_ref) - 1)])
    return np.minimum(lo, hi)


# ---------------------------------------------------------------------- featuremaps.npz
def featuremaps_arrays(model, dataset, sc: SiteCalls, labels: FilterLabels, config: SitesConfig,
                       truth: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Arrays for the report's feature-map figures (no object arrays; readable without torch).

    The ``top_n`` highest-scoring (logit) positives of the test split among the evaluated
    sequences (all evaluated sequences when none is a test positive).

    Keys
    ----
    names (N,) str · rows (N,) int64 dataset rows · logits (N,) float32 ·
    codes (N, L) uint8 · alphabet () str letters in code order ·
    cam (N, L1) float32 · cam_offset () int64: CAM/filter position j covers input
    ``[j, j + filter_width)``, its centre is input position ``j + cam_offset`` ·
    filter_width () int64 · filter_names (K,) str · filters (N, K, L1) float32 (strand maximum) ·
    call_seq (P,) int64 index into names · call_detector, call_cluster, call_match_name,
    call_strand (P,) str ·
    call_start, call_end (P,) int64 sequence coordinates · call_activation, call_p, call_q (P,) ·
    truth_seq, truth_start, truth_end (T,) int64 · truth_strand, truth_name (T,) str
    (empty without a truth BED).
    """
    from . import featuremaps as fm

    device = next(model.parameters()).device
    meta, lab = dataset.meta, np.asarray(dataset.labels)
    rows = sc.rows
    test_pos = rows[(meta["split"].astype(str).to_numpy()[rows] == "test") & (lab[rows] == 1)]
    pool = test_pos if len(test_pos) else rows
    tracks = dataset.tracks if dataset.tracks.ndim == 3 and dataset.tracks.shape[1] else None
    alphabet, policy = dataset.alphabet, dataset.info.get("policy", "uniform")
    from .batching import predict

    logits = predict(model, np.asarray(dataset.codes[pool]),
                     np.asarray(tracks[pool]) if tracks is not None else None,
                     alphabet, policy, batch_size=config.batch_size, device=device)
    top = pool[np.argsort(-logits, kind="mergesort")[: config.top_n]]
    n_filters = model.conv1.weight.shape[0]
    if labels.influence is not None:
        infl = np.nan_to_num(labels.influence, nan=-np.inf)
        order = np.argsort(-infl, kind="mergesort")
    else:
        means = fm.mean_activations(model, dataset.codes, tracks, rows, alphabet, policy, device,
                                    config.batch_size)
        order = np.argsort(-means, kind="mergesort")
    chosen = [int(i) for i in order[: min(config.top_filters, n_filters)]]
    cam, acts, top_logits = fm.dense_maps(model, dataset.codes, tracks, top, alphabet, policy,
                                          device, chosen)
    c = sc.calls
    pos_of = {int(r): k for k, r in enumerate(top)}
    sub = c[c["row"].isin(list(pos_of))]
    det = sub["detector"].to_numpy()
    stranded = alphabet.complement is not None
    arrays = {
        "names": meta["name"].astype(str).to_numpy()[top].astype(str),
        "rows": top.astype(np.int64),
        "logits": top_logits.astype(np.float32),
        "codes": np.asarray(dataset.codes[top], dtype=np.uint8),
        "alphabet": np.array(alphabet.symbols),
        "cam": cam.astype(np.float32),
        "cam_offset": np.array(model.filter_width // 2, dtype=np.int64),
        "filter_width": np.array(model.filter_width, dtype=np.int64),
        "filter_names": np.array([filter_name(i) for i in chosen], dtype=str),
        "filters": acts.astype(np.float32),
        "call_seq": np.array([pos_of[int(r)] for r in sub["row"]], dtype=np.int64),
        "call_detector": np.array(["cam" if d < 0 else filter_name(d) for d in det], dtype=str),
        "call_cluster": np.array(["." if d < 0 else labels.cluster[d] for d in det], dtype=str),
        "call_match_name": np.array(["." if d < 0 else labels.match_name[d] for d in det], dtype=str),
        "call_start": sub["seq_start"].to_numpy(np.int64),
        "call_end": sub["seq_end"].to_numpy(np.int64),
        "call_strand": np.array([("-" if s else "+") if stranded else "." for s in
                                 sub["seq_strand"].to_numpy().astype(bool) ^ labels.flipped(det)],
                                dtype=str),
        "call_activation": sub["activation"].to_numpy(np.float32),
        "call_p": sub["p"].to_numpy(np.float64),
        "call_q": sub["q"].to_numpy(np.float64),
    }
    t = (truth_in_sequences(truth, meta, top, dataset.codes.shape[1]) if truth is not None
         else pd.DataFrame(columns=["seq", "start", "end", "strand", "name"]))
    arrays.update({
        "truth_seq": t["seq"].to_numpy(np.int64), "truth_start": t["start"].to_numpy(np.int64),
        "truth_end": t["end"].to_numpy(np.int64),
        "truth_strand": t["strand"].astype(str).to_numpy().astype(str),
        "truth_name": t["name"].astype(str).to_numpy().astype(str),
    })
    for k in ("call_detector", "call_cluster", "call_match_name", "call_strand", "truth_strand",
              "truth_name"):
        if arrays[k].dtype == object or arrays[k].size == 0:
            arrays[k] = np.asarray(arrays[k], dtype="U1" if arrays[k].size == 0 else str)
    return arrays


def write_npz(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """``numpy.savez_compressed`` to a temporary name, renamed into place."""
    from .io import atomic_write

    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


# ---------------------------------------------------------------------- driver
def run(model_pt: str | os.PathLike, model_json: str | os.PathLike,
        dataset_dir: str | os.PathLike, out: str | os.PathLike,
        filters_tsv: str | os.PathLike | None = None, truth_bed: str | os.PathLike | None = None,
        config: SitesConfig | None = None, threads: int = 0, progress: bool | None = None
        ) -> dict:
    """``seqfm sites``: write ``OUT/sites.bed``, ``OUT/sites.gff3`` and
    ``OUT/interpret/featuremaps.npz``.

    Returns
    -------
    dict with the paths written, the number of calls and of tests.
    """
    import sys

    import torch

    from . import dataset as dataset_mod
    from . import model as model_mod
    from .device import pick_device, set_threads

    config = config or SitesConfig()
    if progress is None:
        progress = sys.stderr.isatty()
    set_threads(threads)
    torch.manual_seed(config.seed)
    dataset_dir = Path(dataset_dir)
    device = pick_device(config.device)
    ds = dataset_mod.read(dataset_dir)
    model, _ = model_mod.load(model_pt, model_json, device, dataset=ds, dataset_dir=dataset_dir)
    n_filters = model.conv1.weight.shape[0]
    labels = read_filter_labels(filters_tsv, n_filters, ds.alphabet)
    truth = None
    if truth_bed:
        from .io import read_bed

        truth = read_bed(truth_bed, "truth BED")
    log.info("calling sites on %s with %s on %s", dataset_dir, model_pt, device)
    sc = call_sites(model, ds, config, labels=labels, progress=progress)
    stranded = ds.alphabet.complement is not None
    table = calls_table(sc, ds, labels, stranded)
    out = Path(out)
    bed, gff, npz = out / "sites.bed", out / "sites.gff3", out / "interpret" / "featuremaps.npz"
    arrays = featuremaps_arrays(model, ds, sc, labels, config, truth)
    write_calls(table, bed, gff, protein=not stranded)
    write_npz(arrays, npz)
    summary = {"sites_bed": str(bed), "sites_gff3": str(gff), "featuremaps": str(npz),
               "n_calls": int(len(table)), "n_filter_calls": int((table["detector"] != "cam").sum()),
               "n_cam_calls": int((table["detector"] == "cam").sum()),
               "n_sequences": int(len(sc.rows)), "n_tests": sc.n_tests}
    if truth is not None:
        regions = evaluated_regions(ds, sc.rows)
        for kind, sel in (("filters", table["detector"] != "cam"), ("cam", table["detector"] == "cam")):
            s = score_against_truth(table[sel], truth, regions)
            summary[f"truth_{kind}"] = s
            log.info("against %s, %s calls: precision %.3f, recall %.3f, F1 %.3f",
                     truth_bed, kind, s["precision"], s["recall"], s["f1"])
    log.info("wrote %s (%d calls), %s and %s", bed, len(table), gff, npz)
    return summary


def evaluated_regions(ds, rows: np.ndarray) -> pd.DataFrame:
    """The evaluated sequences as output-coordinate intervals (chrom, start, end)."""
    length = ds.codes.shape[1]
    z = np.zeros(len(rows), np.int64)
    chrom, start, end, _ = to_output_coordinates(rows, z, z + length, z, ds.meta, length, False)
    return pd.DataFrame({"chrom": chrom, "start": start, "end": end})
