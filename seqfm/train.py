"""Training a :class:`~seqfm.model.SeqCNN` on an encoded dataset, on GPU or CPU.

The loop reads its batches from a :class:`seqfm.batching.BatchSource` (one byte per base
moved; one-hot made on the device, which :mod:`seqfm.device` chooses). Nothing in the step
loop waits for the device: the loss is accumulated there and read once per epoch.

Determinism and resuming: the model is initialised from ``seed``; each epoch's shuffle
and dropout draw from a generator seeded by ``(seed, epoch)``. After every epoch the full
state (model, optimizer, schedule, best weights, early-stopping counters, history) goes to
``train/last.pt`` (+ ``train/last.json``, the same state in readable form), each written
atomically. A run that is interrupted (SIGTERM, Ctrl-C, a killed job) and started again
with the same options resumes from the last completed epoch and, on CPU, ends with exactly
the weights an uninterrupted run gives.

Length: the verb's own data path in named steps, read top to bottom (the split, the epoch loop
with its checkpoints, the evaluation, the k-mer baseline and the sequence-only control, the
files); the device and the batches live in :mod:`seqfm.device` and :mod:`seqfm.batching`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.nn import functional as F

from . import __version__, metrics
from . import model as model_mod
from .batching import BatchSource, predict_source
from .device import autocast, pick_device, set_threads
from .errors import InputError
from .io import atomic_write, save_json, write_csv
from .negatives import match_summary

log = logging.getLogger("seqfm")

CHECKPOINT_VERSION = 1


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal (or a test hook); the last epoch checkpoint is on disk."""


# ---------------------------------------------------------------------- configuration
@dataclass
class TrainConfig:
    """Training options (the ``train:`` section of ``config.yaml``; ``seqfm train --help``).

    Attributes
    ----------
    batch_size : int
    max_epochs : int
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW decoupled weight decay.
    warmup_epochs : float
        Linear warm-up from ``lr / 10``, then cosine decay to ``lr / 100`` at ``max_epochs``.
    patience : int
        Stop after this many epochs without a better validation AUPRC.
    min_delta : float
        Smallest AUPRC gain that counts as better.
    pos_weight : float or None
        Weight of positives in the loss; None = ``n_negative / n_positive`` of the training split.
    grad_clip : float
        Clip the gradient norm to this value (0 = off).
    seed : int
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cuda``, ``cuda:N``, ``mps`` or ``cpu``.
    threads : int
        CPU threads for torch (0 = all cores this process may use).
    amp : bool
        Mixed precision on CUDA (bfloat16 where supported, else float16 with loss scaling).
    valid_fraction : float
        Share of the training split held out for validation when the dataset has no
        ``valid`` rows.
    baseline_k : int or None
        k of the k-mer baseline (None: 5 for DNA, 2 for protein; 0 = no baseline).
    resident_max_mb : float
        Keep the whole dataset on the device when it is no larger than this (MiB);
        larger ones stream from a background thread.
    sequence_control : bool
        With conservation tracks, also train the same architecture without them on the same
        split (``metrics.json``'s ``sequence_only``): what the tracks add, measured.
    """

    batch_size: int = 128
    max_epochs: int = 30
    lr: float = 5e-3
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    patience: int = 5
    min_delta: float = 0.0
    pos_weight: float | None = None
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    amp: bool = True
    valid_fraction: float = 0.1
    baseline_k: int | None = None
    resident_max_mb: float = 2048.0
    sequence_control: bool = True

    #: options that do not change the numbers of a CPU run (left out of the resume fingerprint)
    RUNTIME_ONLY = ("device", "threads", "resident_max_mb", "baseline_k", "sequence_control")

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise InputError("batch_size and max_epochs must be >= 1")
        if self.lr <= 0 or self.weight_decay < 0 or self.patience < 1:
            raise InputError("lr must be > 0, weight_decay >= 0 and patience >= 1")
        if not 0.0 < self.valid_fraction < 1.0:
            raise InputError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------- schedule
def lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak LR at each step: linear warm-up from 0.1, cosine to 0.01."""
    def f(step: int) -> float:
        if step < warmup_steps:
            return 0.1 + 0.9 * step / max(warmup_steps, 1)
        t = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t))
    return f


# ---------------------------------------------------------------------- one epoch
def train_epoch(net: torch.nn.Module, source: BatchSource, index: np.ndarray, batch_size: int,
                optimizer: torch.optim.Optimizer, scheduler=None, pos_weight: torch.Tensor | None = None,
                shuffle_seed: int | None = None, amp: bool = False, scaler=None,
                grad_clip: float = 0.0, on_step: Callable[[int], Any] | None = None) -> torch.Tensor:
    """One pass over the rows ``index`` with weighted BCE; nothing in it waits for the device.

    Parameters
    ----------
    net : SeqCNN (or any module mapping ``(B, C, L)`` to ``(B,)`` logits)
    source : BatchSource
    index : numpy.ndarray, int, shape ``(M,)``
    batch_size : int
    optimizer, scheduler : the scheduler steps once per batch (may be None)
    pos_weight : torch.Tensor, scalar, on the device
    shuffle_seed : int, optional
    amp : bool
        Autocast on CUDA; ``scaler`` (a GradScaler) for float16.
    grad_clip : float
        Gradient-norm clip (0 = off).
    on_step : callable, optional
        Called with 1 after every step (a progress bar's ``update``).

    Returns
    -------
    torch.Tensor, scalar on the device: the sum over sequences of the loss (read it once).
    """
    net.train()
    device = source.device
    loss_sum = torch.zeros((), device=device)
    params = [p for p in net.parameters() if p.requires_grad]
    for x, y in source.iterate(index, batch_size, shuffle_seed=shuffle_seed):
        with autocast(device, amp):
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=pos_weight)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * y.shape[0]
        if on_step is not None:
            on_step(1)
    return loss_sum


# ---------------------------------------------------------------------- checkpoints
def _atomic_torch_save(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_write(path, "wb", fsync=True) as fh:  # a checkpoint survives a power cut
        fh.write(buf.getvalue())


EPOCH_COLUMNS = ["epoch", "train_loss", "valid_loss", "valid_auroc", "valid_auprc", "lr",
                 "best", "seconds", "seqs_per_s"]


def fingerprint(arch: dict, config: TrainConfig, labels: np.ndarray, splits: dict) -> str:
    """Hash of everything that decides a CPU run's numbers; a checkpoint resumes only if it matches."""
    cfg = {k: v for k, v in config.to_dict().items() if k not in TrainConfig.RUNTIME_ONLY}
    h = hashlib.sha256(json.dumps({"arch": arch, "config": cfg, "splits": splits},
                                  sort_keys=True).encode())
    h.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


def _load_checkpoint(path: Path, fp: str, model, optimizer, scheduler, scaler):
    """Restore a run from ``last.pt``; returns its state dict, or None to start afresh."""
    try:
        ck = model_mod.load_state_dict_file(path)
        state = json.loads(ck["state"])
    except (InputError, KeyError, TypeError, ValueError) as err:
        log.warning("%s: cannot resume from it (%s); starting afresh", path, err)
        return None
    if state.get("fingerprint") != fp or state.get("version") != CHECKPOINT_VERSION:
        log.warning("%s: written by a run with other options or data; starting afresh", path)
        return None
    try:
        model_mod.check_state_dict(model, ck["model"], path)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        if scaler is not None and "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        state["best_model"] = ck["best_model"]
    except (InputError, KeyError, ValueError, RuntimeError) as err:
        log.warning("%s: cannot resume from it (%s); starting afresh", path, err)
        return None
    return state


# ---------------------------------------------------------------------- the run
@dataclass
class TrainResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : SeqCNN with the best weights, eval mode, on ``device``
    history : list of per-epoch dicts (the rows of ``epochs.csv``)
    best_epoch : int
    epochs : int  (epochs run)
    stopped_early : bool
    device : torch.device
    resumed_from : int  (last completed epoch found on disk; 0 = fresh start)
    """

    model: Any
    history: list
    best_epoch: int
    epochs: int
    stopped_early: bool
    device: torch.device
    resumed_from: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def split_indices(dataset, config: TrainConfig) -> dict[str, np.ndarray]:
    """Row indices of the train, valid and test splits.

    When the dataset has no ``valid`` rows, a seeded ``valid_fraction`` of the training rows
    (stratified by label) becomes the validation split.
    """
    idx = {s: dataset.split_index(s) for s in ("train", "valid", "test")}
    labels = np.asarray(dataset.labels)
    if len(idx["train"]) == 0:
        raise InputError("the dataset has no rows with split 'train' (meta.tsv)")
    if len(idx["valid"]) == 0:
        rng = np.random.default_rng([config.seed, 17])
        hold = []
        for cls in (0, 1):
            rows = idx["train"][labels[idx["train"]] == cls]
            n_hold = int(round(len(rows) * config.valid_fraction))
            hold.append(rng.choice(rows, n_hold, replace=False) if n_hold else rows[:0])
        hold = np.sort(np.concatenate(hold))
        log.warning("the dataset has no 'valid' rows; holding out %d training rows (%.0f%%) "
                    "for validation", len(hold), 100 * config.valid_fraction)
        idx["train"] = np.setdiff1d(idx["train"], hold)
        idx["valid"] = hold
    for split in ("train", "valid"):
        y = labels[idx[split]]
        if y.min(initial=1) == y.max(initial=0):
            raise InputError(f"the {split} split holds only {'positives' if y.any() else 'negatives'}"
                             f" ({len(y)} rows); it needs both classes (meta.tsv 'split' column)")
    return idx


def fit(dataset, out_dir: str | os.PathLike, config: TrainConfig | None = None,
        arch: dict | None = None, progress: bool | None = None, resume: bool = True,
        stop_after: int | None = None) -> TrainResult:
    """Train a model on ``dataset`` (a :class:`seqfm.dataset.Dataset`), checkpointing under ``out_dir``.

    Parameters
    ----------
    dataset : seqfm.dataset.Dataset
    out_dir : path
        Folder for ``last.pt``, ``last.json`` and ``epochs.csv`` (``results/{sample}/train``).
    config : TrainConfig
    arch : dict
        Architecture overrides (see :data:`seqfm.model.DEFAULTS`); ``alphabet`` and
        ``n_tracks`` come from the dataset.
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).
    resume : bool
        Continue from ``out_dir/last.pt`` when it belongs to a run with the same options and data.
    stop_after : int, optional
        Raise :class:`TrainingInterrupted` right after epoch ``stop_after`` is checkpointed
        (simulates a killed job; used by the tests).

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    threads_before = torch.get_num_threads()
    n_threads = set_threads(config.threads)
    device = pick_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    training = _build_training(dataset, config, arch, device, out_dir)
    state, resumed_from = _resume_or_start(training, resume)
    idx = training.idx
    log.info("training on %s (%d threads): %d train / %d valid / %d test sequences of length %d, "
             "%d channels, pos_weight %.3g, %s data", device, n_threads, len(idx["train"]),
             len(idx["valid"]), len(idx["test"]), dataset.codes.shape[1], training.net.n_channels,
             training.pos_weight, "device-resident" if training.source.resident else "streamed")
    try:
        _train_epochs(training, state, progress, stop_after)
    finally:
        torch.set_num_threads(threads_before)

    training.net.load_state_dict(state["best_model"])
    training.net.eval()
    return TrainResult(model=training.net, history=state["history"], best_epoch=state["best_epoch"],
                       epochs=state["epoch"],
                       stopped_early=state["epoch"] < config.max_epochs, device=device,
                       resumed_from=resumed_from, seconds=time.perf_counter() - t_start,
                       extra={"pos_weight": training.pos_weight, "splits": idx,
                              "source": training.source, "policy": training.policy,
                              "amp": training.use_amp, "threads": n_threads, "arch": training.arch})


@dataclass
class _Training:
    """The parts of one :func:`fit` run that its steps share (built by :func:`_build_training`)."""

    config: TrainConfig
    arch: dict
    policy: str
    idx: dict  # split name -> row indices
    labels: np.ndarray  # (N,) 0/1
    pos_weight: float
    pos_weight_on_device: torch.Tensor  # scalar
    fingerprint: str
    net: Any  # SeqCNN on the device
    optimizer: torch.optim.Optimizer
    scheduler: Any  # LambdaLR, stepped once per batch
    scaler: Any  # GradScaler for float16 autocast, else None
    use_amp: bool
    source: BatchSource
    steps_per_epoch: int
    out_dir: Path

    @property
    def last_pt(self) -> Path:
        return self.out_dir / "last.pt"


def _build_training(dataset, config: TrainConfig, arch: dict | None, device: torch.device,
                    out_dir: Path) -> _Training:
    """Check the architecture against the data, split it, seed and build the model, its
    optimizer and schedule, and the batch source."""
    policy = dataset.info.get("policy", "uniform")
    arch = _dataset_architecture(dataset, arch)
    idx = split_indices(dataset, config)
    labels = np.asarray(dataset.labels)
    pos_weight = _positive_weight(labels[idx["train"]], config)
    fp = fingerprint(arch, config, labels, {k: v.tolist() for k, v in idx.items()})
    steps_per_epoch = math.ceil(len(idx["train"]) / config.batch_size)
    net, optimizer, scheduler, scaler, use_amp = _build_model(arch, config, steps_per_epoch, device)
    pw = torch.tensor(float(pos_weight), device=device)
    source = BatchSource(dataset.codes, dataset.tracks, labels, device, dataset.alphabet, policy,
                         resident_max_mb=config.resident_max_mb)
    return _Training(config=config, arch=arch, policy=policy, idx=idx, labels=labels,
                     pos_weight=pos_weight, pos_weight_on_device=pw, fingerprint=fp, net=net,
                     optimizer=optimizer, scheduler=scheduler, scaler=scaler, use_amp=use_amp,
                     source=source, steps_per_epoch=steps_per_epoch, out_dir=out_dir)


def _dataset_architecture(dataset, arch: dict | None) -> dict:
    """The full architecture: ``arch`` with the dataset's alphabet and number of tracks."""
    arch = model_mod.architecture(**{**(arch or {}), "alphabet": dataset.alphabet.name,
                                     "n_tracks": int(dataset.tracks.shape[1])})
    if arch["filter_width"] > dataset.codes.shape[1]:
        raise InputError(f"filter width {arch['filter_width']} exceeds the sequence length "
                         f"{dataset.codes.shape[1]} of the dataset")
    return arch


def _positive_weight(y_train: np.ndarray, config: TrainConfig) -> float:
    """``config.pos_weight``, else ``n_negative / n_positive`` of the training labels."""
    n_pos = int(y_train.sum())
    return config.pos_weight if config.pos_weight is not None else (len(y_train) - n_pos) / n_pos


def _build_model(arch: dict, config: TrainConfig, steps_per_epoch: int,
                 device: torch.device) -> tuple[torch.nn.Module, torch.optim.Optimizer, Any, Any, bool]:
    """The seeded model, AdamW, the warm-up + cosine schedule and (float16 AMP) a GradScaler.

    Returns ``(net, optimizer, scheduler, scaler or None, use_amp)``.
    """
    torch.manual_seed(config.seed)  # the initial weights
    net = model_mod.SeqCNN(arch).to(device)
    total_steps = steps_per_epoch * config.max_epochs
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(total_steps, int(round(config.warmup_epochs * steps_per_epoch))))
    use_amp = bool(config.amp and device.type == "cuda")
    scaler = (torch.amp.GradScaler("cuda") if use_amp and not torch.cuda.is_bf16_supported()
              else None)
    return net, optimizer, scheduler, scaler, use_amp


def _resume_or_start(training: _Training, resume: bool) -> tuple[dict, int]:
    """The run's state from ``last.pt`` when it may resume from it, else a fresh one; and the
    number of epochs found done (0 for a fresh start)."""
    state = None
    if resume and training.last_pt.exists():
        state = _load_checkpoint(training.last_pt, training.fingerprint, training.net,
                                 training.optimizer, training.scheduler, training.scaler)
    if state is None:
        state = {"epoch": 0, "best_auprc": None, "best_epoch": 0, "bad_epochs": 0,
                 "history": [], "finished": False, "best_model": model_mod.clone_state(training.net)}
        return state, 0
    log.info("resuming from %s: %d epoch(s) done, best valid AUPRC %.4f at epoch %d",
             training.last_pt, state["epoch"], state["best_auprc"] or float("nan"), state["best_epoch"])
    return state, state["epoch"]


def _save_checkpoint(training: _Training, state: dict) -> None:
    """``last.pt`` (everything a resume needs), ``last.json`` (the same state in readable form)
    and ``epochs.csv``, each written atomically."""
    public = {k: v for k, v in state.items() if k != "best_model"}
    public.update(fingerprint=training.fingerprint, version=CHECKPOINT_VERSION, seqfm_version=__version__)
    ck = {"model": model_mod.clone_state(training.net), "optimizer": training.optimizer.state_dict(),
          "scheduler": training.scheduler.state_dict(), "best_model": state["best_model"],
          "state": json.dumps(public)}
    if training.scaler is not None:
        ck["scaler"] = training.scaler.state_dict()
    _atomic_torch_save(ck, training.last_pt)
    save_json(public, training.out_dir / "last.json")
    write_csv(state["history"], training.out_dir / "epochs.csv", EPOCH_COLUMNS)


def _train_epochs(training: _Training, state: dict, progress: bool | None, stop_after: int | None) -> None:
    """Epochs until early stopping or ``max_epochs``, each checkpointed; SIGTERM interrupts
    (see :class:`TrainingInterrupted`)."""
    from tqdm.auto import tqdm

    config = training.config
    previous = _install_sigterm()
    show = sys.stderr.isatty() if progress is None else progress
    steps = training.steps_per_epoch
    bar = tqdm(total=steps * config.max_epochs, initial=state["epoch"] * steps, unit="batch",
               disable=not show, dynamic_ncols=True, desc="train")
    try:
        while not state["finished"] and state["epoch"] < config.max_epochs:
            epoch = state["epoch"] + 1
            bar.set_description(f"epoch {epoch}/{config.max_epochs}")
            scores = _epoch(training, state, epoch, bar.update)
            _save_checkpoint(training, state)
            bar.set_postfix(loss=f"{scores.train_loss:.4f}", auprc=f"{scores.valid_auprc:.4f}")
            row = state["history"][-1]
            log.info("epoch %d: train loss %.4f, valid loss %.4f, AUROC %.4f, AUPRC %.4f%s "
                     "(%.1fs, %.0f seq/s)", epoch, scores.train_loss, scores.valid_loss,
                     scores.valid_auroc, scores.valid_auprc, " *" if scores.improved else "",
                     row["seconds"], row["seqs_per_s"])
            if stop_after is not None and epoch >= stop_after and not state["finished"]:
                raise TrainingInterrupted(f"stopped after epoch {epoch} (test hook)")
    except TrainingInterrupted:
        log.warning("training interrupted; the next run with the same options resumes after "
                    "epoch %d from %s", state["epoch"], training.last_pt)
        raise
    finally:
        bar.close()
        _restore_sigterm(previous)


@dataclass
class _EpochScores:
    """One epoch's numbers, unrounded (``epochs.csv`` holds them rounded)."""

    train_loss: float
    valid_loss: float
    valid_auroc: float
    valid_auprc: float
    improved: bool


def _epoch(training: _Training, state: dict, epoch: int, on_step: Callable[[int], Any]) -> _EpochScores:
    """Train one epoch, score the validation split and update ``state``: the best weights, the
    early-stopping count, the history row, whether training is finished."""
    t0 = time.perf_counter()
    train_loss = _train_one_epoch(training, epoch, on_step)
    train_seconds = time.perf_counter() - t0
    v_loss, v_auroc, v_auprc = _validate(training)
    improved = _keep_if_best(training, state, epoch, v_auprc)
    state["history"].append({
        "epoch": epoch, "train_loss": round(train_loss, 6), "valid_loss": round(v_loss, 6),
        "valid_auroc": round(v_auroc, 6), "valid_auprc": round(v_auprc, 6),
        "lr": float(f"{training.scheduler.get_last_lr()[0]:.6g}"), "best": int(improved),
        "seconds": round(time.perf_counter() - t0, 3),
        "seqs_per_s": round(len(training.idx["train"]) / max(train_seconds, 1e-9), 1)})
    state["epoch"] = epoch
    _check_finished(state, training.config, epoch)
    return _EpochScores(train_loss, v_loss, v_auroc, v_auprc, improved)


def _train_one_epoch(training: _Training, epoch: int, on_step: Callable[[int], Any]) -> float:
    """One pass over the training split; its mean loss. Shuffle and dropout are seeded by
    ``(seed, epoch)``, so a resumed run draws what an uninterrupted one would."""
    config = training.config
    epoch_seed = config.seed * 1_000_003 + epoch
    torch.manual_seed(epoch_seed)  # dropout draws
    loss_sum = train_epoch(training.net, training.source, training.idx["train"], config.batch_size,
                           training.optimizer, training.scheduler, training.pos_weight_on_device,
                           shuffle_seed=epoch_seed, amp=training.use_amp, scaler=training.scaler,
                           grad_clip=config.grad_clip, on_step=on_step)
    return float(loss_sum) / len(training.idx["train"])  # the epoch's one sync


def _validate(training: _Training) -> tuple[float, float, float]:
    """Weighted BCE loss, AUROC and AUPRC on the validation split."""
    v_logits = predict_source(training.net, training.source, training.idx["valid"],
                              4 * training.config.batch_size, training.use_amp)
    y_valid = training.labels[training.idx["valid"]]
    v_loss = float(F.binary_cross_entropy_with_logits(
        torch.from_numpy(v_logits), torch.from_numpy(y_valid.astype(np.float32)),
        pos_weight=torch.tensor(float(training.pos_weight))))
    return v_loss, metrics.auroc(y_valid, v_logits), metrics.auprc(y_valid, v_logits)


def _keep_if_best(training: _Training, state: dict, epoch: int, v_auprc: float) -> bool:
    """Keep the weights when the validation AUPRC beats the best by more than ``min_delta``,
    else count one more epoch without improvement; whether it improved."""
    improved = state["best_auprc"] is None or v_auprc > state["best_auprc"] + training.config.min_delta
    if improved:
        state.update(best_auprc=v_auprc, best_epoch=epoch, bad_epochs=0,
                     best_model=model_mod.clone_state(training.net))
    else:
        state["bad_epochs"] += 1
    return improved


def _check_finished(state: dict, config: TrainConfig, epoch: int) -> None:
    """Finished after ``patience`` epochs without improvement (early stop) or at ``max_epochs``."""
    if state["bad_epochs"] >= config.patience and epoch < config.max_epochs:
        state["finished"] = True
        log.info("early stop after epoch %d: no better valid AUPRC for %d epochs",
                 epoch, config.patience)
    if epoch >= config.max_epochs:
        state["finished"] = True


def _install_sigterm():
    """Turn SIGTERM into :class:`TrainingInterrupted` (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise TrainingInterrupted(f"received signal {signum}")

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------- the verb
def run(dataset_dir: str | os.PathLike, out: str | os.PathLike, config: TrainConfig | None = None,
        arch: dict | None = None, progress: bool | None = None, resume: bool = True,
        plots: bool = True, stop_after: int | None = None) -> dict:
    """``seqfm train``: train, evaluate against the k-mer baseline and write every output.

    Writes under ``out``: ``model.pt``, ``model.json``, ``metrics.json``; under ``out/train``:
    ``epochs.csv``, ``last.pt``, ``last.json``, ``roc.png``, ``pr.png``, ``curves.png``.

    Returns
    -------
    dict, the content of ``metrics.json``.
    """
    from . import dataset as dataset_mod

    config = config or TrainConfig()
    dataset_dir, out = Path(dataset_dir), Path(out)
    ds = _read_dataset(dataset_mod, dataset_dir)
    train_dir = out / "train"
    result = fit(ds, train_dir, config, arch, progress=progress, resume=resume, stop_after=stop_after)
    net, idx = result.model, result.extra["splits"]
    labels = np.asarray(ds.labels)
    scores, report = _evaluate(result, labels, config)
    base_scores, base_info = _kmer_baseline(ds, idx, labels, config)
    model_mod.save(net.cpu(), out, _model_info(ds, dataset_dir, config, result))
    net.to(result.device)
    control, control_scores = None, None
    if config.sequence_control and ds.tracks.ndim == 3 and ds.tracks.shape[1]:
        control, control_scores = sequence_only_control(ds, train_dir, config, arch, idx, progress,
                                                        resume)
    summary = _metrics_summary(ds, labels, result, report, base_info, control)
    if plots:
        curves = _test_curves(labels[idx["test"]], scores["test"], base_scores, base_info, control_scores)
        _write_plots(train_dir, curves, result)
    save_json(summary, out / "metrics.json")
    log.info("test AUROC %s, AUPRC %s (k-mer baseline AUROC %s); wrote %s",
             _fmt(report["test"]["auroc"]), _fmt(report["test"]["auprc"]),
             _fmt(base_info["auroc"]) if base_info else "-", out / "metrics.json")
    return summary


def _evaluate(result: TrainResult, labels: np.ndarray, config: TrainConfig) -> tuple[dict, dict]:
    """The trained model's scores on the valid and test splits, and their metrics."""
    idx = result.extra["splits"]
    scores = {s: predict_source(result.model, result.extra["source"], idx[s], 4 * config.batch_size,
                                result.extra["amp"])
              for s in ("valid", "test")}
    report = {s: metrics.summary(labels[idx[s]], scores[s]) for s in ("valid", "test")}
    if not len(idx["test"]):
        log.warning("the dataset has no 'test' rows; test metrics are empty")
    return scores, report


def _kmer_baseline(ds, idx: dict, labels: np.ndarray,
                   config: TrainConfig) -> tuple[np.ndarray | None, dict | None]:
    """The k-mer baseline fitted on the same split: its test scores and ``metrics.json`` entry;
    ``(None, None)`` when ``baseline_k`` is 0."""
    from . import baseline as baseline_mod

    k = config.baseline_k
    if not (k is None or k > 0):
        return None, None
    t0 = time.perf_counter()
    codes = ds.codes
    base = baseline_mod.fit_baseline(codes[idx["train"]], labels[idx["train"]],
                                     codes[idx["valid"]], labels[idx["valid"]], ds.alphabet,
                                     k=k, seed=config.seed)
    base_scores = base.decision_function(codes[idx["test"]]) if len(idx["test"]) else np.zeros(0)
    base_info = {**metrics.summary(labels[idx["test"]], base_scores), "k": base.k,
                 "l2": base.l2, "model": "logistic regression on log1p k-mer counts"}
    log.info("k-mer baseline (k=%d): test AUROC %s, AUPRC %s (%.1fs)", base.k,
             _fmt(base_info["auroc"]), _fmt(base_info["auprc"]), time.perf_counter() - t0)
    return base_scores, base_info


def _model_info(ds, dataset_dir: Path, config: TrainConfig, result: TrainResult) -> dict:
    """What ``model.json`` holds besides the architecture: alphabet, channels, training, data."""
    idx = result.extra["splits"]
    return {
        "alphabet": ds.alphabet.name,
        "policy": result.extra["policy"],
        "channels": list(ds.alphabet.letters) + ds.track_names,
        "tracks": ds.track_names,
        "length": int(ds.codes.shape[1]),
        "training": {**config.to_dict(), "pos_weight": result.extra["pos_weight"],
                     "best_epoch": result.best_epoch, "epochs": result.epochs,
                     "device": str(result.device)},
        "dataset": {"path": str(dataset_dir), "n": int(len(ds)),
                    "n_train": int(len(idx["train"])), "n_valid": int(len(idx["valid"])),
                    "n_test": int(len(idx["test"]))},
    }


def _metrics_summary(ds, labels: np.ndarray, result: TrainResult, report: dict,
                     base_info: dict | None, control: dict | None) -> dict:
    """The content of ``metrics.json``."""
    idx = result.extra["splits"]
    return {
        "test": report["test"],
        "valid": report["valid"],
        "baseline": base_info,
        "sequence_only": control,
        "negatives_match": match_summary(ds.codes, ds.tracks, labels,
                                         dna=ds.alphabet.complement is not None),
        "n": {s: int(len(idx[s])) for s in ("train", "valid", "test")},
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "device": str(result.device),
        "threads": result.extra["threads"],
        "resumed_from_epoch": result.resumed_from,
        "seconds": round(result.seconds, 2),
        "seqfm_version": __version__,
    }


def _test_curves(y_test: np.ndarray, cnn: np.ndarray, baseline: np.ndarray | None,
                 baseline_info: dict | None, control: np.ndarray | None) -> dict:
    """``{scorer: (labels, scores)}`` on the test split, in legend order: the CNN, the k-mer
    baseline, the CNN without tracks (the last two when they ran)."""
    curves = {"CNN": (y_test, cnn)}
    if baseline is not None:
        curves[f"{baseline_info['k']}-mer baseline"] = (y_test, baseline)
    if control is not None:
        curves["CNN without tracks"] = (y_test, control)
    return curves


def _write_plots(train_dir: Path, curves: dict, result: TrainResult) -> None:
    """``roc.png``, ``pr.png`` and ``curves.png`` (the training history) under ``train_dir``."""
    from . import plots as plots_mod

    plots_mod.roc(curves, train_dir / "roc.png")
    plots_mod.pr(curves, train_dir / "pr.png")
    plots_mod.training_curves(result.history, train_dir / "curves.png", result.best_epoch)


def sequence_only_control(ds, train_dir: Path, config: TrainConfig, arch: dict | None,
                          idx: dict, progress, resume: bool) -> tuple[dict, np.ndarray]:
    """The same architecture trained on the same split without the tracks.

    Returns its test metrics (``metrics.json``'s ``sequence_only``) and test scores. Its
    checkpoints go to ``train_dir/sequence_only`` (resumable like the main run's).
    """
    n, length = ds.codes.shape
    bare = dataclasses.replace(ds, tracks=np.zeros((n, 0, length), np.float16),
                               info={**ds.info, "tracks": []})
    res = fit(bare, train_dir / "sequence_only", config, arch, progress=progress, resume=resume)
    split = res.extra["splits"]
    if any(not np.array_equal(split[s], idx[s]) for s in ("train", "valid", "test")):
        raise RuntimeError("the sequence-only control was trained on another split")
    scores = predict_source(res.model, res.extra["source"], idx["test"], 4 * config.batch_size,
                            res.extra["amp"])
    labels = np.asarray(ds.labels)[idx["test"]]
    out = {**metrics.summary(labels, scores), "best_epoch": res.best_epoch,
           "model": "the same architecture, trained on the same split without the tracks"}
    log.info("without tracks: test AUROC %s, AUPRC %s", _fmt(out["auroc"]), _fmt(out["auprc"]))
    return out, scores


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def _read_dataset(dataset_mod, folder: Path):
    for name in ("codes.npy", "tracks.npy", "labels.npy", "meta.tsv", "dataset.json"):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: not a seqfm dataset (missing {name}); make it with seqfm encode")
    try:
        ds = dataset_mod.read(folder)
    except (ValueError, OSError, KeyError) as err:
        raise InputError(f"{folder}: unreadable dataset ({err})") from None
    n, length = ds.codes.shape
    if ds.tracks.shape[0] != n or (ds.tracks.shape[1] and ds.tracks.shape[2] != length) \
            or len(ds.labels) != n or len(ds.meta) != n:
        raise InputError(f"{folder}: arrays disagree (codes {ds.codes.shape}, tracks "
                         f"{ds.tracks.shape}, labels {ds.labels.shape}, meta.tsv {len(ds.meta)} rows)")
    if "split" not in ds.meta.columns:
        raise InputError(f"{folder / 'meta.tsv'}: no 'split' column")
    bad = set(np.unique(np.asarray(ds.labels)).tolist()) - {0, 1}
    if bad:
        raise InputError(f"{folder / 'labels.npy'}: labels must be 0 or 1, found {sorted(bad)}")
    return ds
