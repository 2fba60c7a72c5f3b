"""Feature maps of a trained :class:`~seqfm.model.SeqCNN`, and their peaks.

Everything here runs batch by batch on the model's device: uint8 codes (and float16 tracks)
are copied for one batch, one-hot is made there (:func:`seqfm.batching.make_input`) and only
the peaks (a few numbers per filter and sequence) come back to the host. A dataset is never
held as a float one-hot array at once.

Two kinds of evidence per position:

filter activations
    ``model.filter_activations(x)``: every first-layer filter after the ReLU, before any
    pooling, on both strands, ``(N, 2, F, L1)`` with ``L1 = L - W + 1``; position ``i`` is the
    input window ``[i, i + W)`` on the forward strand. A filter's track is the maximum over the
    strands; the strand of a peak is the strand that gave that maximum.
class-activation map (CAM)
    ``model.class_activation_map(x)``, ``(N, L1)``: the head's weights applied to the last
    feature maps, the model-level evidence per position, in the same window-start coordinates.
    For a strand-aware model the strand of a CAM peak is the strand whose stream alone gives
    the larger map at that position.

Both come from one pass through the first layer (:func:`maps`, which merges the strands as
``SeqCNN.features`` does; the tests hold it equal to ``class_activation_map``).

Peaks are local maxima found by non-maximum suppression with the ``max_pool1d`` equality
trick: position ``i`` is a peak when it equals the maximum of the window of ``nms_width``
positions centred on it (ties resolved to the leftmost position, so a plateau gives one
peak). Every local maximum is a candidate (a test, for the significance in
:mod:`seqfm.sites`); filter maxima of 0 (the ReLU's floor, no evidence) are counted but never
become calls.

Filter cores: a filter of width W usually holds a motif shorter than W, somewhere inside it.
:func:`filter_cores` finds, from the weights, the span of columns that carry the motif, so a
site is reported at the motif's own coordinates rather than the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch.nn import functional as F

from .batching import make_input


# ---------------------------------------------------------------------- batches
def iter_inputs(codes: np.ndarray, tracks: np.ndarray | None, index: np.ndarray, alphabet,
                policy: str, device: torch.device, batch_size: int = 256
                ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Model inputs for the rows ``index``, one batch at a time, made on ``device``.

    Parameters
    ----------
    codes : numpy.ndarray, uint8, shape ``(N, L)`` (may be memory-mapped)
    tracks : numpy.ndarray, float16, shape ``(N, T, L)``, or None
    index : numpy.ndarray of int, shape ``(M,)``
        Rows to read, in this order.
    alphabet : seqfm.alphabet.Alphabet
    policy : str
        Ambiguity policy of the dataset.
    device : torch.device
    batch_size : int

    Yields
    ------
    (rows, x): ``rows`` the batch's entries of ``index``; ``x`` float32 ``(B, A + T, L)`` on
    ``device``. Only the uint8 codes and float16 tracks travel to the device.
    """
    index = np.asarray(index, dtype=np.int64)
    has_tracks = tracks is not None and tracks.ndim == 3 and tracks.shape[1] > 0
    for s in range(0, len(index), batch_size):
        rows = index[s:s + batch_size]
        c = torch.from_numpy(np.ascontiguousarray(codes[rows])).to(device, non_blocking=True)
        t = (torch.from_numpy(np.ascontiguousarray(tracks[rows])).to(device, non_blocking=True)
             if has_tracks else None)
        yield rows, make_input(c, t, alphabet, policy)


def iter_arrays(codes: np.ndarray, tracks: np.ndarray | None, alphabet, policy: str,
                device: torch.device, batch_size: int = 256
                ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Like :func:`iter_inputs` over every row of in-memory ``codes``/``tracks`` (e.g. shuffles)."""
    yield from iter_inputs(codes, tracks, np.arange(len(codes)), alphabet, policy, device, batch_size)


# ---------------------------------------------------------------------- maps
@torch.no_grad()
def strand_max(acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the strands of filter activations.

    Parameters
    ----------
    acts : torch.Tensor, shape ``(N, 2, F, L1)``

    Returns
    -------
    (values, strand): ``(N, F, L1)`` maximum over the strands and ``(N, F, L1)`` int8 strand
    index of that maximum (0 forward, 1 reverse; ties go to forward).
    """
    # ties go to the forward strand (torch.max may return either index on ties)
    return torch.maximum(acts[:, 0], acts[:, 1]), (acts[:, 1] > acts[:, 0]).to(torch.int8)


@torch.no_grad()
def maps(model, x: torch.Tensor, cam: bool = True
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Filter activations (strands merged) and the stranded CAM from one first-layer pass.

    Parameters
    ----------
    model : SeqCNN (eval mode)
    x : torch.Tensor, shape ``(N, C, L)``
    cam : bool
        Also compute the class-activation map.

    Returns
    -------
    values : torch.Tensor, ``(N, F, L1)``
        Post-ReLU activation of every filter, maximum over the strands
        (``model.filter_activations(x).amax(1)``).
    strand : torch.Tensor, int8, ``(N, F, L1)``
        1 where the reverse strand gave that maximum (ties: forward).
    cam : torch.Tensor ``(N, L1)`` or None
        ``model.class_activation_map(x)``; for a model that reads tracks, minus the map of
        the reference input (:meth:`seqfm.model.SeqCNN.reference_input`: uniform letters, the
        same tracks), so that the map is the sequence's evidence given its conservation and a
        conserved block of random sequence scores about zero.
    cam_strand : torch.Tensor, int8, ``(N, L1)``, or None
        1 where the reverse-strand stream alone gives a larger map than the forward stream
        alone; all zeros for models that read one strand.
    """
    fwd, rev = model.first_layer(x)
    if rev is None:
        values, strand = fwd, torch.zeros(fwd.shape, dtype=torch.int8, device=fwd.device)
    else:
        values = torch.maximum(fwd, rev)
        strand = (rev > fwd).to(torch.int8)
    if not cam:
        return values, strand, None, None
    c, c_strand = _cam(model, fwd, rev)
    if model.arch["n_tracks"]:
        c = c - reference_cam(model, x)
    return values, strand, c, c_strand


def reference_cam(model, x: torch.Tensor) -> torch.Tensor:
    """The CAM ``(N, L1)`` of :meth:`seqfm.model.SeqCNN.reference_input` (uniform letters, the
    tracks of ``x``): what the conservation alone gives, subtracted from a tracked model's CAM."""
    ref = model.reference_input(x)
    return _cam(model, *model.first_layer(ref))[0]


def _cam(model, fwd, rev):
    """The CAM ``(N, L1)`` and its strand (int8 ``(N, L1)``) from the first-layer streams
    (:meth:`SeqCNN.first_layer`) through the trunk (:meth:`SeqCNN.streams`)."""
    w = model.head.weight[0]
    h_f, h_r = model.streams(fwd, rev)
    if h_r is None:
        c = torch.einsum("d,ndl->nl", w, h_f)
        return c, torch.zeros(c.shape, dtype=torch.int8, device=c.device)
    c = torch.einsum("d,ndl->nl", w, torch.maximum(h_f, h_r))
    c_f = torch.einsum("d,ndl->nl", w, h_f)
    c_r = torch.einsum("d,ndl->nl", w, h_r)
    return c, (c_r > c_f).to(torch.int8)


@torch.no_grad()
def stranded_cam(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-activation map ``(N, L1)`` and the strand behind each position (int8 ``(N, L1)``,
    see :func:`maps`)."""
    _, _, cam, strand = maps(model, x, cam=True)
    return cam, strand


# ---------------------------------------------------------------------- peaks
def nms_mask(values: torch.Tensor, width: int, floor: float | None = 0.0) -> torch.Tensor:
    """Non-maximum suppression along the last axis.

    Parameters
    ----------
    values : torch.Tensor, shape ``(..., L)``
    width : int
        Window of the suppression: a peak is the maximum of the ``2 * (width // 2) + 1``
        positions centred on it, so two kept peaks are at least ``width // 2 + 1`` apart.
    floor : float or None
        Keep only peaks strictly above ``floor`` (None: keep every local maximum).

    Returns
    -------
    torch.Tensor, bool, shape of ``values``
        True at kept peaks. Of equal maxima inside one window only the leftmost is kept, so a
        plateau (e.g. a run of zeros) gives one peak, at its left end.
    """
    half = max(int(width) // 2, 0)
    shape = values.shape
    v = values.reshape(-1, 1, shape[-1]).float()
    if half == 0:
        keep = torch.ones_like(v, dtype=torch.bool)
    else:
        # max_pool1d pads with -inf: edge windows are simply shorter
        pooled = F.max_pool1d(v, 2 * half + 1, stride=1, padding=half)
        keep = v == pooled
        # a kept position with another kept position within `half` to its left is a tie
        # (both are the maxima of overlapping windows, hence equal): keep the leftmost only
        kf = F.pad(keep.float(), (half, 0))
        left = F.max_pool1d(kf, half, stride=1)[..., : shape[-1]]
        keep = keep & (left == 0)
    if floor is not None:
        keep = keep & (v > floor)
    return keep.reshape(shape)


@dataclass
class Peaks:
    """Peaks of one kind of map, flat arrays of equal length (host memory).

    Attributes
    ----------
    seq : int64 ``(P,)``  row of the dataset
    detector : int64 ``(P,)``  filter index, or -1 for the CAM
    pos : int64 ``(P,)``  window start on the forward strand of the sequence
    strand : int8 ``(P,)``  0 forward, 1 reverse
    value : float32 ``(P,)``  activation (or CAM value) at the peak
    """

    seq: np.ndarray
    detector: np.ndarray
    pos: np.ndarray
    strand: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> "Peaks":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros(0, np.int8), np.zeros(0, np.float32))

    @classmethod
    def concat(cls, parts: list["Peaks"]) -> "Peaks":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("seq", "detector", "pos", "strand", "value")))

    def __len__(self) -> int:
        return len(self.value)

    def take(self, mask_or_index) -> "Peaks":
        return Peaks(self.seq[mask_or_index], self.detector[mask_or_index], self.pos[mask_or_index],
                     self.strand[mask_or_index], self.value[mask_or_index])


def _gather(keep: torch.Tensor, values: torch.Tensor, strand: torch.Tensor,
            rows: np.ndarray, detector_axis: bool) -> Peaks:
    idx = keep.nonzero()
    vals = values[keep].float().cpu().numpy()
    strd = strand[keep].cpu().numpy().astype(np.int8)
    idx = idx.cpu().numpy()
    seq = np.asarray(rows, dtype=np.int64)[idx[:, 0]]
    if detector_axis:
        det, pos = idx[:, 1].astype(np.int64), idx[:, 2].astype(np.int64)
    else:
        det, pos = np.full(len(idx), -1, np.int64), idx[:, 1].astype(np.int64)
    return Peaks(seq, det, pos, strd, vals.astype(np.float32))


@torch.no_grad()
def batch_peaks(model, x: torch.Tensor, rows: np.ndarray, nms_width: int,
                filters: bool = True, cam: bool = True
                ) -> tuple[Peaks, Peaks, np.ndarray, int]:
    """Filter and CAM peaks of one batch.

    Every local maximum is a candidate (a test): for filters, zero-valued maxima (the ReLU's
    floor, no evidence) are counted but not returned; for the CAM every local maximum is
    returned.

    Parameters
    ----------
    model : SeqCNN (eval mode)
    x : torch.Tensor, shape ``(B, C, L)`` on the model's device
    rows : numpy.ndarray, shape ``(B,)``
        Dataset row of each sequence (copied into :attr:`Peaks.seq`).
    nms_width : int
        Suppression window (usually the filter width).
    filters, cam : bool
        Which maps to read.

    Returns
    -------
    filter_peaks : Peaks
        Filter maxima above 0.
    cam_peaks : Peaks
        Every CAM maximum (``detector`` -1).
    n_filter_candidates : numpy.ndarray, int64, ``(F,)``
        Local maxima of each filter, zero-valued ones included.
    n_cam_candidates : int
    """
    fp = cp = Peaks.empty()
    n_f = np.zeros(model.conv1.weight.shape[0], dtype=np.int64)
    values, strand, c, c_strand = maps(model, x, cam=cam)
    if filters:
        keep = nms_mask(values, nms_width, floor=None)
        n_f = keep.sum(dim=(0, 2)).cpu().numpy().astype(np.int64)
        fp = _gather(keep & (values > 0), values, strand, rows, True)
    if cam:
        cp = _gather(nms_mask(c, nms_width, floor=None), c, c_strand, rows, False)
    return fp, cp, n_f, len(cp)


@torch.no_grad()
def batch_null_values(model, x: torch.Tensor, nms_width: int, cam: bool = True
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Peak values of one batch for an empirical null (no positions, no strands).

    Returns
    -------
    filter_values : float32 ``(P,)``
        Positive filter maxima, grouped by filter (filter 0's first).
    filter_counts : int64 ``(F,)``
        How many of them each filter has.
    n_filter_candidates : int64 ``(F,)``
        Every local maximum of each filter, zero-valued ones included.
    cam_values : float32 ``(Q,)``
        Every CAM maximum (empty when ``cam`` is False).
    """
    values, _, c, _ = maps(model, x, cam=cam)
    keep = nms_mask(values, nms_width, floor=None)
    n_f = keep.sum(dim=(0, 2))
    pos = keep & (values > 0)
    vals = values.transpose(0, 1)[pos.transpose(0, 1)]
    counts = pos.sum(dim=(0, 2))
    cam_vals = c[nms_mask(c, nms_width, floor=None)] if cam else values.new_zeros(0)
    return (vals.float().cpu().numpy(), counts.cpu().numpy().astype(np.int64),
            n_f.cpu().numpy().astype(np.int64), cam_vals.float().cpu().numpy())


def scan_peaks(model, codes: np.ndarray, tracks: np.ndarray | None, index: np.ndarray, alphabet,
               policy: str, device: torch.device, nms_width: int, batch_size: int = 256,
               progress: bool = False, desc: str = "peaks", **kw) -> tuple[Peaks, Peaks]:
    """:func:`batch_peaks` over the rows ``index`` of a dataset, batch by batch.

    Returns
    -------
    (filter_peaks, cam_peaks) : Peaks with ``seq`` holding dataset rows.
    """
    from tqdm import tqdm

    fps, cps = [], []
    it = iter_inputs(codes, tracks, index, alphabet, policy, device, batch_size)
    n_batches = (len(index) + batch_size - 1) // batch_size
    for rows, x in tqdm(it, total=n_batches, desc=desc, disable=not progress, leave=False):
        fp, cp, _, _ = batch_peaks(model, x, rows, nms_width, **kw)
        fps.append(fp)
        cps.append(cp)
    return Peaks.concat(fps), Peaks.concat(cps)


# ---------------------------------------------------------------------- filter cores
def filter_cores(weight: np.ndarray, n_letters: int, fraction: float = 0.3) -> np.ndarray:
    """The span of each filter's columns that carries its motif.

    Parameters
    ----------
    weight : numpy.ndarray, shape ``(F, C, W)``
        First-layer weights (letter channels first, then tracks).
    n_letters : int
        Letter channels (the alphabet size).
    fraction : float
        A column belongs to the motif when the spread of its letter weights
        (max - min) is at least ``fraction`` of the filter's largest spread.

    Returns
    -------
    numpy.ndarray, int64, shape ``(F, 2)``
        ``[a, b)`` offsets inside the forward-strand filter window: the first and one past the
        last such column. On the reverse strand the core is ``[W - b, W - a)``.
    """
    w = np.asarray(weight, dtype=np.float64)[:, :n_letters, :]
    spread = w.max(axis=1) - w.min(axis=1)  # (F, W)
    top = spread.max(axis=1, keepdims=True)
    on = spread >= fraction * np.where(top > 0, top, np.inf)
    width = w.shape[-1]
    any_on = on.any(axis=1)
    first = np.where(any_on, on.argmax(axis=1), 0)
    last = np.where(any_on, width - on[:, ::-1].argmax(axis=1), width)
    return np.stack([first, last], axis=1).astype(np.int64)


def site_intervals(pos: np.ndarray, strand: np.ndarray, detector: np.ndarray, cores: np.ndarray,
                   width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequence intervals of peaks: the filter's core on the peak's strand, or the CAM window.

    Parameters
    ----------
    pos, strand, detector : numpy.ndarray ``(P,)``
        As in :class:`Peaks` (detector -1 = CAM).
    cores : numpy.ndarray ``(F, 2)``
        From :func:`filter_cores`.
    width : int
        Filter width W.

    Returns
    -------
    (start, end) : int64 ``(P,)``, 0-based half-open positions in the sequence (forward strand).
    """
    pos = np.asarray(pos, np.int64)
    a = np.zeros(len(pos), np.int64)
    b = np.full(len(pos), width, np.int64)
    f = np.asarray(detector) >= 0
    if f.any():
        a[f], b[f] = cores[detector[f], 0], cores[detector[f], 1]
    rev = f & (np.asarray(strand) == 1)
    a[rev], b[rev] = width - b[rev], width - a[rev]
    return pos + a, pos + b


# ---------------------------------------------------------------------- dense maps
@torch.no_grad()
def dense_maps(model, codes: np.ndarray, tracks: np.ndarray | None, index: np.ndarray, alphabet,
               policy: str, device: torch.device, filters: list[int], batch_size: int = 64
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full maps for a few sequences (for figures).

    Returns
    -------
    cam : float32 ``(N, L1)``
    acts : float32 ``(N, len(filters), L1)``, strand maximum of the chosen filters
    logits : float32 ``(N,)``
    """
    cams, acts, logits = [], [], []
    sel = torch.as_tensor(list(filters), dtype=torch.long, device=device)
    for _, x in iter_inputs(codes, tracks, index, alphabet, policy, device, batch_size):
        cams.append(model.class_activation_map(x).float().cpu().numpy())
        v, _ = strand_max(model.filter_activations(x))
        acts.append(v.index_select(1, sel).float().cpu().numpy())
        logits.append(model(x).float().cpu().numpy())
    if not cams:
        n1 = codes.shape[1] - model.filter_width + 1
        return (np.zeros((0, n1), np.float32), np.zeros((0, len(filters), n1), np.float32),
                np.zeros(0, np.float32))
    return np.concatenate(cams), np.concatenate(acts), np.concatenate(logits)


@torch.no_grad()
def mean_activations(model, codes: np.ndarray, tracks: np.ndarray | None, index: np.ndarray,
                     alphabet, policy: str, device: torch.device, batch_size: int = 256) -> np.ndarray:
    """Mean over sequences of each filter's maximum activation, ``(F,)`` float64."""
    total, n = None, 0
    for _, x in iter_inputs(codes, tracks, index, alphabet, policy, device, batch_size):
        v, _ = strand_max(model.filter_activations(x))
        s = v.amax(-1).double().sum(0)
        total = s if total is None else total + s
        n += x.shape[0]
    if total is None:
        return np.zeros(model.conv1.weight.shape[0])
    return (total / max(n, 1)).cpu().numpy()
