"""What the model loses without some first-layer filters: logits with sets of channels zeroed
(or reading another input), ablation effects, and the enrichment of the filters' calls in the
positives.

A mask matrix ``(K, F)`` holds one set per row: 1 keeps a filter's output channel, 0 zeroes it on
both strands. Several masks go through one forward pass, in batches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.stats import fisher_exact
from tqdm import tqdm

from .metrics import auroc


def channel_maxima(model, fwd, rev):
    """Each first-layer channel's maximum over positions and strands, ``(B, F)``, when that is all
    the logit sees of the first layer (max pooling, no layer between the first one and the pool);
    None otherwise."""
    if model.project is not None or model.arch["global_pool"] != "max":
        return None
    return fwd.amax(-1) if rev is None else torch.maximum(fwd, rev).amax(-1)


def masked_logits(model, fwd, rev, masks, alt=None, maxima=None):
    """Logits ``(K, B)`` with first-layer channels multiplied by ``masks`` ``(K, F)``.

    The masked first layer goes through :meth:`SeqCNN.streams`, strand maximum,
    :meth:`SeqCNN.pool` and the head (eval mode): the mask applies after the first layer's
    activation, on both strands. With ``alt = (fwd_alt, rev_alt)`` a masked channel takes
    its value from ``alt`` instead of 0 (``fwd * m + fwd_alt * (1 - m)``; an intervention on
    the inputs of some filters only).

    ``maxima`` (``(B, F)``, and ``(B, F)`` of ``alt`` with ``alt``; :func:`channel_maxima`)
    takes a shortcut for masks of 0s and 1s: the maximum of a channel kept, zeroed or
    replaced is the channel's maximum, 0 or the replacement's maximum, so the pooled features
    are masked instead of the feature maps. The numbers are the same, bit for bit.
    """
    k, b = masks.shape[0], fwd.shape[0]
    if maxima is not None and bool(((masks == 0) | (masks == 1)).all()):
        mk = masks[:, None, :]
        pooled = maxima[0][None] * mk
        if alt is not None:
            pooled = pooled + maxima[1][None] * (1 - mk)
        return model.head(pooled.reshape(k * b, -1)).squeeze(-1).reshape(k, b)
    mk = masks[:, None, :, None]
    f = _masked(fwd, mk, None if alt is None else alt[0])
    r = None if rev is None else _masked(rev, mk, None if alt is None else alt[1])
    h_f, h_r = model.streams(f, r)
    h = h_f if h_r is None else torch.maximum(h_f, h_r)
    return model.head(model.pool(h)).squeeze(-1).reshape(k, b)


def _masked(acts, mk, alt=None):
    """First-layer activations ``(B, F, L1)`` under each of ``K`` masks ``mk`` ``(K, 1, F, 1)``,
    flattened to ``(K * B, F, L1)``; a masked channel takes ``alt``'s value when given."""
    out = acts[None] * mk
    if alt is not None:
        out = out + alt[None] * (1 - mk)
    return out.reshape(-1, *acts.shape[1:])


def ablation_logits(model, source, index: np.ndarray, masks: np.ndarray, batch_size: int = 256,
                    max_elements: int = 2 ** 26, progress: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Logits of the model with sets of first-layer filters zeroed.

    Parameters
    ----------
    model : SeqCNN
    source : BatchSource
    index : numpy.ndarray, shape ``(M,)``
    masks : numpy.ndarray, shape ``(K, F)``
        1 keeps a filter's output channel, 0 zeroes it (on both strands).
    max_elements : int
        Largest masked feature-map tensor (elements) built at once; masks are processed
        in chunks that fit.

    Returns
    -------
    base : numpy.ndarray, shape ``(M,)``
        Logits of the intact model.
    ablated : numpy.ndarray, shape ``(K, M)``
    """
    model.eval()
    dev = source.device
    mt = torch.as_tensor(np.asarray(masks, dtype=np.float32), device=dev)
    base, abl = [], []
    bar = tqdm(total=len(index), desc="filter ablation", unit="seq", leave=False, disable=not progress)
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            per_mask = fwd.numel() * (1 if rev is None else 2) * 2
            chunk = max(1, int(max_elements // max(per_mask, 1)))
            cmax = channel_maxima(model, fwd, rev)
            # the intact model's logits from the same first-layer pass (model(x) computes the same)
            base.append((model(x) if cmax is None else model.head(cmax).squeeze(-1)).float())
            maxima = None if cmax is None else (cmax,)
            abl.append(torch.cat([masked_logits(model, fwd, rev, mt[k: k + chunk], maxima=maxima).float()
                                  for k in range(0, len(mt), chunk)]))
            bar.update(len(x))
    bar.close()
    if not base:
        return np.zeros(0), np.zeros((len(masks), 0))
    return torch.cat(base).cpu().numpy(), torch.cat(abl, dim=1).cpu().numpy()


INFLUENCE_METRICS = ("separation", "auroc", "positives")


def ablation_effects(base: np.ndarray, ablated: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per mask: how much the model loses when the masked filters are zeroed.

    Returns
    -------
    dict of numpy.ndarray ``(K,)``:
        ``separation``: mean logit drop on positives minus mean logit drop on negatives
        (how much the filters separate the classes, in logit units);
        ``positives``: mean logit drop on positives;
        ``auroc``: drop of AUROC (NaN when one class is missing).
    """
    y = np.asarray(labels).astype(bool)
    drop = base[None, :] - ablated
    pos = drop[:, y].mean(axis=1) if y.any() else np.full(len(drop), np.nan)
    neg = drop[:, ~y].mean(axis=1) if (~y).any() else np.zeros(len(drop))
    if y.any() and (~y).any():
        a0 = auroc(y.astype(int), base)
        auc = np.array([a0 - auroc(y.astype(int), a) for a in ablated])
    else:
        auc = np.full(len(drop), np.nan)
    return {"separation": pos - neg, "positives": pos, "auroc": auc}


def cluster_calls(seq_max: np.ndarray, threshold: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Whether each sequence has a call of each cluster, ``(M, K)`` bool.

    A sequence has a call of a cluster when any member filter has a site in it: its largest
    activation (either strand) passes the filter's site threshold (Basset's rule, the
    threshold that made the PWM's sites; ``seq_max`` ``(M, F)``, ``threshold`` ``(F,)``).
    """
    hit = np.asarray(seq_max) > np.asarray(threshold)[None, :]
    out = np.zeros((hit.shape[0], len(groups)), dtype=bool)
    for k, g in enumerate(groups):
        if len(g):
            out[:, k] = hit[:, list(g)].any(axis=1)
    return out


def enrichment(calls: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per cluster, calls in positive against negative sequences (HOMER / MEME-ChIP style).

    Parameters
    ----------
    calls : numpy.ndarray, bool, shape ``(M, K)``
    labels : numpy.ndarray, shape ``(M,)``, 1 for a positive

    Returns
    -------
    dict of arrays ``(K,)``: ``pos_frac`` and ``neg_frac`` (share of positive / negative
    sequences with a call), ``odds_ratio`` (Haldane-Anscombe: 0.5 added to each cell of the
    2x2 table, finite when a cell is 0) and ``fisher_p`` (one-sided Fisher exact test,
    positives enriched: ``scipy.stats.fisher_exact(alternative="greater")``); NaN where a
    class is missing.
    """
    calls = np.asarray(calls, dtype=bool)
    y = np.asarray(labels).astype(bool)
    k = calls.shape[1]
    out = {key: np.full(k, np.nan) for key in ("pos_frac", "neg_frac", "odds_ratio", "fisher_p")}
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return out
    a = calls[y].sum(axis=0)
    c = calls[~y].sum(axis=0)
    b, d = n_pos - a, n_neg - c
    out["pos_frac"] = a / n_pos
    out["neg_frac"] = c / n_neg
    out["odds_ratio"] = (a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))
    out["fisher_p"] = np.array([fisher_exact([[int(a[i]), int(b[i])], [int(c[i]), int(d[i])]],
                                             alternative="greater")[1] for i in range(k)])
    return out


def heldout_pass(model, source, index: np.ndarray, masks: np.ndarray, background_source=None,
              batch_size: int = 256, max_elements: int = 2 ** 26
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One pass over (test) sequences: logits, per-sequence filter maxima and an intervention.

    Returns
    -------
    base : numpy.ndarray, ``(M,)``
        The intact model's logits.
    mixed : numpy.ndarray, ``(K, M)`` or None
        Logits when the filters masked out (0 in row k of ``masks`` ``(K, F)``) read the
        sequence with the tracks at background (``background_source``: the same rows, in
        the same order, tracks replaced) while every other filter reads the real input.
        None without ``background_source``.
    seq_max : numpy.ndarray, float32, ``(M, F)``
        Each sequence's largest activation of each filter (either strand).
    """
    model.eval()
    dev = source.device
    mt = torch.as_tensor(np.asarray(masks, dtype=np.float32), device=dev)
    base, mixed, smax = [], [], []
    rows = np.arange(len(index))
    bg_iter = background_source.iterate(rows, batch_size) if background_source is not None else None
    with torch.inference_mode():
        for x, _ in source.iterate(index, batch_size):
            fwd, rev = model.first_layer(x)
            cmax = channel_maxima(model, fwd, rev)
            base.append((model(x) if cmax is None else model.head(cmax).squeeze(-1)).float())
            acts = fwd if rev is None else torch.maximum(fwd, rev)
            smax.append((acts.amax(dim=2) if cmax is None else cmax).float().cpu())
            if bg_iter is not None:
                xb, _ = next(bg_iter)
                alt = model.first_layer(xb)
                maxima = None if cmax is None else (cmax, channel_maxima(model, *alt))
                per_mask = fwd.numel() * (1 if rev is None else 2) * 3
                chunk = max(1, int(max_elements // max(per_mask, 1)))
                mixed.append(torch.cat([masked_logits(model, fwd, rev, mt[k: k + chunk], alt, maxima).float()
                                        for k in range(0, len(mt), chunk)], dim=0))
    if not base:
        return np.zeros(0), None, np.zeros((0, model.conv1.out_channels), dtype=np.float32)
    return (torch.cat(base).cpu().numpy(), torch.cat(mixed, dim=1).cpu().numpy() if mixed else None,
            torch.cat(smax).numpy())
