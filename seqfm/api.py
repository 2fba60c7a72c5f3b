"""seqfm in a notebook: arrays and tensors in and out.

A thin layer over the modules the command line uses (:mod:`seqfm.model`,
:mod:`seqfm.alphabet`, :mod:`seqfm.featuremaps`, :mod:`seqfm.sites`, :mod:`seqfm.filter_sites`,
:mod:`seqfm.annotation`, :mod:`seqfm.scan`); every function is re-exported as ``seqfm.<name>``. Tensors are
channels-first ``(N, C, L)``: C = alphabet letters (4 for DNA) then conservation tracks.
Positions of maps are window starts: ``L1 = L - W + 1`` for filters of width ``W``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import calls, sites
from .alphabet import get as get_alphabet
from .alphabet import strings_to_one_hot
from .annotation import annotate
from .featuremaps import maps
from .filter_sites import filter_counts, filter_pwms as pwms_of_sites
from .jaspar import Database, load_jaspar, load_meme_database
from .model import load
from .scanner import ArraySource, ScanConfig, Scanner

__all__ = ["load_model", "encode", "predict", "feature_maps", "cam", "call_sites",
           "filter_pwms", "annotate_pwms", "scan_sequence", "Attribution"]


def load_model(model_pt: str | os.PathLike, model_json: str | os.PathLike | None = None,
               device: str = "cpu"):
    """Load a trained model.

    Parameters
    ----------
    model_pt : path
        ``model.pt`` (a state dict; read with ``weights_only=True``).
    model_json : path, optional
        Its ``model.json``; default: the one beside ``model_pt``.
    device : str

    Returns
    -------
    seqfm.model.SeqCNN
        In eval mode; ``model.info`` holds the parsed ``model.json`` and ``model.alphabet``
        its alphabet. ``model(x)`` maps ``(N, C, L)`` to logits ``(N,)``.
    """
    model_json = model_json or Path(model_pt).with_name("model.json")
    model, info = load(model_pt, model_json, device)
    model.info = info
    return model


def _policy(model=None, policy: str | None = None) -> str:
    if policy:
        return policy
    return (getattr(model, "info", None) or {}).get("policy", "uniform")


def encode(seqs: str | Sequence[str], alphabet="dna", tracks=None, policy: str = "uniform",
           one_hot: bool = True):
    """Sequences to model input.

    Parameters
    ----------
    seqs : str or list of str
        Equal-length sequences (one string is a batch of one).
    alphabet : str or seqfm.alphabet.Alphabet or SeqCNN
        ``"dna"``, ``"protein"``, an Alphabet, or a model (its alphabet and policy).
    tracks : array-like, shape ``(N, T, L)``, optional
        Conservation tracks, appended after the letters.
    policy : str
        Ambiguous letters (``N``): ``uniform`` (1/A each), ``zeros`` or ``strict`` (error).
    one_hot : bool
        False: return the uint8 codes ``(N, L)`` instead (tracks ignored).

    Returns
    -------
    torch.Tensor, float32, shape ``(N, A + T, L)``; or numpy.ndarray uint8 ``(N, L)``.
    """
    if hasattr(alphabet, "conv1"):  # a model
        policy = _policy(alphabet, None)
        alphabet = alphabet.alphabet
    alpha = get_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    seqs = [seqs] if isinstance(seqs, str) else list(seqs)
    if not one_hot:
        return alpha.encode_batch(seqs, policy)
    x = strings_to_one_hot(seqs, alpha, policy)
    if tracks is not None:
        t = torch.as_tensor(np.asarray(tracks, dtype=np.float32))
        if t.ndim == 2:
            t = t[None]
        if t.shape[0] != x.shape[0] or t.shape[2] != x.shape[2]:
            raise ValueError(f"tracks of shape {tuple(t.shape)} do not fit {len(seqs)} sequences "
                             f"of length {x.shape[2]}")
        x = torch.cat([x, t], dim=1)
    return x


def _as_input(model, x) -> torch.Tensor:
    if isinstance(x, (str, list, tuple)) and (isinstance(x, str) or isinstance(x[0], str)):
        x = encode(x, model)
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim == 2:
        x = x[None]
    return x


@torch.no_grad()
def predict(model, x, batch_size: int = 256, probability: bool = False) -> torch.Tensor:
    """Model outputs.

    Parameters
    ----------
    model : SeqCNN
    x : torch.Tensor ``(N, C, L)`` or list of str
    batch_size : int
    probability : bool
        Sigmoid of the logits.

    Returns
    -------
    torch.Tensor, float32, shape ``(N,)`` on the CPU.
    """
    out = _batched(model, x, batch_size, lambda b: (model(b).float(),))
    out = out[0] if out else torch.zeros(0)
    return torch.sigmoid(out) if probability else out


def _batched(model, x, batch_size: int, fn) -> list[torch.Tensor]:
    """``fn`` (a batch on the model's device -> a tuple of tensors) over ``x`` in batches,
    each output concatenated on the CPU (an empty list for no sequence)."""
    x = _as_input(model, x)
    dev = next(model.parameters()).device
    parts = [fn(x[i:i + batch_size].to(dev)) for i in range(0, len(x), batch_size)]
    return [torch.cat([p[k].cpu() for p in parts]) for k in range(len(parts[0]))] if parts else []


@torch.no_grad()
def feature_maps(model, x, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """First-layer filter activations, strands merged.

    Parameters
    ----------
    model : SeqCNN
    x : torch.Tensor ``(N, C, L)`` or list of str

    Returns
    -------
    values : torch.Tensor, float32, ``(N, F, L1)``
        Post-ReLU activation of filter f on the window ``[i, i + W)``, maximum over strands.
    strand : torch.Tensor, int8, ``(N, F, L1)``
        1 where the reverse strand gave that maximum.
    """
    values, strand = _batched(model, x, batch_size, lambda b: maps(model, b, cam=False)[:2])
    return values, strand


@torch.no_grad()
def cam(model, x, batch_size: int = 256) -> torch.Tensor:
    """Class-activation map: the model-level evidence per window.

    Parameters
    ----------
    model : SeqCNN
    x : torch.Tensor ``(N, C, L)`` or list of str
        As for :func:`feature_maps`.

    Returns
    -------
    torch.Tensor, float32, ``(N, L1)``; position j is the window ``[j, j + W)`` (see
    ``SeqCNN.cam_window`` for models with dilated layers). For a model that reads tracks, the
    map relative to the same tracks with uniform letters, as ``seqfm sites`` and ``seqfm scan``
    call it (:func:`seqfm.featuremaps.maps`).
    """
    return _batched(model, x, batch_size, lambda b: (maps(model, b)[2],))[0]


def call_sites(model, seqs: Sequence[str], tracks=None, names: Sequence[str] | None = None,
               q: float = 0.05, null_copies: int = 20, seed: int = 1, cam: bool = True,
               merge: str = "all", filters_tsv=None) -> pd.DataFrame:
    """Binding sites on in-memory sequences, with p-values from a dinucleotide-shuffled null
    of the same sequences (tracks kept in place) and Benjamini-Hochberg q-values, as
    ``seqfm sites`` computes them.

    Parameters
    ----------
    model : SeqCNN
    seqs : list of str, equal length L
    tracks : array-like ``(N, T, L)``, optional (the model's conservation tracks)
    names : list of str, optional (default ``seq1``, ``seq2``, ...)
    q : float
        Keep calls with q-value at most this.
    null_copies : int
        Shuffled copies per sequence in the null.
    merge : str
        ``all`` (one call per site, the default as in ``seqfm sites``), ``cluster`` or ``none``.
    filters_tsv : path, optional
        ``interpret/filters.tsv`` of ``seqfm motifs``: cluster and JASPAR names per filter.

    Returns
    -------
    pandas.DataFrame, one row per call: ``name`` (the sequence), ``start``, ``end`` (0-based,
    half-open, in the sequence), ``strand``, ``detector`` (``filter_<k>`` or ``cam``),
    ``cluster``, ``activation``, ``p``, ``q``, sorted by sequence and start.
    """
    seqs = [seqs] if isinstance(seqs, str) else list(seqs)
    n = len(seqs)
    names = list(names) if names is not None else [f"seq{i + 1}" for i in range(n)]
    policy = _policy(model)
    codes = model.alphabet.encode_batch(seqs, policy)
    length = codes.shape[1]
    trk = (np.asarray(tracks, dtype=np.float16) if tracks is not None
           else np.zeros((n, 0, length), np.float16))
    meta = pd.DataFrame({"name": names, "chrom": names, "start": 0, "end": length, "strand": "+"})
    ds = SimpleNamespace(codes=codes, tracks=trk, labels=np.ones(n, np.uint8), meta=meta,
                         info={"policy": policy}, alphabet=model.alphabet)
    cfg = sites.SitesConfig(q=q, null_copies=null_copies, seed=seed, cam=cam, merge=merge,
                            null_max_seqs=max(n, 1))
    n_f = model.conv1.weight.shape[0]
    labels = (calls.read_filter_labels(filters_tsv, n_f, model.alphabet) if filters_tsv
              else calls.FilterLabels.default(n_f))
    sc = sites.call_sites(model, ds, cfg, rows=np.arange(n), labels=labels)
    c = sc.calls
    det = c["detector"].to_numpy()
    seq_strand = c["seq_strand"].to_numpy().astype(bool) ^ labels.flipped(det)
    cluster = np.array(["." if d < 0 else labels.cluster[d] for d in det], dtype=object)
    if labels.namer is not None and len(c):  # named by the sequence, as seqfm sites does
        sites.name_by_sequence(labels.namer, ds, c, det, cluster,
                               np.empty(len(c), dtype=object), seq_strand)
    stranded = model.alphabet.complement is not None
    strand = np.where(seq_strand, "-", "+") if stranded else np.full(len(c), ".")
    out = pd.DataFrame({
        "name": np.asarray(names, dtype=object)[c["row"].to_numpy()] if len(c) else [],
        "start": c["seq_start"].to_numpy(np.int64), "end": c["seq_end"].to_numpy(np.int64),
        "strand": strand,
        "detector": ["cam" if d < 0 else calls.filter_name(d) for d in det],
        "cluster": cluster,
        "activation": c["activation"].to_numpy(), "p": c["p"].to_numpy(), "q": c["q"].to_numpy()})
    return out.sort_values(["name", "start", "detector"], kind="mergesort").reset_index(drop=True)


class _TensorSource:
    """The batches :func:`seqfm.filter_sites.filter_counts` reads, from an in-memory tensor."""

    def __init__(self, x: torch.Tensor, device) -> None:
        self.x, self.device = x, device

    def iterate(self, index, batch_size: int):
        for s in range(0, len(index), batch_size):
            yield self.x[torch.as_tensor(index[s:s + batch_size])].to(self.device), None


def filter_pwms(model, x, frac: float = 0.7, min_sites: int = 10) -> dict[str, np.ndarray]:
    """Each first-layer filter's PWM from the windows that activate it strongly (Basset's
    rule, as ``seqfm motifs``): windows above ``mean + frac * (max - mean)`` on ``x``.

    Parameters
    ----------
    model : SeqCNN
    x : torch.Tensor ``(N, C, L)`` or list of str (e.g. the positives)

    Returns
    -------
    dict ``filter_<k>`` -> numpy.ndarray ``(W_k, A)`` letter probabilities (flanks under
    0.3 bits trimmed), for filters with at least ``min_sites`` sites.
    """
    x = _as_input(model, x)
    fs = filter_counts(model, _TensorSource(x, next(model.parameters()).device),
                              np.arange(len(x)), frac)
    pwms, _ = pwms_of_sites(fs, model.alphabet.name, min_sites)
    return {p.name: p.probs for p in pwms if p is not None}


def annotate_pwms(pwms: dict[str, np.ndarray] | Sequence[np.ndarray], database=None,
                  alphabet="dna", rule=None) -> pd.DataFrame:
    """TomTom best matches of PWMs against JASPAR (or a MEME file), with seqfm's
    significance rule (information content, E-value, column-shuffled null).

    Parameters
    ----------
    pwms : dict name -> ``(W, A)`` probabilities, or a list of them
    database : path to a MEME file, a :class:`seqfm.jaspar.Database`, or None (JASPAR
        CORE vertebrates, the release seqfm ships with)
    rule : seqfm.annotation.MatchRule, optional

    Returns
    -------
    pandas.DataFrame, one row per PWM: ``pwm``, ``match_id``, ``match_name``, ``p``, ``q``,
    ``E``, ``ic``, ``null_z``, ``significant``.
    """
    if not isinstance(pwms, dict):
        pwms = {f"pwm_{i + 1}": p for i, p in enumerate(pwms)}
    alpha = get_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    if database is None:
        db = load_jaspar()
    elif isinstance(database, Database):
        db = database
    else:
        db = load_meme_database(database, alpha)
    res = annotate(list(pwms.values()), db, rule)
    t = res["target"]
    return pd.DataFrame({"pwm": list(pwms), "match_id": [db.ids[i] for i in t],
                         "match_name": [db.names[i] for i in t], "p": res["p"], "q": res["q"],
                         "E": res["E"], "ic": res["ic"], "null_z": res["null_z"],
                         "significant": res["significant"]})


def scan_sequence(model, seq: str, tracks=None, tile: int = 20_000, filters: Sequence[int] = ()
                  ) -> dict[str, np.ndarray]:
    """Scan one long sequence (a chromosome) tile by tile, memory bounded by the tile, as
    ``seqfm scan`` does, and return its per-base tracks and every peak.

    Parameters
    ----------
    model : SeqCNN
    seq : str, length L
    tracks : array-like ``(T, L)``, optional
    tile : int
        Bases per tile.
    filters : list of int
        Filters whose per-base activation track to return too.

    Returns
    -------
    dict of numpy arrays: ``cam`` ``(L,)`` (CAM at the centre of each window; NaN at the
    edges), ``filter_<k>`` ``(L,)`` for each of ``filters``, and the peaks ``pos``
    (window start), ``detector`` (filter index, -1 CAM), ``strand`` (0/1) and ``value``.
    P-values need a genome null: use ``seqfm scan`` for calls.
    """
    cfg = ScanConfig(tile=tile, bin=1, tracks=[f"filter_{k}" for k in filters], device="cpu",
                     engine="torch")
    scanner = Scanner(model, getattr(model, "info", {}) or {}, cfg)
    codes = model.alphabet.encode(seq, _policy(model))
    trk = None if tracks is None else np.asarray(tracks, np.float32)
    length = len(codes)
    names = ["cam"] + [f"filter_{k}" for k in filters]
    out = {n: np.full(length, np.nan, np.float32) for n in names}
    peaks = {"pos": [], "det": [], "strand": [], "value": []}
    for res in scanner.scan(ArraySource("seq", codes, trk), None, want_tracks=True):
        for start, vals in res["tracks"]:
            for k, n in enumerate(names):
                out[n][start:start + vals.shape[1]] = vals[k]
        for key in peaks:
            peaks[key].append(res[key])
    for key, name in (("pos", "pos"), ("det", "detector"), ("strand", "strand"), ("value", "value")):
        out[name] = np.concatenate(peaks[key]) if peaks[key] else np.zeros(0)
    return out


class Attribution(torch.nn.Module):
    """A seqfm model as attribution tools want it: one-hot ``(N, A, L)`` (plus the tracks
    as a second argument) to one output per sequence, ``(N, 1)``.

    tangermeme's ``deep_lift_shap`` and ``saturation_mutagenesis`` shuffle or mutate the
    letters of their input ``X`` and pass ``args`` through unchanged, so the conservation
    tracks stay in place, as in seqfm's own null.

    Parameters
    ----------
    model : SeqCNN
    probability : bool
        Output the sigmoid instead of the logit.

    Examples
    --------
    >>> from tangermeme.saturation_mutagenesis import saturation_mutagenesis
    >>> attr = saturation_mutagenesis(seqfm.Attribution(model), x[:, :4], args=(x[:, 4:],))
    """

    def __init__(self, model, probability: bool = False) -> None:
        super().__init__()
        self.model, self.probability = model, probability

    def forward(self, x: torch.Tensor, tracks: torch.Tensor | None = None) -> torch.Tensor:
        if tracks is not None and tracks.shape[1]:
            x = torch.cat([x, tracks.to(x.dtype)], dim=1)
        y = self.model(x)
        return (torch.sigmoid(y) if self.probability else y).unsqueeze(-1)
