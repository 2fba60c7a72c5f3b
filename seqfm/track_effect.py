"""Conservation's share of each filter's sites, by intervention on the input: the tracks at
their background value with the sequence kept, and the sequence dinucleotide-shuffled with the
tracks in place. Filters that respond to the tracks without a sequence motif are track-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .batching import BatchSource
from .negatives import shuffle_batch
from .pwm import PWM


def track_background(tracks: np.ndarray, index: np.ndarray, n: int = 500) -> np.ndarray | None:
    """Background value of each track: its median over (up to ``n`` evenly spaced) sequences of
    ``index`` (seqfm passes the negatives), every position.

    The value a position without the positives' conservation has: about 0 for a centred
    phyloP-like score, the genome's typical value for a non-centred one (phastCons, a
    coverage track). None without tracks.
    """
    if tracks.ndim != 3 or tracks.shape[1] == 0 or len(index) == 0:
        return None
    index = np.sort(np.asarray(index))
    if len(index) > n:
        index = index[np.linspace(0, len(index) - 1, n).round().astype(np.int64)]
    sub = np.asarray(tracks[index], dtype=np.float32)
    return np.median(sub.transpose(1, 0, 2).reshape(sub.shape[1], -1), axis=1)


def track_source(codes, tracks, index, alphabet, policy, device, background=None):
    """A BatchSource over the rows ``index`` (in that order), tracks at ``background`` when given."""
    c = np.asarray(codes[np.asarray(index)], dtype=np.uint8)
    t = np.asarray(tracks[np.asarray(index)], dtype=np.float16)
    if background is not None:
        t = np.broadcast_to(np.asarray(background, dtype=np.float16)[None, :, None], t.shape).copy()
    return BatchSource(c, t, np.zeros(len(c), dtype=np.float32), device, alphabet, policy, resident=True)


@dataclass
class TrackResponse:
    """What :func:`track_response` measured, per filter (arrays ``(F,)``).

    Attributes
    ----------
    n_sites : sites (windows passing the filter's threshold, either strand) on the sequences.
    n_sites_background : sites with every track at its background value (same sequences).
    n_sites_shuffled : sites on the sequences dinucleotide-shuffled, the tracks kept in place.
    act_sites : mean activation at the sites.
    act_sites_background : mean activation at the same windows with the tracks at background.
    """

    n_sites: np.ndarray
    n_sites_background: np.ndarray
    n_sites_shuffled: np.ndarray
    act_sites: np.ndarray
    act_sites_background: np.ndarray

    @property
    def kept_background(self) -> np.ndarray:
        """Share of the sites left with the tracks at background (NaN without sites)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_sites > 0, self.n_sites_background / np.maximum(self.n_sites, 1), np.nan)

    @property
    def kept_shuffled(self) -> np.ndarray:
        """Sites on shuffled sequence (tracks in place) per site on the real sequence."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_sites > 0, self.n_sites_shuffled / np.maximum(self.n_sites, 1), np.nan)


def track_response(model, codes: np.ndarray, tracks: np.ndarray, index: np.ndarray,
                   threshold: np.ndarray, background: np.ndarray, seed: int = 1,
                   policy: str = "uniform", batch_size: int = 256) -> TrackResponse:
    """Each filter's sites under two interventions on the input.

    1. The tracks set to ``background`` (:func:`track_background`), the sequence kept: how
       many sites and how much activation at them survive without the conservation.
    2. The sequence dinucleotide-shuffled (:func:`seqfm.negatives.shuffle_batch`, seeded),
       the tracks kept in place: a filter that still fires there reads the track, not a
       sequence motif.

    Parameters
    ----------
    model : SeqCNN
    codes : numpy.ndarray, uint8, ``(N, L)``; tracks : numpy.ndarray, ``(N, T, L)``
    index : numpy.ndarray, ``(M,)``
        The sequences (seqfm: up to ``track_max_seqs`` of the train + valid positives).
    threshold : numpy.ndarray, ``(F,)``
        Site thresholds (:attr:`FilterSites.threshold`).
    background : numpy.ndarray, ``(T,)``

    Returns
    -------
    TrackResponse
    """
    dev = next(model.parameters()).device
    alpha = model.alphabet
    index = np.asarray(index)
    real = track_source(codes, tracks, index, alpha, policy, dev)
    bg = track_source(codes, tracks, index, alpha, policy, dev, background)
    shuffled_codes = shuffle_batch(np.asarray(codes[index], dtype=np.uint8), seed, order=2)
    shuf = track_source(shuffled_codes, tracks[index], np.arange(len(index)), alpha, policy, dev)
    thr = torch.as_tensor(np.asarray(threshold, dtype=np.float32), device=dev)[None, :, None]
    n_f = model.conv1.out_channels
    acc = {k: torch.zeros(n_f, dtype=torch.float64, device=dev) for k in ("n", "n_bg", "n_sh", "a", "a_bg")}
    rows = np.arange(len(index))
    model.eval()
    with torch.inference_mode():
        for (x, _), (xb, _), (xs, _) in zip(real.iterate(rows, batch_size), bg.iterate(rows, batch_size),
                                            shuf.iterate(rows, batch_size)):
            maps = [model.first_layer(v) for v in (x, xb, xs)]
            for s in range(2):
                a, ab, ash = (m[s] for m in maps)
                if a is None:
                    continue
                site = a > thr
                acc["n"] += site.sum(dim=(0, 2), dtype=torch.float64)
                acc["a"] += (a * site).sum(dim=(0, 2), dtype=torch.float64)
                acc["a_bg"] += (ab * site).sum(dim=(0, 2), dtype=torch.float64)
                acc["n_bg"] += (ab > thr).sum(dim=(0, 2), dtype=torch.float64)
                acc["n_sh"] += (ash > thr).sum(dim=(0, 2), dtype=torch.float64)
    r = {k: v.cpu().numpy() for k, v in acc.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        act = np.where(r["n"] > 0, r["a"] / np.maximum(r["n"], 1), np.nan)
        act_bg = np.where(r["n"] > 0, r["a_bg"] / np.maximum(r["n"], 1), np.nan)
    return TrackResponse(r["n"], r["n_bg"], r["n_sh"], act, act_bg)


def track_only_filters(response: TrackResponse, pwms: Sequence[PWM | None], n_sites: np.ndarray,
                       min_sites: int, ratio: float = 0.5, min_ic: float = 2.0) -> np.ndarray:
    """Filters that respond to the tracks without a sequence motif, ``(F,)`` bool.

    A filter with at least ``min_sites`` sites is track-only when either

    - on dinucleotide-shuffled sequence with the tracks in place it still has at least
      ``ratio`` times its sites on the real sequence (it fires on conservation alone), or
    - its PWM is flat (no position with ``trim_bits``, or under ``min_ic`` bits in all) and at
      most ``1 - ratio`` of its sites survive the tracks set to background (its activation
      follows the track).
    """
    n_sites = np.asarray(n_sites)
    flat = np.array([p is None or p.ic < min_ic for p in pwms])
    kept_sh = np.nan_to_num(response.kept_shuffled, nan=0.0)
    kept_bg = np.nan_to_num(response.kept_background, nan=1.0)
    return (n_sites >= min_sites) & ((kept_sh >= ratio) | (flat & (kept_bg <= 1.0 - ratio)))
