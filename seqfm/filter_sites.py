"""Basset's rule: the sites of each first-layer filter, and their letters as a PWM.

Over a set of (positive) sequences, a filter's activation threshold is ``mean + frac * (max -
mean)`` of all its activations (both strands, every position). Every window whose activation
passes it is a site; the window is read on the strand where the filter fired
(reverse-complemented for strand 1) and its letters are counted. Computed batch by batch on the
device as a correlation of the site mask with the one-hot input, never materialising the windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .errors import InputError
from .pwm import PWM, counts_to_probs, trim_bounds


@dataclass
class FilterSites:
    """What :func:`filter_counts` found, per filter.

    Attributes
    ----------
    counts : numpy.ndarray, float64, shape ``(F, W, A)``
        Letters of the sites, read on the strand where the filter fired.
    n_sites : numpy.ndarray, int64, shape ``(F,)``
    threshold : numpy.ndarray, float64, shape ``(F,)``
        ``mean + frac * (max - mean)`` of the activations.
    act_mean, act_max : numpy.ndarray, float64, shape ``(F,)``
    track_at_sites : numpy.ndarray, float64, shape ``(F, T)``
        Mean conservation over the site windows (T = 0 without tracks).
    n_sequences : int
    seq_max : numpy.ndarray, float32, shape ``(M, F)``
        Each sequence's largest activation of each filter (either strand); filters that
        detect one motif fire on the same sequences (:func:`seqfm.clustering.coactivation`).
    """

    counts: np.ndarray
    n_sites: np.ndarray
    threshold: np.ndarray
    act_mean: np.ndarray
    act_max: np.ndarray
    track_at_sites: np.ndarray
    n_sequences: int
    seq_max: np.ndarray | None = None


def filter_counts(model, source, index: np.ndarray, frac: float = 0.7,
                  batch_size: int = 256, progress: bool = False, keep_bytes: int = 2 ** 28) -> FilterSites:
    """Basset's rule: count the letters of every window that activates a filter strongly.

    Parameters
    ----------
    model : SeqCNN
        In eval mode, on ``source.device``.
    source : seqfm.batching.BatchSource
        Batches of one-hot inputs ``(B, C, L)`` made on the device.
    index : numpy.ndarray, int, shape ``(M,)``
        The sequences to read (seqfm uses the train and valid positives).
    frac : float
        Threshold fraction: a window is a site of filter f when its activation (either
        strand) is above ``mean_f + frac * (max_f - mean_f)``.
    batch_size : int
    keep_bytes : int
        The first pass (the threshold) keeps the activations for the second (the counts) up to
        this size; the rest are computed again.

    Returns
    -------
    FilterSites
    """
    if not 0.0 <= frac < 1.0:
        raise InputError(f"activation threshold fraction must be in [0, 1), got {frac}")
    if len(index) == 0:
        raise InputError("no sequences to build filter PWMs from (no positive in the train/valid splits)")
    model.eval()
    dev = source.device
    n_f, width = model.conv1.out_channels, model.filter_width
    n_a = model.alphabet.size
    total = torch.zeros(n_f, dtype=torch.float64, device=dev)
    amax = torch.zeros(n_f, dtype=torch.float32, device=dev)
    count = 0
    seq_max = []
    bar = tqdm(total=2 * len(index), desc="filter activations", unit="seq", leave=False, disable=not progress)
    kept, kept_bytes, keeping = [], 0, True
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            size = sum(t.numel() * t.element_size() for t in (fwd, rev) if t is not None)
            keeping = keeping and kept_bytes + size <= keep_bytes
            if keeping:  # the first batches, while they fit
                kept.append((fwd, rev))
                kept_bytes += size
            acts = fwd if rev is None else torch.cat([fwd, rev], dim=2)
            total += acts.sum(dim=(0, 2), dtype=torch.float64)
            smax = acts.amax(dim=2)
            amax = torch.maximum(amax, smax.amax(dim=0))
            seq_max.append(smax.float().cpu())
            count += acts.shape[0] * acts.shape[2]
            bar.update(len(x))
        mean = total / max(count, 1)
        thr = (mean + frac * (amax.double() - mean)).float()
        # a filter that never fires has max == mean == 0: no window passes "> 0"
        counts = torch.zeros(n_f, model.n_channels, width, dtype=torch.float64, device=dev)
        n_sites = torch.zeros(n_f, dtype=torch.float64, device=dev)
        for k, (x, _) in enumerate(source.iterate(index, batch_size)):
            fwd, rev = kept[k] if k < len(kept) else model.first_layer(x)
            windows = x.unfold(2, width, 1)  # (B, C, L1, W), a view
            m = (fwd > thr[None, :, None]).float()
            n_sites += m.sum(dim=(0, 2), dtype=torch.float64)
            counts += torch.einsum("bfi,bciw->fcw", m, windows).double()
            if rev is not None:
                m = (rev > thr[None, :, None]).float()
                n_sites += m.sum(dim=(0, 2), dtype=torch.float64)
                c = torch.einsum("bfi,bciw->fcw", m, windows).double()
                # a reverse-strand site read 5'->3' on its own strand
                counts += c.index_select(1, model.rc_perm).flip(-1)
            bar.update(len(x))
    bar.close()
    counts = counts.cpu().numpy()
    n_sites_np = np.rint(n_sites.cpu().numpy()).astype(np.int64)
    tracks = counts[:, n_a:, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        track_mean = np.where(n_sites_np[:, None] > 0,
                              tracks.sum(axis=2) / (np.maximum(n_sites_np, 1)[:, None] * width), np.nan)
    return FilterSites(counts=counts[:, :n_a, :].transpose(0, 2, 1).copy(), n_sites=n_sites_np,
                       threshold=thr.double().cpu().numpy(), act_mean=mean.cpu().numpy(),
                       act_max=amax.double().cpu().numpy(), track_at_sites=track_mean,
                       n_sequences=int(len(index)), seq_max=torch.cat(seq_max).numpy())


def filter_pwms(sites: FilterSites, alphabet: str = "dna", min_sites: int = 10,
                trim_bits: float = 0.3, pseudocount: float = 0.5
                ) -> tuple[list[PWM | None], np.ndarray]:
    """PWMs of the filters with at least ``min_sites`` sites, flanks under ``trim_bits`` trimmed.

    Returns
    -------
    pwms : list of PWM or None, length F
        ``filter_{f}``; None for too few sites or no position with ``trim_bits``.
    bounds : numpy.ndarray, int, shape ``(F, 2)``
        The kept ``[start, end)`` of each filter's window (strand-0 orientation).
    """
    out: list[PWM | None] = []
    bounds = np.zeros((len(sites.n_sites), 2), dtype=np.int64)
    for f, (c, n) in enumerate(zip(sites.counts, sites.n_sites)):
        if n < min_sites:
            out.append(None)
            continue
        lo, hi = trim_bounds(counts_to_probs(c, pseudocount), trim_bits)
        bounds[f] = lo, hi
        if hi - lo < 1:
            out.append(None)
            continue
        out.append(PWM(f"filter_{f}", c[lo:hi].copy(), int(n), alphabet, pseudocount))
    return out, bounds
