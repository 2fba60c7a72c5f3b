"""The scan's engine: a trained :class:`~seqfm.model.SeqCNN` run over long sequences tile by
tile, both strands, returning candidate peaks and track values in bounded memory.

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

N
-
A window start ``j`` is usable when ``[j, j + W)`` holds no N. Tiles whose whole input is N are
not run; candidates (and tests) at unusable positions are dropped and the tracks have no data
there.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from . import significance as sig
from .alphabet import one_hot
from .errors import InputError
from .featuremaps import filter_cores, nms_mask, reference_cam
from .scan_kernels import kernel

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


def model_fingerprint(model) -> str:
    """Digest of a model's weights (a null is only valid for the model it was made with)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# positions decided per chunk of the fused kernel: its (positions x filters) scratch stays in
# the core's cache (about 0.25 MiB per array for 64 filters), and the halo recomputed around
# it (one and a half NMS windows) costs about 3 %
FUSED_CHUNK = 1024


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
        self.cores = filter_cores(model.conv1.weight.detach().cpu().numpy(), self.alphabet.size,
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
        values of the CAM then the chosen filters, NaN where there is no data), ``bases`` and
        ``input_tracks`` (the tiles' input starts ``(B,)`` and tracks ``(B, T, L)`` as read, or
        None without tracks).
        """
        torch = self.torch
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
                   "bases": int(sum(t.own_end - t.own_start for t in group)),
                   "input_tracks": (None if tracks is None else
                                    (np.array([t.in_start for t in group], np.int64), tracks))}
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
