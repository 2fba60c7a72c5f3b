"""Genome-wide scanning with a trained :class:`~seqfm.model.SeqCNN`: binding-site calls and
browser tracks for whole chromosomes, in bounded memory.

Tiling
------
A chromosome of length ``L`` is cut into tiles that *own* ``tile`` bases each: tile ``t`` owns
bases ``[t * tile, (t + 1) * tile)``. Calls are indexed by their window start ``j`` (the input
window ``[j, j + W)`` on the forward strand, as in :mod:`seqfm.featuremaps`); a call belongs to
the tile that owns its ``j``, a track value at base ``i`` (the centre of the window starting at
``i - W // 2``) to the tile that owns ``i``. So every position is reported by exactly one tile.

A tile is run on its owned bases plus a margin of ``2 * (nms_width // 2) + context + W`` bases
each side (clipped to the chromosome): the model's receptive field (the filter width plus the
dilated layers' ``context``) and the reach of non-maximum suppression, whose leftmost-tie rule
looks ``2 * (nms_width // 2)`` positions back. Every value a tile reports is therefore the value
a scan of the whole chromosome in one piece gives, and tiled and whole scans call the same sites.

Streaming
---------
Tiles are read from the FASTA with pyfaidx a batch at a time and turned into uint8 codes;
conservation tracks are read per tile with :class:`seqfm.io.Track`. On the CPU a strand-aware
model without dilated layers runs through the compiled kernel of :mod:`seqfm.scan_kernels`
(look-up tables from the codes, no one-hot; cache-sized chunks; one batch ahead of the track
writing, in worker threads); otherwise (GPU, dilated layers, protein) the codes are one-hot
encoded on the device (:func:`seqfm.alphabet.one_hot`) and the model runs in PyTorch. Only
candidate peaks (a few numbers each) and the owned track values come back to the host; memory
does not grow with the chromosome's length.
Candidates are kept in a bounded buffer (``max_candidates``): beyond it only the smallest
p-values are kept and the others are counted as tests (see :func:`seqfm.sites.bh`); the scan's
value thresholds then rise so that it stops returning what would be dropped.

N
-
A window start ``j`` is usable when ``[j, j + W)`` holds no N. Tiles whose whole input is N are
not run; candidates (and tests) at unusable positions are dropped and the tracks have no data
there.

Significance
------------
As in :mod:`seqfm.sites`, with the same :mod:`seqfm.significance`: an empirical null of peak
values per detector (each filter, and the CAM) and conservation stratum, from the genome's
own windows dinucleotide-shuffled with their tracks kept in place (:func:`build_genome_null`:
``null_bases`` of seeded windows, the whole genome when it is shorter). Candidates take the
stratum of their window's track mean. A genome holds far more tests than a null can resolve,
so the upper tail of each group's null is modelled by an exponential beyond the
``tail_fraction`` quantile (peaks over threshold; the mean excess is the maximum-likelihood
scale): :class:`ScanNull`. Benjamini–Hochberg q-values are computed within each detector and
stratum over the candidates of every shard (the tests of each split over the strata as the
null's peaks are); a call passes at ``q <= q``.

Outputs of a shard (``seqfm scan ... --chrom chr1 --out DIR``): ``DIR/candidates.npz`` (every
candidate with ``p <= q``), ``DIR/scan.json`` (tests per family, chromosome sizes, timings),
``DIR/sites.bed`` / ``DIR/sites.gff3`` (calls with this shard's q-values; not with ``--shard``,
as the workflow runs it) and bigWigs ``DIR/cam.bw`` (+ ``DIR/filter_K.bw``; means over bins of
``bin`` bases, 10 by default). :func:`merge_shards` gathers shards into the same files with
genome-wide q-values (``seqfm scan --gather``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from . import significance as sig
from .errors import InputError
from .significance import NullModel, ScanNull  # noqa: F401  (ScanNull re-exported)

log = logging.getLogger("seqfm")

CANDIDATE_COLUMNS = ["chrom", "pos", "start", "end", "strand", "detector", "activation", "p", "rel",
                     "stratum"]


# ---------------------------------------------------------------------- options
@dataclass
class ScanConfig:
    """Options of ``seqfm scan`` (the ``scan:`` section of ``config.yaml``).

    Attributes
    ----------
    tile : int
        Bases owned by one tile (rounded up to a multiple of ``bin``).
    batch_size : int
        Tiles per batch on the device.
    q : float
        Benjamini–Hochberg threshold of a call.
    null_bases : int
        Total length of the dinucleotide-shuffled null windows (the whole genome, shuffled
        window by window, when it is shorter).
    null_window : int
        Length of one null window.
    tail_fraction : float
        Share of each detector's null peaks (the largest) modelled by the exponential tail.
    seed : int
    nms_width : int or None
        Non-maximum-suppression window (None: the filter width).
    core_fraction : float
        Filter core columns (see :func:`seqfm.featuremaps.filter_cores`).
    cam : bool
        Call CAM peaks too.
    merge : str
        ``all`` (overlapping filter calls keep the best: one call per site), ``cluster`` (one
        per motif cluster) or ``none``.
    tracks : list of str
        Extra bigWig tracks: ``filter_K`` names (the CAM track is always written).
    bin : int
        Track resolution in bases (mean over the bin). 10 by default: a base-resolution float
        track costs about 2.8 bytes per base compressed (some 8 GB for a human genome) and
        its compression is the largest single cost of a scan; 1 gives every base.
    max_candidates : int
        Candidates kept per shard and family; beyond it the largest p-values are dropped.
    strata : tuple of float
        Conservation strata: edges at these quantiles of the null positions' track window
        means (see :mod:`seqfm.significance`); empty for one stratum.
    device : str
    engine : str
        ``auto`` (the fused CPU kernel where it applies, else PyTorch), ``fused`` or ``torch``.
    zooms : int
        Zoom levels of the bigWigs (pyBigWig ``maxZooms``). libBigWig builds them in memory when
        the file is closed (about 14 bytes per base at base resolution), so shards that are
        merged later are written with 0 and the merged file gets the zoom levels.
    """

    tile: int = 20_000
    batch_size: int = 4
    q: float = 0.05
    null_bases: int = 10_000_000
    null_window: int = 10_000
    tail_fraction: float = 0.01
    seed: int = 1
    nms_width: int | None = None
    core_fraction: float = 0.3
    cam: bool = True
    merge: str = "all"
    tracks: list[str] = field(default_factory=list)
    bin: int = 10
    max_candidates: int = 250_000
    strata: tuple = sig.DEFAULT_STRATA
    device: str = "auto"
    engine: str = "auto"
    zooms: int = 10

    def __post_init__(self) -> None:
        if self.bin < 1:
            raise InputError(f"scan bin must be >= 1, got {self.bin}")
        if self.tile < 1 or self.batch_size < 1:
            raise InputError("scan tile and batch_size must be >= 1")
        self.tile = int(math.ceil(self.tile / self.bin) * self.bin)
        if not 0.0 < self.q <= 1.0:
            raise InputError(f"scan q must be in (0, 1], got {self.q}")
        if self.null_bases < 1 or self.null_window < 1:
            raise InputError("scan null_bases and null_window must be >= 1")
        if not 0.0 < self.tail_fraction < 1.0:
            raise InputError(f"scan tail_fraction must be in (0, 1), got {self.tail_fraction}")
        if self.merge not in ("cluster", "all", "none"):
            raise InputError(f"scan merge must be cluster, all or none, got {self.merge!r}")
        if self.nms_width is not None and self.nms_width < 1:
            raise InputError(f"scan nms_width must be >= 1, got {self.nms_width}")
        if self.zooms < 0:
            raise InputError(f"scan zooms must be >= 0, got {self.zooms}")
        if self.max_candidates < 1:
            raise InputError("scan max_candidates must be >= 1")
        if self.engine not in ("auto", "fused", "torch"):
            raise InputError(f"scan engine must be auto, fused or torch, got {self.engine!r}")


# ---------------------------------------------------------------------- sequence sources
class ArraySource:
    """An in-memory sequence as a scan source.

    Parameters
    ----------
    name : str
    codes : numpy.ndarray, uint8, ``(L,)``
    tracks : numpy.ndarray, float, ``(T, L)``, optional
    """

    def __init__(self, name: str, codes: np.ndarray, tracks: np.ndarray | None = None) -> None:
        self.name = name
        self.codes = np.ascontiguousarray(codes, dtype=np.uint8)
        self.track_values = None if tracks is None or not len(tracks) else np.asarray(tracks, np.float32)
        self.length = len(self.codes)

    def read(self, start: int, end: int) -> np.ndarray:
        return self.codes[start:end]

    def tracks(self, start: int, end: int) -> np.ndarray | None:
        return None if self.track_values is None else self.track_values[:, start:end]


class GenomeSource:
    """One chromosome of an indexed FASTA (pyfaidx), read piece by piece.

    Parameters
    ----------
    genome : seqfm.io.Genome
    chrom : str
    alphabet : seqfm.alphabet.Alphabet
    tracks : list of seqfm.io.Track
    """

    def __init__(self, genome, chrom: str, alphabet, tracks: Sequence = ()) -> None:
        if chrom not in genome.sizes:
            raise InputError(f"chromosome '{chrom}' is not in {genome.path} "
                             f"(it has {', '.join(list(genome.sizes)[:5])}"
                             f"{' and more' if len(genome.sizes) > 5 else ''})")
        for t in tracks:
            if chrom not in t.sizes:
                raise InputError(f"chromosome '{chrom}' is not in the conservation track {t.path}")
        self.genome, self.name, self.alphabet = genome, chrom, alphabet
        self.length = genome.sizes[chrom]
        self._tracks = list(tracks)

    def read(self, start: int, end: int) -> np.ndarray:
        raw = self.genome.fetch(self.name, start, end).encode("ascii", "replace")
        codes = self.alphabet._lookup[np.frombuffer(raw, dtype=np.uint8)]
        bad = codes == 255
        if bad.any():  # letters outside the alphabet read as the unknown letter
            codes = codes.copy()
            codes[bad] = self.alphabet.unknown_code
        return codes

    def tracks(self, start: int, end: int) -> np.ndarray | None:
        if not self._tracks:
            return None
        return np.stack([t.values(self.name, start, end) for t in self._tracks])


# ---------------------------------------------------------------------- null
def model_fingerprint(model) -> str:
    """Digest of a model's weights (a null is only valid for the model it was made with)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------- the engine
@dataclass
class Tile:
    """One tile: owned bases ``[own_start, own_end)``, model input ``[in_start, in_end)``."""

    own_start: int
    own_end: int
    in_start: int
    in_end: int

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.in_end - self.in_start, self.own_start - self.in_start,
                self.own_end - self.own_start)


def tiles(length: int, tile: int, margin: int, width: int) -> list[Tile]:
    """Tiles of a sequence of ``length`` (see the module docstring)."""
    out = []
    for a in range(0, length, tile):
        b = min(a + tile, length)
        out.append(Tile(a, b, max(0, a - margin), min(length, b + width - 1 + margin)))
    return out


class Scanner:
    """Runs a model over sequence sources tile by tile and yields peaks and track values.

    Parameters
    ----------
    model : SeqCNN in eval mode
    info : dict
        The parsed ``model.json`` (for the ambiguity ``policy``).
    config : ScanConfig
    """

    def __init__(self, model, info: dict, config: ScanConfig) -> None:
        import torch

        from . import featuremaps as fm

        self.model, self.config = model, config
        self.device = next(model.parameters()).device
        self.alphabet = model.alphabet
        self.policy = info.get("policy", "uniform")
        self.width = model.filter_width
        self.n_filters = model.conv1.weight.shape[0]
        self.n_tracks = model.arch["n_tracks"]
        self.nms = config.nms_width or self.width
        self.margin = 2 * (self.nms // 2) + model.context + self.width
        self.half = self.width // 2
        self.unknown = self.alphabet.unknown_code
        self.cores = fm.filter_cores(model.conv1.weight.detach().cpu().numpy(), self.alphabet.size,
                                     config.core_fraction)
        self._buffers: dict = {}
        self.track_filters: list[int] = []
        for name in config.tracks:
            try:
                k = int(str(name).rsplit("_", 1)[-1])
            except ValueError:
                raise InputError(f"scan track {name!r} is not 'filter_<index>'") from None
            if not 0 <= k < self.n_filters:
                raise InputError(f"scan track {name!r}: the model has filters 0..{self.n_filters - 1}")
            self.track_filters.append(k)
        self._w_head = model.head.weight[0].detach()
        self.torch = torch
        engine = getattr(config, "engine", "auto")
        can_fuse = (self.device.type == "cpu" and model.project is None and model.strand_aware)
        if engine == "fused" and not can_fuse:
            raise InputError("the fused scan engine needs a CPU run of a strand-aware model "
                             "without dilated layers")
        self.fused = can_fuse and engine in ("auto", "fused")
        self._n_workers = max(1, torch.get_num_threads())
        self._executor = None
        if self.fused:
            self._fused_tables()

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(self._n_workers, thread_name_prefix="seqfm-scan")
        return self._executor

    def _fused_tables(self) -> None:
        """Look-up tables of the fused kernel (both strands, every code's one-hot column)."""
        torch = self.torch
        m = self.model
        a = self.alphabet.size
        with torch.no_grad():
            w = m.first_layer_weights().detach().float().cpu()
            w_rc = w.index_select(1, m.rc_perm.cpu()).flip(-1)
            wcat = torch.cat([w, w_rc]).numpy().astype(np.float64)  # (2F, C, W)
            bias = m.conv1.bias.detach().float().cpu().numpy()
            # a gated layer's gate biases (the kernel multiplies by the sigmoid of its track sums)
            gate = (m.gate.bias.detach().float().cpu().numpy() if m.gated else np.zeros(0))
        policy = "zeros" if self.policy == "strict" else self.policy
        oh = self.alphabet.onehot_table(policy).astype(np.float64)  # (n_codes, A)
        E = np.einsum("ca,fak->kcf", oh, wcat[:, :a])  # (W, n_codes, 2F)
        self._E = np.ascontiguousarray(E, dtype=np.float32)
        # letter triples of codes 0..4 (A, C, G, T, N): T3[m, 25 c0 + 5 c1 + c2] sums columns
        # 3m .. 3m + 2 (columns past W weigh nothing); at least seven tables, which the kernel
        # sums at once for widths up to 21 (the extra ones are zero)
        n3 = max(7, -(-self.width // 3))
        Ep = np.zeros((3 * n3, 5, E.shape[2]))
        Ep[: self.width] = E[:, :5]
        c = np.arange(125)
        T3 = (Ep[0::3][:, c // 25] + Ep[1::3][:, (c // 5) % 5] + Ep[2::3][:, c % 5])
        T3[0] += np.concatenate([bias, bias])  # the bias comes with the first triple
        self._T3 = np.ascontiguousarray(T3, dtype=np.float32)
        wt = np.transpose(wcat[:, a:], (1, 2, 0))  # (tracks, W, 2F)
        nf = wt.shape[2] // 2
        fwd, rev = wt[:, :, :nf], wt[:, :, nf:]
        # tracks are reversed, not complemented, on the reverse strand: fold the weights into
        # their symmetric and antisymmetric parts (see seqfm.scan_kernels.conv)
        self._fold = bool(np.array_equal(rev, fwd[:, ::-1]))
        if self._fold:
            mirror = fwd[:, ::-1]
            h = (self.width + 1) // 2
            sym, anti = (fwd + mirror)[:, :h] / 2, (fwd - mirror)[:, :h] / 2
            if self.width % 2:
                sym[:, h - 1] /= 2  # the middle column pairs with itself: u = 2x, d = 0
            wt = np.concatenate([sym, anti], axis=2)
        self._Wt = np.ascontiguousarray(wt, dtype=np.float32)
        self._taps = (0,) * wt.shape[1]  # the kernel is compiled for this number of track taps
        self._bias2 = np.concatenate([bias, bias]).astype(np.float32)
        self._gate = np.concatenate([gate, gate]).astype(np.float32) if len(gate) else gate.astype(np.float32)
        # each filter on the uniform background sequence (the CAM's reference, see
        # seqfm.featuremaps.maps); none without tracks
        ref = np.concatenate([bias, bias]) + wcat[:, :a].mean(axis=1).sum(axis=1)
        self._ref = (ref.astype(np.float32) if self.n_tracks else np.zeros(0, np.float32))
        self._head = self._w_head.float().cpu().numpy().astype(np.float32)

    # -------------------------------------------------------------- inputs
    def _inputs(self, codes: np.ndarray, tracks: np.ndarray | None):
        """Model input ``(B, C, Lin)`` on the device from codes ``(B, Lin)`` (reused buffers)."""
        torch = self.torch
        from .alphabet import one_hot

        b, length = codes.shape
        c = torch.from_numpy(codes)
        if self.device.type == "cpu":
            key = ("oh", b, length)
            if key not in self._buffers:
                self._buffers.clear()
                self._buffers[key] = torch.empty((b, self.alphabet.size, length), dtype=torch.float32)
                if self.n_tracks:
                    self._buffers[("x", b, length)] = torch.empty(
                        (b, self.alphabet.size + self.n_tracks, length), dtype=torch.float32)
            oh = one_hot(c, self.alphabet, self.policy, out=self._buffers[key])
            if not self.n_tracks:
                return oh
            x = self._buffers[("x", b, length)]
            x[:, : self.alphabet.size].copy_(oh)
            x[:, self.alphabet.size:].copy_(torch.from_numpy(tracks))
            return x
        c = c.to(self.device, non_blocking=True)
        x = one_hot(c, self.alphabet, self.policy)
        if self.n_tracks:
            x = torch.cat([x, torch.from_numpy(tracks).to(self.device, non_blocking=True)], dim=1)
        return x

    # -------------------------------------------------------------- maps
    def _maps(self, x):
        """One conv1 pass: strand-max filter values ``(B, F, L1)``, their strand (bool, reverse),
        the CAM ``(B, L1)``, and what is needed for the CAM's strand at peaks."""
        from .featuremaps import reference_cam

        vals, strand, cam, streams = self._streams(x, *self.model.first_layer(x))
        if self.n_tracks:  # the CAM relative to its reference input (seqfm.featuremaps.maps)
            cam = cam - reference_cam(self.model, x)
        return vals, strand, cam, streams

    def _streams(self, x, fwd, rev):
        """:meth:`_maps` from the first layer's forward and reverse activations."""
        torch = self.torch
        m = self.model
        w = self._w_head
        if rev is None:
            h = m._trunk(fwd) if m.project is not None else fwd
            return fwd, None, torch.einsum("d,ndl->nl", w, h), None
        strand = rev > fwd
        vals = torch.maximum(fwd, rev)
        if m.project is None:
            return vals, strand, torch.einsum("d,ndl->nl", w, vals), (fwd, rev)
        n = x.shape[0]
        out = m._trunk(torch.cat([fwd, rev.flip(-1)]))
        hf, hr = out[:n], out[n:].flip(-1)
        return vals, strand, torch.einsum("d,ndl->nl", w, torch.maximum(hf, hr)), (hf, hr)

    def _cam_strand(self, streams, b_idx, p_idx) -> np.ndarray:
        """1 where the reverse stream alone gives the larger CAM (at the given positions)."""
        if streams is None or not len(b_idx):
            return np.zeros(len(b_idx), np.int8)
        hf, hr = streams
        w = self._w_head
        cf = (hf[b_idx, :, p_idx] * w).sum(-1)
        cr = (hr[b_idx, :, p_idx] * w).sum(-1)
        return (cr > cf).cpu().numpy().astype(np.int8)

    # -------------------------------------------------------------- scanning
    def scan(self, source, thresholds: np.ndarray | None = None, progress: bool = False,
             want_tracks: bool = True) -> Iterator[dict]:
        """Scan one source; yields one dict per batch of tiles.

        Parameters
        ----------
        source : ArraySource or GenomeSource
        thresholds : numpy.ndarray ``(F + 1,)``, optional
            Return only candidates at or above these values (filters, then the CAM); all
            candidates (filter peaks above 0, every CAM peak) when None. Read for each batch,
            so the caller may raise them in place between batches.
        want_tracks : bool

        Yields
        ------
        dict with ``pos`` / ``det`` / ``strand`` / ``value`` (int64/int64/int8/float32 arrays of
        the returned candidates; ``det`` -1 = CAM), ``n_tests`` (``(F + 1,)`` candidates counted,
        returned or not), ``tracks`` (list of ``(start, values (K, n))``: owned bases and the
        values of the CAM then the chosen filters, NaN where there is no data) and ``bases``.
        """
        torch = self.torch
        from tqdm import tqdm

        from .featuremaps import nms_mask

        cfg = self.config
        length = source.length
        width = self.width
        n_pos = length - width + 1
        if n_pos <= 0:
            return
        tl = tiles(length, cfg.tile, self.margin, width)
        thr_dev = None
        # group consecutive tiles of one geometry into batches
        groups: list[list[Tile]] = []
        for t in tl:
            if groups and groups[-1][0].key == t.key and len(groups[-1]) < cfg.batch_size:
                groups[-1].append(t)
            else:
                groups.append([t])
        bar = tqdm(total=length, unit="b", unit_scale=True, desc=f"scan {source.name}",
                   disable=not progress, leave=False)
        n_cols = 1 + len(self.track_filters)
        # the fused kernel runs a batch in worker threads while the caller handles the one
        # before (track writing, p-values): results come back in order, one batch behind
        pending: list = []
        for group in groups:
            while len(pending) > 1:
                yield pending.pop(0)()
            key = group[0].key
            lin, off, n_own = key
            codes = np.empty((len(group), lin), dtype=np.uint8)
            tracks = (np.empty((len(group), self.n_tracks, lin), dtype=np.float32)
                      if self.n_tracks else None)
            for i, t in enumerate(group):
                codes[i] = source.read(t.in_start, t.in_end)
                if tracks is not None:
                    tracks[i] = source.tracks(t.in_start, t.in_end)
            isn = codes == self.unknown
            run = ~isn.all(axis=1)
            out = {"pos": [], "det": [], "strand": [], "value": [],
                   "n_tests": np.zeros(self.n_filters + 1, np.int64), "tracks": [],
                   "bases": int(sum(t.own_end - t.own_start for t in group))}
            bar.update(out["bases"])
            if not run.any():
                pending.append(lambda out=out: self._finish(out))
                continue
            if not run.all():
                group = [t for t, r in zip(group, run) if r]
                codes, isn = codes[run], isn[run]
                tracks = tracks[run] if tracks is not None else None
            l1 = lin - width + 1
            if self.fused:
                pending.append(self._scan_fused(group, codes, tracks, key, n_pos, thresholds,
                                                want_tracks, out))
                continue
            while pending:
                yield pending.pop(0)()
            # usable window starts: no N in [j, j + W)
            cs = np.concatenate([np.zeros((len(group), 1), np.int32), np.cumsum(isn, axis=1, dtype=np.int32)], axis=1)
            ok_np = (cs[:, width:] - cs[:, :l1]) == 0  # (B, L1)
            if thresholds is not None:  # read per batch: the caller may raise them as it goes
                thr_dev = torch.as_tensor(np.asarray(thresholds, np.float32), device=self.device)
            with torch.no_grad():
                x = self._inputs(codes, tracks)
                vals, strand, cam, streams = self._maps(x)
                ok = torch.from_numpy(ok_np).to(self.device)
                # owned window starts: tile-input positions [off, off + n_own) that start a
                # window inside the chromosome
                own_np = np.zeros((len(group), l1), dtype=bool)
                for i, t in enumerate(group):
                    last = min(off + n_own, n_pos - t.in_start, l1)
                    if last > off:
                        own_np[i, off:last] = True
                usable = torch.from_numpy(ok_np & own_np).to(self.device)  # (B, L1)
                keep = nms_mask(vals, self.nms, floor=None) & usable[:, None, :]
                out["n_tests"][: self.n_filters] = keep.sum(dim=(0, 2)).cpu().numpy()
                sel = keep & (vals > 0)
                if thr_dev is not None:
                    sel &= vals >= thr_dev[: self.n_filters, None]
                idx = sel.nonzero()
                if len(idx):
                    out["value"].append(vals[sel].float().cpu().numpy())
                    out["strand"].append(strand[sel].cpu().numpy().astype(np.int8) if strand is not None
                                         else np.zeros(len(idx), np.int8))
                    idx = idx.cpu().numpy()
                    starts = np.array([t.in_start for t in group], np.int64)
                    out["pos"].append(starts[idx[:, 0]] + idx[:, 2])
                    out["det"].append(idx[:, 1].astype(np.int64))
                if self.config.cam:
                    kc = nms_mask(cam, self.nms, floor=None) & usable
                    out["n_tests"][self.n_filters] = int(kc.sum())
                    if thr_dev is not None:
                        kc &= cam >= thr_dev[self.n_filters]
                    ci = kc.nonzero()
                    if len(ci):
                        out["value"].append(cam[kc].float().cpu().numpy())
                        out["strand"].append(self._cam_strand(streams, ci[:, 0], ci[:, 1]))
                        ci = ci.cpu().numpy()
                        starts = np.array([t.in_start for t in group], np.int64)
                        out["pos"].append(starts[ci[:, 0]] + ci[:, 1])
                        out["det"].append(np.full(len(ci), -1, np.int64))
                if want_tracks:
                    # bases [own_start, own_end) <- window starts [own - W//2) in input coordinates
                    j0 = off - self.half
                    cols = [cam]
                    if self.track_filters:
                        cols += [vals[:, k] for k in self.track_filters]
                    stack = torch.stack(cols, dim=1)  # (B, K, L1)
                    okf = ok.float()
                    lo, hi = max(j0, 0), min(j0 + n_own, l1)
                    tv = torch.full((len(group), n_cols, n_own), float("nan"), device=self.device)
                    if hi > lo:
                        seg = stack[:, :, lo:hi]
                        seg = torch.where(okf[:, None, lo:hi] > 0, seg, torch.full_like(seg, float("nan")))
                        tv[:, :, lo - j0:hi - j0] = seg
                    tv = tv.cpu().numpy()
                    for i, t in enumerate(group):
                        n = t.own_end - t.own_start
                        out["tracks"].append((t.own_start, tv[i, :, :n]))
            yield self._finish(out)
        while pending:
            yield pending.pop(0)()
        bar.close()

    def _scan_fused(self, group, codes, tracks, key, n_pos, thresholds, want_tracks, out):
        """Start one batch through :func:`seqfm.scan_kernels.kernel` in the worker threads;
        returns a function that waits for it and gives ``out`` filled like the PyTorch path."""
        lin, off, n_own = key
        b = len(group)
        width, nf = self.width, self.n_filters
        l1 = lin - width + 1
        half = self.nms // 2
        cap = (l1 // (half + 1) + 1) * (nf + 1)
        c_pos = np.empty((b, cap), np.int64)
        c_det = np.empty((b, cap), np.int64)
        c_val = np.empty((b, cap), np.float32)
        c_str = np.empty((b, cap), np.int8)
        n_c = np.zeros((b, 1), np.int64)
        tests = np.zeros((b, nf + 1), np.int64)
        starts = np.array([t.in_start for t in group], np.int64)
        own_lo = np.full(b, off, np.int64)
        own_hi = np.minimum(np.minimum(off + n_own, n_pos - starts), l1).astype(np.int64)
        thr = (np.full(nf + 1, -np.inf, np.float32) if thresholds is None
               else np.asarray(thresholds, np.float32))
        sel = (np.array([-1] + self.track_filters, np.int64) if want_tracks
               else np.zeros(0, np.int64))
        trk = np.empty((b, len(sel), n_own), np.float32)
        tr = (np.ascontiguousarray(tracks, np.float32) if tracks is not None
              else np.zeros((b, 0, lin), np.float32))
        codes = np.ascontiguousarray(codes)
        from .scan_kernels import kernel

        def part(i0: int, i1: int) -> None:
            kernel(codes[i0:i1], tr[i0:i1], self._E, self._T3, self._Wt, self._fold, self._taps,
                   self._bias2, self._head, np.uint8(self.unknown), width, half, own_lo[i0:i1],
                   own_hi[i0:i1], thr, bool(self.config.cam), sel, off - self.half, n_own,
                   trk[i0:i1], FUSED_CHUNK,
                   c_pos[i0:i1], c_det[i0:i1], c_val[i0:i1], c_str[i0:i1], n_c[i0:i1],
                   tests[i0:i1], self._ref, self._gate)

        # tiles side by side in threads (the kernel releases the GIL)
        n_workers = max(1, min(b, self._n_workers))
        bounds = np.linspace(0, b, n_workers + 1).astype(int)
        futures = [self._pool().submit(part, int(bounds[i]), int(bounds[i + 1]))
                   for i in range(n_workers)]

        def finish() -> dict:
            for fut in futures:
                fut.result()
            return self._collect_fused(group, starts, tests, n_c, c_pos, c_det, c_val, c_str,
                                       trk, want_tracks, out)

        return finish

    def _collect_fused(self, group, starts, tests, n_c, c_pos, c_det, c_val, c_str, trk,
                       want_tracks, out) -> dict:
        nf = self.n_filters
        out["n_tests"] += tests.sum(0)
        if not self.config.cam:
            out["n_tests"][nf] = 0
        for i in range(len(group)):
            m = int(n_c[i, 0])
            if not m:
                continue
            det = c_det[i, :m]
            out["pos"].append(starts[i] + c_pos[i, :m])
            out["det"].append(np.where(det == nf, -1, det))
            out["value"].append(c_val[i, :m].copy())
            out["strand"].append(c_str[i, :m].copy())
        if want_tracks:
            for i, t in enumerate(group):
                out["tracks"].append((t.own_start, trk[i, :, : t.own_end - t.own_start]))
        return self._finish(out)

    @staticmethod
    def _finish(out: dict) -> dict:
        for k, dt in (("pos", np.int64), ("det", np.int64), ("strand", np.int8), ("value", np.float32)):
            out[k] = np.concatenate(out[k]).astype(dt) if out[k] else np.zeros(0, dt)
        return out


# ---------------------------------------------------------------------- building the null
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


def candidate_strata(source, pos: np.ndarray, width: int, edges: np.ndarray) -> np.ndarray:
    """Conservation stratum of each candidate window ``[pos, pos + width)`` of ``source``
    (the tracks read once over the span of the candidates; 0 without tracks or strata)."""
    pos = np.asarray(pos, np.int64)
    if not len(edges) or not len(pos):
        return np.zeros(len(pos), np.int8)
    lo, hi = int(pos.min()), int(pos.max()) + width
    tr = source.tracks(lo, hi)
    if tr is None:
        return np.zeros(len(pos), np.int8)
    return sig.stratum_of(sig.window_means(tr, width)[pos - lo], edges).astype(np.int8)


def build_null(scanner: Scanner, sources: Sequence, config: ScanConfig, fingerprint: str = "",
               progress: bool = False) -> ScanNull:
    """Dinucleotide-shuffle each source with its tracks kept in place, scan it with the same
    tiling and collect every detector's peak values per conservation stratum (see
    :mod:`seqfm.significance`); the top of each group's values is kept (:func:`trimmed`)."""
    from .featuremaps import site_intervals
    from .negatives import shuffle_batch

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


# ---------------------------------------------------------------------- candidates -> calls
def raise_thresholds(thresholds: np.ndarray, null: ScanNull, fbuf, cbuf, n_filters: int) -> None:
    """Once a full buffer has dropped p-values, a candidate at or above its smallest dropped p
    would be dropped too: raise the scan's value thresholds (in place) so that the scan stops
    returning them (the kept candidates and the test counts do not change)."""
    for buf, sl in ((fbuf, slice(0, n_filters)), (cbuf, slice(n_filters, n_filters + 1))):
        if buf.p_dropped < buf.p_cut:
            buf.p_cut = buf.p_dropped
            thresholds[sl] = np.maximum(thresholds[sl], null.detector_thresholds(buf.p_dropped)[sl])


class CandidateBuffer:
    """Candidates with ``p <= p_max`` of one family, at most ``limit`` kept (smallest p)."""

    def __init__(self, p_max: float, limit: int) -> None:
        self.p_max, self.limit = p_max, limit
        self.parts: list[dict] = []
        self.n = 0
        self.p_dropped = 1.0  # smallest p-value dropped by the limit
        self.p_cut = 1.0  # the p_dropped the scan's thresholds were last raised to

    def add(self, cols: dict) -> None:
        if not len(cols["p"]):
            return
        self.parts.append(cols)
        self.n += len(cols["p"])
        if self.n > 2 * self.limit:
            self._trim()

    def _trim(self) -> None:
        allc = self.columns()
        if not allc or len(allc["p"]) <= self.limit:
            return
        order = np.argsort(allc["p"], kind="stable")
        keep, drop = order[: self.limit], order[self.limit:]
        self.p_dropped = min(self.p_dropped, float(allc["p"][drop].min()))
        keep = np.sort(keep)
        self.parts = [{k: v[keep] for k, v in allc.items()}]
        self.n = len(keep)

    def columns(self) -> dict:
        if not self.parts:
            return {}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}

    def finish(self) -> dict:
        self._trim()
        return self.columns()


def candidate_columns(chrom_codes, chrom_names, res: dict, scanner: Scanner, null: ScanNull,
                      stranded: bool) -> dict:
    """Candidates (dict of arrays) to the columns of :data:`CANDIDATE_COLUMNS` as arrays
    (``chrom`` as codes into ``chrom_names``, which is added; strands as one letter)."""
    from .featuremaps import site_intervals

    s, e = site_intervals(res["pos"], res["strand"], res["det"], scanner.cores, scanner.width)
    det_idx = np.where(res["det"] < 0, scanner.n_filters, res["det"])
    rel = res["value"] / null.detector_maxima()[det_idx]
    strand = (np.where(res["strand"] == 1, "-", "+") if stranded
              else np.full(len(s), ".")).astype("U1")
    return {"chrom": np.asarray(chrom_codes, np.int32), "pos": np.asarray(res["pos"], np.int64),
            "start": s, "end": e, "strand": strand, "detector": res["det"].astype(np.int64),
            "activation": res["value"].astype(np.float64), "p": np.asarray(res["p"], np.float64),
            "rel": rel.astype(np.float64), "stratum": np.asarray(res["stratum"], np.int8),
            "chrom_names": np.asarray(chrom_names, dtype=str)}


def candidates_frame(cols: dict) -> pd.DataFrame:
    """The candidate table of :data:`CANDIDATE_COLUMNS` from :func:`candidate_columns`."""
    frame = {k: cols[k] for k in CANDIDATE_COLUMNS}
    frame["chrom"] = pd.Categorical.from_codes(cols["chrom"], cols["chrom_names"])
    return pd.DataFrame(frame)


def _within(family: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A mask over the family's members as a mask over every candidate."""
    out = np.zeros(len(family), dtype=bool)
    out[np.flatnonzero(family)[mask]] = True
    return out


def _merge_groups(det: np.ndarray, n_filters: int, merge: str, labels) -> np.ndarray:
    """The group each candidate merges within (one for all filters, one per cluster, the CAM's)."""
    if merge == "all":
        return (det >= 0).astype(np.int64)
    from .sites import filter_name

    clusters = np.array((list(labels.cluster) if labels is not None else ["."] * n_filters)
                        + ["."], dtype=object)
    names = np.array([filter_name(k) for k in range(n_filters)] + ["cam"], dtype=object)
    return pd.factorize(np.where(clusters != ".", clusters, names))[0][np.where(det < 0, n_filters, det)]


def _site_level(qv, p, group, q, merged_count, null, m, merge, labels) -> np.ndarray:
    """:func:`seqfm.significance.site_level_q` for the filters' calls and the CAM's apart, the
    null's stored peaks called and merged as the real candidates are."""
    from .sites import merge_overlapping

    n_strata = null.n_strata
    n_det = null.n_detectors
    null_p = null.peak_pvalues()
    near = null_p <= q  # no real call passes above q: the other null peaks never do
    pk = {k: v[near] for k, v in null.peaks.items()}
    null_group, null_p = null.peak_groups()[near], null_p[near]
    null_det = null_group // n_strata
    mg = _merge_groups(np.where(null_det == n_det - 1, -1, null_det), n_det - 1, merge, labels)
    key = pk["key"] * (n_det + 2) + mg
    real_det = group // n_strata
    out = qv.copy()
    for cam in (False, True):
        fam = (real_det == n_det - 1) == cam
        nfam = (null_det == n_det - 1) == cam
        if not fam.any():
            continue
        tests_real = m[n_det - 1].sum() if cam else m[: n_det - 1].sum()
        counts = np.asarray(null.null.counts, np.float64).reshape(n_det, n_strata)
        tests_null = counts[n_det - 1].sum() if cam else counts[: n_det - 1].sum()
        ratio = tests_real / max(tests_null, 1.0)

        def merged_null(mask, nfam=nfam):
            sel = np.flatnonzero(nfam)[mask]
            if merge == "none":
                return len(sel)
            order = np.argsort(null_p[sel], kind="stable")
            return int(merge_overlapping(pk["start"][sel], pk["end"][sel], key[sel], order).sum())

        out[fam] = sig.site_level_q(qv[fam], p[fam], group[fam], q,
                                    lambda k, fam=fam: merged_count(_within(fam, k)),
                                    null_p[nfam], null_group[nfam], merged_null, ratio)[0]
    return out


def call_table(cands: pd.DataFrame, n_tests: dict, q: float, merge: str,
               labels=None, strata_tests=None, null=None) -> pd.DataFrame:
    """BH within each detector and conservation stratum (:func:`seqfm.significance.stratified_bh`;
    ``strata_tests`` ``(F + 1, S)``: the tests of each, the CAM last; without it every detector
    is given its whole family's tests, ``n_tests``), keep ``q <= q``, merge overlapping calls,
    and return the BED table of
    :data:`seqfm.sites.BED_HEADER` (sorted by chrom, start, end, name)."""
    from .sites import BED_HEADER, filter_name, merge_overlapping, score_of

    if cands.empty:
        return pd.DataFrame(columns=BED_HEADER)
    det = cands["detector"].to_numpy()
    p = cands["p"].to_numpy(np.float64)
    stratum = (cands["stratum"].to_numpy(np.int64) if "stratum" in cands
               else np.zeros(len(cands), np.int64))
    n_det = int(max(det.max(initial=-1) + 2, len(labels.cluster) + 1 if labels is not None else 0))
    if strata_tests is None:  # no counts per detector: every detector gets its family's tests
        fam = np.zeros((n_det, 1))
        fam[:-1], fam[-1] = n_tests.get("filters", 0), n_tests.get("cam", 0)
        strata_tests = fam
    m = np.asarray(strata_tests, np.float64)
    if m.shape[1] <= stratum.max(initial=0) or m.shape[0] < det.max(initial=-1) + 2:
        raise InputError("scan candidates carry more detectors or conservation strata than "
                         "their test counts")
    d_idx = np.where(det < 0, m.shape[0] - 1, det)
    qv = sig.stratified_bh(p, d_idx, stratum, m)
    n_filters = int(max(det.max() + 1, len(labels.cluster) if labels is not None else 0))
    merge_group = _merge_groups(det, n_filters, merge, labels)
    chrom_code = pd.factorize(cands["chrom"])[0]
    order = np.lexsort((cands["pos"].to_numpy(), -cands["rel"].to_numpy(), p))

    def merged_count(mask):
        if merge == "none":
            return int(mask.sum())
        keep = merge_overlapping(cands["start"].to_numpy()[mask], cands["end"].to_numpy()[mask],
                                 (chrom_code * (n_filters + 2) + merge_group)[mask],
                                 np.argsort(np.argsort(order)[mask], kind="stable"))
        return int(keep.sum())

    if null is not None and null.peaks is not None and null.n_strata == m.shape[1]:
        qv = _site_level(qv, p, d_idx * m.shape[1] + stratum, q, merged_count, null, m, merge,
                         labels)
    c = cands.assign(q=qv)
    c = c[c["q"] <= q].reset_index(drop=True)
    if c.empty:
        return pd.DataFrame(columns=BED_HEADER)
    det = c["detector"].to_numpy()
    # per-detector names (index n_filters: the CAM), looked up per call
    clusters = np.array((list(labels.cluster) if labels is not None else ["."] * n_filters)
                        + ["."], dtype=object)
    matches = np.array((list(labels.match_name) if labels is not None else ["."] * n_filters)
                       + ["."], dtype=object)
    names = np.array([filter_name(k) for k in range(n_filters)] + ["cam"], dtype=object)
    labels_of = np.where(clusters != ".", clusters, names)
    d = np.where(det < 0, n_filters, det)
    chrom_code, chrom_names = pd.factorize(c["chrom"])
    if merge != "none":
        g = _merge_groups(det, n_filters, merge, labels)
        keep = merge_overlapping(c["start"].to_numpy(), c["end"].to_numpy(),
                                 chrom_code * (n_filters + 2) + g,
                                 np.lexsort((c["pos"].to_numpy(), -c["rel"].to_numpy(),
                                             c["p"].to_numpy())))
        c, d, chrom_code = c[keep], d[keep], chrom_code[keep]
    strand = c["strand"].to_numpy().astype(object)
    if labels is not None and hasattr(labels, "flipped"):
        # as in seqfm.sites: a filter whose JASPAR match lies on its reverse strand reports
        # the matched motif's orientation
        fl = labels.flipped(c["detector"].to_numpy())
        strand = np.where(fl & (strand == "+"), "-", np.where(fl & (strand == "-"), "+", strand))
    # name "label:chrom", made once per distinct pair
    pair, inverse = np.unique(d * len(chrom_names) + chrom_code, return_inverse=True)
    pair_names = np.array([f"{labels_of[p // len(chrom_names)]}:{chrom_names[p % len(chrom_names)]}"
                           for p in pair.tolist()], dtype=object)
    table = pd.DataFrame({
        "chrom": np.asarray(chrom_names, dtype=object)[chrom_code],
        "start": c["start"].to_numpy(np.int64), "end": c["end"].to_numpy(np.int64),
        "name": pair_names[inverse.reshape(-1)], "score": score_of(c["q"].to_numpy()),
        "strand": strand, "detector": names[d], "cluster": clusters[d],
        "activation": c["activation"].to_numpy(), "p": c["p"].to_numpy(), "q": c["q"].to_numpy(),
        "match_name": matches[d]})
    return table.sort_values(["chrom", "start", "end", "name"], kind="mergesort").reset_index(drop=True)


# ---------------------------------------------------------------------- tracks
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
        import pyBigWig

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
        from .scan_kernels import bin_means

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


# ---------------------------------------------------------------------- shard driver
@dataclass
class ShardResult:
    """What one shard wrote."""

    out: Path
    n_calls: int | None  # None: a workflow shard (the merge makes the calls)
    n_candidates: int
    n_tests: dict
    bases: int
    seconds: float
    files: dict


def scan_sources(scanner: Scanner, sources: Sequence, null: ScanNull, out: str | os.PathLike,
                 sizes: dict, labels=None, progress: bool = False, protein: bool = False,
                 text: bool = True, genome: str | None = None) -> ShardResult:
    """Scan ``sources`` (chromosomes of one shard) and write the shard's files to ``out``:
    ``candidates.npz``, the bigWigs and ``scan.json``, and with ``text`` the calls as
    ``sites.bed`` and ``sites.gff3`` with their browser files (:mod:`seqfm.browser`; a
    workflow shard leaves those to the merge). ``genome``: the FASTA's path, recorded in
    ``scan.json`` for the IGV session."""
    from . import sites

    cfg = scanner.config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    thresholds = null.detector_thresholds(cfg.q).astype(np.float32)
    names = ["cam"] + [f"filter_{k}" for k in scanner.track_filters]
    bw_paths = [out / f"{n}.bw" for n in names]
    writer = TrackWriter(bw_paths, sizes, cfg.bin, cfg.zooms)
    fbuf = CandidateBuffer(cfg.q, cfg.max_candidates)
    cbuf = CandidateBuffer(cfg.q, cfg.max_candidates)
    n_tests = {"filters": 0, "cam": 0}
    tests = np.zeros((scanner.n_filters + 1, null.n_strata))  # per detector and stratum
    share = null.shares()
    bases = 0
    stranded = scanner.alphabet.complement is not None
    ok = False
    try:
        for si, src in enumerate(sources):
            for res in scanner.scan(src, thresholds, progress=progress, want_tracks=True):
                bases += res["bases"]
                n_tests["filters"] += int(res["n_tests"][: scanner.n_filters].sum())
                n_tests["cam"] += int(res["n_tests"][scanner.n_filters])
                tests += res["n_tests"][:, None] * share
                for start, vals in res["tracks"]:
                    writer.add(src.name, start, vals)
                if not len(res["value"]):
                    continue
                det_idx = np.where(res["det"] < 0, scanner.n_filters, res["det"])
                res["stratum"] = candidate_strata(src, res["pos"], scanner.width, null.edges)
                p = null.pvalues(det_idx, res["value"], stratum=res["stratum"])
                keep = p <= cfg.q
                if not keep.any():
                    continue
                cols = {k: res[k][keep] for k in ("pos", "det", "strand", "value", "stratum")}
                cols["p"] = p[keep]
                cols["src"] = np.full(int(keep.sum()), si, np.int32)
                cols["det"] = cols["det"].astype(np.int32)
                isf = cols["det"] >= 0
                fbuf.add({k: v[isf] for k, v in cols.items()})
                cbuf.add({k: v[~isf] for k, v in cols.items()})
                raise_thresholds(thresholds, null, fbuf, cbuf, scanner.n_filters)
        ok = True
    finally:
        writer.close(ok)
    t_scan = time.perf_counter() - t0  # tiles, model, peaks, p-values, bigWigs written
    parts = [cols for cols in (fbuf.finish(), cbuf.finish()) if cols]
    if parts:  # one table sorted by chrom, pos, detector; chromosomes as categories
        cols = {k: np.concatenate([c[k] for c in parts]) for k in parts[0]}
        chroms = sorted({s.name for s in sources})
        rank = np.array([chroms.index(s.name) for s in sources], np.int64)[cols["src"]]
        order = np.lexsort((cols["det"], cols["pos"], rank))
        cols = {k: v[order] for k, v in cols.items()}
        cands = candidate_columns(rank[order], chroms, cols, scanner, null, stranded)
    else:
        empty = {"pos": np.zeros(0, np.int64), "det": np.zeros(0, np.int64),
                 "strand": np.zeros(0, np.int8), "value": np.zeros(0, np.float32),
                 "p": np.zeros(0), "stratum": np.zeros(0, np.int8)}
        cands = candidate_columns(np.zeros(0, np.int32), [], empty, scanner, null, stranded)
    n_cands = len(cands["pos"])
    strata_tests = [[float(x) for x in row] for row in tests]  # (F + 1, S)
    p_dropped = min(fbuf.p_dropped, cbuf.p_dropped)
    # a workflow shard's calls would be thrown away: the merge makes them genome-wide
    table = (name_calls(call_table(candidates_frame(cands), n_tests, cfg.q, cfg.merge, labels,
                                   strata_tests, null), labels, genome) if text else None)
    t_calls = time.perf_counter() - t0  # + BH q-values and merged calls, in memory
    n_calls = None if table is None else int(len(table))
    cand_path = out / "candidates.npz"
    _write_candidates(cands, cand_path)
    files = {"candidates": str(cand_path), "tracks": [str(p) for p in bw_paths]}
    if text:
        sites.write_calls(table, out / "sites.bed", out / "sites.gff3", protein=protein)
        files.update(sites_bed=str(out / "sites.bed"), sites_gff3=str(out / "sites.gff3"))
        from .browser import write_scan_files

        files.update(write_scan_files(out, sizes, genome, [out / "cam.bw"]))
    seconds = time.perf_counter() - t0
    summary = {"chroms": [s.name for s in sources], "sizes": sizes, "bases": bases,
               "n_filters": scanner.n_filters, "filter_width": scanner.width,
               "n_tests": n_tests, "n_tests_strata": strata_tests, "n_candidates": n_cands,
               "null": null.info.get("path"), "p_dropped": p_dropped,
               "n_calls": n_calls, "q": cfg.q, "seconds": seconds,
               "seconds_scan_tracks": t_scan, "seconds_calls_in_memory": t_calls if text else None,
               "bases_per_s": bases / seconds if seconds else None, "tracks": names,
               "config": asdict(cfg), "files": files, "genome": genome}
    from .io import save_json

    save_json(summary, out / "scan.json")
    calls = f"{n_calls} calls at q <= {cfg.q:g}" if text else "calls left to the merge"
    log.info("scanned %s: %d bases in %.1f s (%.2f Mb/s), %d candidates, %s",
             ",".join(s.name for s in sources), bases, seconds, bases / max(seconds, 1e-9) / 1e6,
             n_cands, calls)
    files["timing"] = {"scan_tracks": t_scan, "calls_in_memory": t_calls if text else None,
                       "total": seconds}
    return ShardResult(out, n_calls, n_cands, n_tests, bases, seconds, files)


def _write_candidates(cols: dict, path: Path) -> None:
    """The candidate columns of :func:`candidate_columns` as ``.npz`` (no pickles)."""
    from .io import atomic_write

    with atomic_write(path, "wb") as handle:
        np.savez(handle, **cols)


def read_candidates(path: str | os.PathLike) -> pd.DataFrame:
    """Read a shard's ``candidates.npz``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no candidate table (is this a `seqfm scan` shard folder?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            cols = {c: z[c] for c in CANDIDATE_COLUMNS}
            names = z["chrom_names"].astype(object)
        cols["chrom"] = names[cols["chrom"]] if len(names) else cols["chrom"].astype(object)
        return pd.DataFrame(cols)
    except (OSError, KeyError, ValueError, IndexError) as err:
        raise InputError(f"{path}: not a scan candidate table ({err})") from None


# ---------------------------------------------------------------------- merging shards
def merge_tracks(inputs: Sequence[Path], out: Path, bin: int = 1, chunk: int = 500_000,
                 zooms: int = 10) -> None:
    """Merge bigWigs that share one header (each holding some chromosomes) into one file,
    reading ``chunk`` bases at a time (values at resolution ``bin``)."""
    import pyBigWig

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


def name_calls(table: pd.DataFrame, labels, genome_path) -> pd.DataFrame:
    """The call table with each filter call named after the cluster whose PWM explains its
    sequence best (:mod:`seqfm.labels`; the genome read at the calls, the background being
    the letters within :data:`seqfm.labels.BG_FLANK` of them). Unchanged without a namer or
    without the genome."""
    from . import labels as labels_mod
    from .alphabet import DNA
    from .io import Genome

    namer = getattr(labels, "namer", None)
    if namer is None or table.empty or not genome_path or not Path(genome_path).is_file():
        return table
    rows = np.flatnonzero(table["detector"].astype(str).to_numpy() != "cam")
    if not len(rows):
        return table
    genome = Genome(genome_path)
    chrom = table["chrom"].to_numpy()[rows]
    start = table["start"].to_numpy(np.int64)[rows]
    end = table["end"].to_numpy(np.int64)[rows]
    windows, around = [], []
    sources: dict = {}
    for c, s, e in zip(chrom.tolist(), start.tolist(), end.tolist()):
        src = sources.get(c) or sources.setdefault(c, GenomeSource(genome, c, DNA))
        lo, hi = max(0, s - labels_mod.BG_FLANK), min(src.length, e + labels_mod.BG_FLANK)
        codes = src.read(lo, hi)
        around.append(codes)
        a = max(0, s - labels_mod.FLANK) - lo
        windows.append(codes[a: min(src.length, e + labels_mod.FLANK) - lo])
    background = labels_mod.composition(np.concatenate(around), DNA.size)
    take, k, rev = labels_mod.choose(namer, *labels_mod.pad(windows, 255), background,
                                     table["cluster"].to_numpy()[rows])
    rows, k, rev = rows[take], k[take], rev[take]
    table = table.copy()
    cluster = np.asarray(namer.clusters, dtype=object)[k]
    table.loc[rows, "cluster"] = cluster
    table.loc[rows, "match_name"] = np.asarray(namer.match_names, dtype=object)[k]
    table.loc[rows, "name"] = [f"{a}:{b}" for a, b in zip(cluster, table["chrom"].to_numpy()[rows])]
    table.loc[rows, "strand"] = np.where(rev, "-", "+")
    return table.sort_values(["chrom", "start", "end", "name"], kind="mergesort").reset_index(drop=True)


def merge_shards(shards: Sequence[str | os.PathLike], out: str | os.PathLike, q: float | None = None,
                 merge: str | None = None, labels=None, protein: bool = False) -> dict:
    """Gather shard folders into ``out/sites.bed``, ``out/sites.gff3`` (genome-wide q-values:
    BH over every shard's candidates with the summed number of tests) and one bigWig per track
    (``out/cam.bw`` ...), sorted, with one header."""
    from . import sites

    out = Path(out)
    shards = [Path(s) for s in shards]
    infos = []
    for s in shards:
        f = s / "scan.json"
        if not f.is_file():
            raise InputError(f"{s}: not a scan shard folder (no scan.json)")
        infos.append(json.loads(f.read_text()))
    if not infos:
        raise InputError("scan --gather needs at least one shard folder")
    q = infos[0]["q"] if q is None else q
    merge = merge or infos[0]["config"].get("merge", "all")
    n_tests = {"filters": sum(i["n_tests"]["filters"] for i in infos),
               "cam": sum(i["n_tests"]["cam"] for i in infos)}
    strata_tests = None  # tests per conservation stratum
    if all("n_tests_strata" in i for i in infos):
        strata_tests = np.sum([i["n_tests_strata"] for i in infos], axis=0).tolist()
    cands = pd.concat([read_candidates(s / "candidates.npz") for s in shards], ignore_index=True)
    p_dropped = min(i.get("p_dropped", 1.0) for i in infos)
    null_file = infos[0].get("null")
    null = ScanNull.load(null_file) if null_file and Path(null_file).is_file() else None
    if null is None:
        log.warning("the shards' null (%s) is not there: q-values are per detector and stratum, "
                    "not measured on merged calls", null_file)
    table = name_calls(call_table(cands, n_tests, q, merge, labels, strata_tests, null), labels,
                       infos[0].get("genome"))
    if len(table) and table["p"].max() >= p_dropped:
        log.warning("the candidate limit dropped p-values down to %.3g; q-values near the cut are "
                    "upper bounds (raise scan max_candidates)", p_dropped)
    out.mkdir(parents=True, exist_ok=True)
    sites.write_calls(table, out / "sites.bed", out / "sites.gff3", protein=protein)
    names = infos[0].get("tracks", ["cam"])
    bin_ = int(infos[0]["config"].get("bin", 1))
    for name in names:
        merge_tracks([s / f"{name}.bw" for s in shards], out / f"{name}.bw", bin_)
    from .browser import write_scan_files

    sizes = {c: n for i in infos for c, n in (i.get("sizes") or {}).items()}
    browser_files = write_scan_files(out, sizes, infos[0].get("genome"), [out / "cam.bw"])
    bases = sum(i["bases"] for i in infos)
    seconds = sum(i["seconds"] for i in infos)
    summary = {"shards": [str(s) for s in shards], "bases": bases, "n_tests": n_tests,
               "n_candidates": int(len(cands)), "n_calls": int(len(table)),
               "n_filter_calls": int((table["detector"] != "cam").sum()) if len(table) else 0,
               "n_cam_calls": int((table["detector"] == "cam").sum()) if len(table) else 0,
               "q": q, "scan_seconds": seconds, "bases_per_s": bases / seconds if seconds else None,
               "tracks": [str(out / f"{n}.bw") for n in names],
               "sites_bed": str(out / "sites.bed"), "sites_gff3": str(out / "sites.gff3"),
               **browser_files}
    from .io import save_json

    save_json(summary, out / "summary.json")
    log.info("merged %d shards: %d calls at q <= %g, tracks %s", len(shards), len(table), q,
             ", ".join(summary["tracks"]))
    return summary


# ---------------------------------------------------------------------- top level
# ---------------------------------------------------------------------- sharding a genome
SHARD_NAME_OK = re.compile(r"[^A-Za-z0-9._+-]")


def plan_shards(sizes: dict, chroms: Sequence[str], shard_bases: int) -> list[tuple[str, list[str]]]:
    """The shards of a genome scan, in the genome's order: every one of ``chroms`` of at least
    ``shard_bases`` bases alone, and the shorter ones packed, in order, into shards of at most
    ``shard_bases`` bases (an assembly's thousands of small scaffolds then make a few jobs, not
    thousands). A shard of one sequence is named after it, one of several
    ``<first sequence>+<how many more>``; characters other than letters, digits and ``._+-``
    become ``_``, and a name already taken gets ``_2``, ``_3``, ..."""
    if shard_bases < 1:
        raise InputError(f"scan shard_bases must be >= 1, got {shard_bases}")
    groups: list[list[str]] = []
    pack: list[str] = []
    bases = 0
    for c in chroms:
        n = int(sizes[c])
        if pack and (n >= shard_bases or bases + n > shard_bases):
            groups.append(pack)
            pack, bases = [], 0
        if n >= shard_bases:
            groups.append([c])
        else:
            pack.append(c)
            bases += n
    if pack:
        groups.append(pack)
    plan, taken = [], set()
    for g in groups:
        base = SHARD_NAME_OK.sub("_", g[0] if len(g) == 1 else f"{g[0]}+{len(g) - 1}")
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        plan.append((name, g))
    return plan


def write_shard_plan(plan: list[tuple[str, list[str]]], sizes: dict, folder: str | os.PathLike) -> None:
    """``folder/shards.tsv`` (shard, sequences, bases, first, last; in order) and one
    ``folder/<shard>.txt`` per shard with its sequence names, one per line (for
    ``seqfm scan --chroms-file``)."""
    from .io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, chroms in plan:
        with atomic_write(folder / f"{name}.txt") as handle:
            handle.write("".join(f"{c}\n" for c in chroms))
        rows.append((name, len(chroms), sum(int(sizes[c]) for c in chroms), chroms[0], chroms[-1]))
    with atomic_write(folder / "shards.tsv") as handle:
        handle.write("shard\tsequences\tbases\tfirst\tlast\n")
        handle.write("".join("\t".join(map(str, r)) + "\n" for r in rows))


def read_chroms_file(path: str | os.PathLike) -> list[str]:
    """Sequence names, one per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such chromosome list")
    names = [line.strip() for line in path.read_text().splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise InputError(f"{path}: the chromosome list names no sequence")
    return names


def open_tracks(paths: Sequence[str], fill: float = 0.0) -> list:
    from .io import Track

    return [Track(p, fill=fill) for p in paths if p]


def load_model(model_pt, model_json, device: str = "auto"):
    """The model on the chosen device, in eval mode, and its ``model.json``."""
    from . import model as model_mod
    from .device import pick_device

    dev = pick_device(device)
    model, info = model_mod.load(model_pt, model_json, dev)
    return model.eval(), info


def check_tracks(model, tracks: Sequence, model_json) -> None:
    n = model.arch["n_tracks"]
    if len(tracks) != n:
        raise InputError(f"{model_json}: the model reads {n} conservation track(s) but "
                         f"{len(tracks)} were given (--conservation)")


def run(model_pt, model_json, genome_path, out, chroms: Sequence[str] | None = None,
        conservation: Sequence[str] = (), fill: float = 0.0, config: ScanConfig | None = None,
        null_path=None, make_null: bool = False, filters_tsv=None, threads: int = 0,
        progress: bool = False, shard: bool = False) -> dict:
    """``seqfm scan``: scan ``chroms`` (default: every sequence of the FASTA) into ``out``.

    With ``make_null`` only the null is built and written to ``null_path`` (default
    ``out/null.npz``). Otherwise the null is read from ``null_path`` when given, else built in
    process (seeded, from the whole genome, so every shard gets the same one). A ``shard``
    writes only what :func:`merge_shards` reads (no BED or GFF3, bigWigs without zoom levels).
    """
    import torch

    from . import sites
    from .device import set_threads
    from .io import Genome

    config = config or ScanConfig()
    if shard:  # zoom levels are built by the merge, in one file
        config = replace(config, zooms=0)
    set_threads(threads)
    torch.manual_seed(config.seed)
    model, info = load_model(model_pt, model_json, config.device)
    genome = Genome(genome_path)
    if not genome.sizes:
        raise InputError(f"{genome_path}: the FASTA holds no sequence")
    track_objs = open_tracks(conservation, fill)
    check_tracks(model, track_objs, model_json)
    scanner = Scanner(model, info, config)
    fp = model_fingerprint(model)
    all_chroms = list(genome.sizes)
    out = Path(out)
    if make_null:
        null = build_genome_null(scanner, genome, all_chroms, config, track_objs, fp, progress)
        path = Path(null_path) if null_path else out / "null.npz"
        null.save(path)
        return {"null": str(path), **null.info}
    if null_path:
        null = ScanNull.load(null_path)
        null.info["path"] = str(Path(null_path).resolve())  # the merge reads its peaks
        if null.fingerprint and null.fingerprint != fp:
            raise InputError(f"{null_path}: the null was made with another model (rebuild it with "
                             "`seqfm scan --make-null`)")
    else:
        null = build_genome_null(scanner, genome, all_chroms, config, track_objs, fp, progress)
    chroms = list(chroms) if chroms else all_chroms
    missing = [c for c in chroms if c not in genome.sizes]
    if missing:
        raise InputError(f"chromosome '{missing[0]}' is not in {genome_path} (it has "
                         f"{', '.join(all_chroms[:5])}{' and more' if len(all_chroms) > 5 else ''})")
    chroms = sorted(set(chroms), key=all_chroms.index)  # bigWig entries go in header order
    sources = [GenomeSource(genome, c, scanner.alphabet, track_objs) for c in chroms]
    labels = (sites.read_filter_labels(filters_tsv, scanner.n_filters, scanner.alphabet)
              if filters_tsv else None)
    log.info("scanning %s (%s) with %s on %s", genome_path, ",".join(chroms), model_pt, scanner.device)
    res = scan_sources(scanner, sources, null, out, dict(genome.sizes), labels, progress,
                       protein=scanner.alphabet.complement is None, text=not shard,
                       genome=str(Path(genome_path).resolve()))
    return {"out": str(res.out), "n_calls": res.n_calls, "n_candidates": res.n_candidates,
            "bases": res.bases, "seconds": res.seconds, **res.files}


# ---------------------------------------------------------------------- fused CPU kernel
# positions decided per chunk of the fused kernel: its (positions x filters) scratch stays in
# the core's cache (about 0.25 MiB per array for 64 filters), and the halo recomputed around
# it (one and a half NMS windows) costs about 3 %
FUSED_CHUNK = 1024
