"""Training figures as PNG (matplotlib, Agg backend): ROC, precision-recall, training curves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import metrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    from .io import atomic_path

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return path


def roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike,
        title: str = "ROC (test)") -> Path:
    """ROC curves of several scorers on one axis.

    Parameters
    ----------
    curves : mapping name -> (labels ``(N,)``, scores ``(N,)``)
    path : output PNG
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, (y, s) in curves.items():
        if len(y) and 0 < np.sum(y) < len(y):
            fpr, tpr, _ = metrics.roc_curve(y, s)
            ax.plot(fpr, tpr, label=f"{name} (AUROC {metrics.auroc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def pr(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike,
       title: str = "Precision-recall (test)") -> Path:
    """Precision-recall curves (step-wise, as average precision counts them); see :func:`roc`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    base = None
    for name, (y, s) in curves.items():
        if len(y) and np.sum(y) > 0:
            p, r, _ = metrics.precision_recall_curve(y, s)
            ax.step(r, p, where="pre", label=f"{name} (AUPRC {metrics.auprc(y, s):.3f})")
            base = float(np.mean(y))
    if base is not None:
        ax.axhline(base, color="grey", lw=0.8, ls="--", label=f"chance ({base:.2f})")
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def training_curves(history: Sequence[Mapping], path: str | os.PathLike,
                    best_epoch: int | None = None) -> Path:
    """Loss (train, valid), validation AUROC/AUPRC and learning rate per epoch.

    Parameters
    ----------
    history : sequence of dicts with ``epoch``, ``train_loss``, ``valid_loss``, ``valid_auroc``,
        ``valid_auprc``, ``lr`` (the rows of ``epochs.csv``)
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    ep = [h["epoch"] for h in history]

    def col(key):
        return [np.nan if h.get(key) is None else h[key] for h in history]

    axes[0].plot(ep, col("train_loss"), marker="o", ms=3, label="train")
    axes[0].plot(ep, col("valid_loss"), marker="o", ms=3, label="valid")
    axes[0].set(xlabel="epoch", ylabel="loss (weighted BCE)", title="loss")
    axes[1].plot(ep, col("valid_auroc"), marker="o", ms=3, label="valid AUROC")
    axes[1].plot(ep, col("valid_auprc"), marker="o", ms=3, label="valid AUPRC")
    axes[1].set(xlabel="epoch", title="validation", ylim=(min(0.5, np.nanmin(col("valid_auprc") + [1])), 1.0))
    axes[2].plot(ep, col("lr"), marker="o", ms=3)
    axes[2].set(xlabel="epoch", ylabel="learning rate (end of epoch)", title="schedule")
    for ax in axes[:2]:
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls="--", label=f"best ({best_epoch})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
