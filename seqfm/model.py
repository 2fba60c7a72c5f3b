"""The 1D CNN motif detector and its files (``model.pt`` + ``model.json``).

Architecture (:class:`SeqCNN`)::

    x (N, C, L)  one-hot channels (alphabet order), then conservation tracks
      -> conv1: F filters of width W (the motif detectors), ReLU      (N, F, L1),  L1 = L - W + 1
         ``first_layer="gated"`` (with tracks): conv1 reads the letters only, and each filter's
         response is multiplied by a gate, a sigmoid of its own convolution of the tracks:
         relu(letters * w_f + b_f) * sigmoid(tracks * g_f + c_f)
      -> dropout, then ``dilated_layers`` residual blocks:
         Conv1d(k=3, dilation 2, 4, 8, ..., 'same' padding) + ReLU    (N, D, L1)
      -> global pooling over positions (max or mean)                  (N, D)
      -> linear head                                                  (N,) logits

D is ``dilated_channels`` when there are dilated layers, otherwise F.

Strand awareness (DNA, on by default): every filter also scans the reverse strand with the
*same* weights, reverse-complemented (length flipped, A<->T and C<->G channels swapped; track
channels only flipped, since per-position scores belong to both strands). The network runs on
both strands as two streams with shared weights; the streams are aligned position by position
(the reverse stream is flipped back onto forward coordinates; :meth:`SeqCNN.strands`) and merged
by an element-wise max before global pooling. The logits are therefore exactly invariant (up to float rounding) under
reverse-complementing the input, and a motif is learned once, not as a forward and a reverse copy.

The gated first layer makes a filter a sequence motif detector by construction: the tracks
can only scale its response, so without sequence evidence it never fires, however conserved
the window (the "concat" layer reads letters and tracks as channels of one convolution, so a
filter can fire on conservation alone).

Positions of the last feature maps (``class_activation_map``) are the start positions of the
first-layer windows on the forward strand: position ``j`` holds the evidence of the input window
``[j, j + W)``, seen with ``context`` extra positions on each side by the dilated layers
(:meth:`SeqCNN.cam_window`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from . import __version__
from .alphabet import get as get_alphabet
from .errors import InputError
from .io import atomic_path, save_json

if TYPE_CHECKING:
    from .dataset import Dataset

#: architecture defaults; ``model.json``'s ``architecture`` overrides them
DEFAULTS: dict[str, Any] = {
    "alphabet": "dna",
    "n_tracks": 0,
    "n_filters": 64,
    "filter_width": 19,
    "strand_aware": None,  # None: on for DNA, off for protein
    "dilated_layers": 0,
    "dilated_channels": 64,
    "dilated_width": 3,
    "dropout": 0.1,
    "global_pool": "max",
    "first_layer": "gated",
}

GLOBAL_POOLS = ("max", "mean")
FIRST_LAYERS = ("concat", "gated")
#: the first layer of a model.json written before the key existed
LEGACY_FIRST_LAYER = "concat"


def architecture(**overrides: Any) -> dict[str, Any]:
    """A complete, validated architecture dict: :data:`DEFAULTS` updated by ``overrides``.

    ``strand_aware=None`` resolves to True for DNA and False for protein.
    """
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise InputError(f"unknown architecture key(s): {', '.join(sorted(unknown))}")
    arch = dict(DEFAULTS)
    arch.update({k: v for k, v in overrides.items() if v is not None or k == "strand_aware"})
    alpha = get_alphabet(arch["alphabet"])
    if arch["strand_aware"] is None:
        arch["strand_aware"] = alpha.complement is not None
    if arch["strand_aware"] and alpha.complement is None:
        # a workflow-wide setting meets a protein sample: there is no other strand
        logging.getLogger("seqfm").warning(
            "strand-aware scanning needs DNA; turned off for the %s alphabet", alpha.name)
        arch["strand_aware"] = False
    for key in ("n_filters", "filter_width", "dilated_channels", "dilated_width"):
        if int(arch[key]) < 1:
            raise InputError(f"architecture {key} must be >= 1, got {arch[key]}")
    if int(arch["dilated_width"]) % 2 == 0:
        raise InputError(f"dilated_width must be odd (symmetric padding), got {arch['dilated_width']}")
    if int(arch["dilated_layers"]) < 0 or int(arch["n_tracks"]) < 0:
        raise InputError("dilated_layers and n_tracks must be >= 0")
    if arch["first_layer"] not in FIRST_LAYERS:
        raise InputError(f"first_layer must be one of {', '.join(FIRST_LAYERS)}, "
                         f"got {arch['first_layer']!r}")
    if arch["global_pool"] not in GLOBAL_POOLS:
        raise InputError(f"global_pool must be one of {', '.join(GLOBAL_POOLS)}, got {arch['global_pool']!r}")
    if not 0.0 <= float(arch["dropout"]) < 1.0:
        raise InputError(f"dropout must be in [0, 1), got {arch['dropout']}")
    for key in ("n_tracks", "n_filters", "filter_width", "dilated_layers", "dilated_channels",
                "dilated_width"):
        arch[key] = int(arch[key])
    arch["dropout"] = float(arch["dropout"])
    arch["strand_aware"] = bool(arch["strand_aware"])
    return arch


class SeqCNN(nn.Module):
    """A 1D CNN whose first-layer filters are motif detectors.

    Parameters
    ----------
    arch : dict
        Architecture (see :data:`DEFAULTS` and :func:`architecture`): ``alphabet``,
        ``n_tracks``, ``n_filters`` (F), ``filter_width`` (W), ``strand_aware``,
        ``dilated_layers``, ``dilated_channels``, ``dilated_width``, ``dropout``,
        ``global_pool``, ``first_layer``.

    Attributes
    ----------
    conv1 : torch.nn.Conv1d
        The motif detectors: weight ``(F, C, W)``, C = alphabet size + ``n_tracks`` (the
        letters first), or the alphabet size alone for a gated first layer.
    gate : torch.nn.Conv1d or None
        The gated first layer's track kernels, weight ``(F, n_tracks, W)``.
    dilated : torch.nn.ModuleList
        The optional dilated residual convolutions.
    head : torch.nn.Linear
        ``(D,) -> 1``.
    """

    def __init__(self, arch: dict[str, Any]) -> None:
        super().__init__()
        self.arch = architecture(**arch)
        a = self.arch
        self.alphabet = get_alphabet(a["alphabet"])
        self.n_channels = self.alphabet.size + a["n_tracks"]
        self.strand_aware = a["strand_aware"]
        self.gated = a["first_layer"] == "gated" and a["n_tracks"] > 0
        n_in = self.alphabet.size if self.gated else self.n_channels
        self.conv1 = nn.Conv1d(n_in, a["n_filters"], a["filter_width"])
        self.gate = nn.Conv1d(a["n_tracks"], a["n_filters"], a["filter_width"]) if self.gated else None
        self.drop = nn.Dropout(a["dropout"])
        self.dilated = nn.ModuleList()
        width = a["n_filters"]
        if a["dilated_layers"]:
            self.project = nn.Conv1d(width, a["dilated_channels"], 1)
            width = a["dilated_channels"]
            k = a["dilated_width"]
            for i in range(a["dilated_layers"]):
                d = 2 ** (i + 1)
                self.dilated.append(nn.Conv1d(width, width, k, dilation=d, padding=d * (k - 1) // 2))
        else:
            self.project = None
        self.head = nn.Linear(width, 1)
        if self.strand_aware:
            # channel permutation of the reverse strand: complement letters, keep tracks
            comp = torch.as_tensor(self.alphabet.complement_codes()[: self.alphabet.size]).long()
            perm = torch.cat([comp, torch.arange(self.alphabet.size, self.n_channels)])
            self.register_buffer("rc_perm", perm, persistent=False)

    # ------------------------------------------------------------------ geometry
    @property
    def filter_width(self) -> int:
        """W, the width of a motif detector."""
        return self.arch["filter_width"]

    @property
    def context(self) -> int:
        """Extra input positions each side that the dilated layers add to a CAM position."""
        k = self.arch["dilated_width"]
        return sum(2 ** (i + 1) * (k - 1) // 2 for i in range(self.arch["dilated_layers"]))

    def cam_window(self, j: int | torch.Tensor, length: int | None = None):
        """Input interval ``[start, end)`` (forward strand) behind CAM position ``j``.

        The core is the first-layer window ``[j, j + W)``; the dilated layers let
        position ``j`` also see ``context`` positions each side. Clipped to
        ``[0, length)`` when ``length`` is given.
        """
        start = j - self.context
        end = j + self.filter_width + self.context
        if length is not None:
            if isinstance(start, torch.Tensor):
                start, end = start.clamp(min=0), end.clamp(max=length)
            else:
                start, end = max(start, 0), min(end, length)
        return start, end

    def reverse_complement(self, x: torch.Tensor) -> torch.Tensor:
        """The input on the other strand: ``(N, C, L)`` with letters complemented, tracks kept, length flipped."""
        if not self.strand_aware:
            raise ValueError("reverse_complement needs a strand-aware DNA model")
        return x.index_select(1, self.rc_perm).flip(-1)

    def reference_input(self, x: torch.Tensor) -> torch.Tensor:
        """The reference of a CAM: ``x`` ``(N, C, L)`` with every letter replaced by the uniform
        background (``1 / A`` in each letter channel) and the tracks kept. The model's response
        to it is what the conservation alone gives at each position."""
        ref = x.clone()
        ref[:, : self.alphabet.size] = 1.0 / self.alphabet.size
        return ref

    # ------------------------------------------------------------------ layers
    def first_layer_weights(self) -> torch.Tensor:
        """The first layer's weights ``(F, C, W)``, letters then tracks, whatever the layer: for
        a gated layer the tracks' rows are the gate's kernels (they scale the response in a
        sigmoid instead of adding to it)."""
        if self.gated:
            return torch.cat([self.conv1.weight, self.gate.weight], dim=1)
        return self.conv1.weight

    def _conv1_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pre-activation conv1 outputs ``(N, F, L1)`` of the forward and the reverse scan."""
        if self.gated:
            x = x[:, : self.alphabet.size]
        if not self.strand_aware:
            return self.conv1(x), None
        w = self.conv1.weight
        w_rc = w.index_select(1, self.rc_perm[: w.shape[1]]).flip(-1)
        both = F.conv1d(x, torch.cat([w, w_rc]), torch.cat([self.conv1.bias, self.conv1.bias]))
        n_f = w.shape[0]
        return both[:, :n_f], both[:, n_f:]

    def _gates_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The gated layer's gates ``(N, F, L1)`` on the forward and the reverse scan (the
        reverse filter reads the tracks reversed, not complemented)."""
        t = x[:, self.alphabet.size:]
        if not self.strand_aware:
            return torch.sigmoid(self.gate(t)), None
        g, c = self.gate.weight, self.gate.bias
        both = torch.sigmoid(F.conv1d(t, torch.cat([g, g.flip(-1)]), torch.cat([c, c])))
        n_f = g.shape[0]
        return both[:, :n_f], both[:, n_f:]

    def first_layer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The motif detectors' activations ``(N, F, L1)`` on the forward and the reverse scan
        (None for a model that reads one strand), both at forward-strand window starts.

        ReLU of conv1; for a gated layer times the gate. Every reader of the first layer
        (feature maps, the CAM, influence, the scan) goes through here."""
        fwd, rev = self._conv1_both(x)
        fwd = F.relu(fwd)
        rev = None if rev is None else F.relu(rev)
        if self.gated:
            g_f, g_r = self._gates_both(x)
            fwd = fwd * g_f
            rev = None if rev is None else rev * g_r
        return fwd, rev

    def filter_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of every first-layer filter on both strands (:meth:`first_layer`).

        Parameters
        ----------
        x : torch.Tensor, shape ``(N, C, L)``

        Returns
        -------
        torch.Tensor, shape ``(N, 2, F, L - W + 1)``
            Strand 0: the filter on the forward strand; strand 1: the same filter
            reverse-complemented, i.e. scanned on the reverse strand. Both are indexed
            by the window's start on the forward strand: ``[n, s, f, i]`` scores the input
            window ``[i, i + W)``. For protein models and DNA models with strand
            awareness off, strand 1 is all zeros (the model never reads that strand).
        """
        fwd, rev = self.first_layer(x)
        rev = torch.zeros_like(fwd) if rev is None else rev
        return torch.stack([fwd, rev], dim=1)

    def _trunk(self, h: torch.Tensor) -> torch.Tensor:
        h = self.drop(h)
        if self.project is not None:
            h = F.relu(self.project(h))
            for conv in self.dilated:
                h = h + F.relu(conv(h))
        return h

    def streams(self, fwd: torch.Tensor, rev: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The two strands' streams after the trunk (dropout, dilated layers), aligned.

        Parameters
        ----------
        fwd : torch.Tensor, shape ``(N, F, L1)``
            First-layer activations on the forward strand (:meth:`first_layer`), masked or
            mixed as the caller likes.
        rev : torch.Tensor, shape ``(N, F, L1)``, or None
            The same on the reverse strand, at forward-strand window starts; None for a model
            that reads one strand.

        Returns
        -------
        (h_fwd, h_rev) : torch.Tensor, shape ``(N, D, L1)`` each (``h_rev`` None when ``rev``
            is), both at forward-strand window starts: position ``j`` is the input window
            ``[j, j + W)``. The merged feature maps (:meth:`features`) are their element-wise
            maximum.
        """
        if rev is None:
            return self._trunk(fwd), None
        if self.project is None:
            # no positional layers after conv1: the streams are already aligned
            return self._trunk(fwd), self._trunk(rev)
        # the reverse stream in its own (reverse-strand) coordinates, through the shared trunk
        n = fwd.shape[0]
        out = self._trunk(torch.cat([fwd, rev.flip(-1)]))
        return out[:n], out[n:].flip(-1)

    def strands(self, x: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The forward and reverse streams of ``x`` after the trunk (:meth:`streams`).

        Parameters
        ----------
        x : torch.Tensor, shape ``(N, C, L)``
        mask : torch.Tensor, shape ``(F,)`` or ``(N, F)``, optional
            Multiplies each first-layer channel on both strands after its activation (0
            zeroes a filter: what the model computes without it).

        Returns
        -------
        (h_fwd, h_rev) : torch.Tensor, shape ``(N, D, L - W + 1)`` each; ``h_rev`` None for a
            model that reads one strand. Reverse-complementing ``x`` swaps the two (each
            flipped along positions).
        """
        fwd, rev = self.first_layer(x)
        if mask is not None:
            m = mask[..., None]  # the same factor at every position
            fwd = fwd * m
            rev = None if rev is None else rev * m
        return self.streams(fwd, rev)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature maps (strands merged), shape ``(N, D, L - W + 1)``, forward-strand positions."""
        h_fwd, h_rev = self.strands(x)
        return h_fwd if h_rev is None else torch.maximum(h_fwd, h_rev)

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """Global pooling (``global_pool``) of feature maps ``(N, D, L1)`` over positions: ``(N, D)``."""
        return h.amax(-1) if self.arch["global_pool"] == "max" else h.mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits.

        Parameters
        ----------
        x : torch.Tensor, shape ``(N, C, L)``, float

        Returns
        -------
        torch.Tensor, shape ``(N,)``: logit of the positive class.
        """
        return self.head(self.pool(self.features(x))).squeeze(-1)

    def class_activation_map(self, x: torch.Tensor) -> torch.Tensor:
        """Class-activation map: the head's weights applied to the last feature maps.

        Parameters
        ----------
        x : torch.Tensor, shape ``(N, C, L)``

        Returns
        -------
        torch.Tensor, shape ``(N, L')``, ``L' = L - W + 1``
            ``cam[n, j] = sum_d head.weight[d] * features[n, d, j]``. Position ``j`` maps to
            the input window ``[j, j + W)`` on the forward strand (widened by ``context``
            each side, see :meth:`cam_window`). With ``global_pool="mean"`` the logit is
            exactly ``cam.mean(-1) + head.bias``; with ``"max"`` each feature's maximum
            position carries its contribution.
        """
        h = self.features(x)
        return torch.einsum("d,ndl->nl", self.head.weight[0], h)


# ---------------------------------------------------------------------- files
#: a model.json larger than this is no seqfm model description
MAX_MODEL_JSON_BYTES = 16 * 2**20


def save(model: SeqCNN, folder: str | os.PathLike | None = None, info: dict | None = None, *,
         model_pt: str | os.PathLike | None = None,
         model_json: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write ``model.pt`` (the state_dict only) and ``model.json``, each atomically.

    Parameters
    ----------
    model : SeqCNN
    folder : path, optional
        Writes ``folder/model.pt`` and ``folder/model.json``; or give both paths.
    info : dict, optional
        Extra keys for ``model.json`` (``policy``, ``channels``, ``training``, ...).
        ``architecture``, ``alphabet``, ``channels`` and ``seqfm_version`` are filled in.

    Returns
    -------
    (model_pt, model_json) paths.
    """
    if folder is not None:
        model_pt = model_pt or Path(folder) / "model.pt"
        model_json = model_json or Path(folder) / "model.json"
    if model_pt is None or model_json is None:
        raise ValueError("save needs a folder or both model_pt and model_json")
    model_pt, model_json = Path(model_pt), Path(model_json)
    meta = dict(info or {})
    meta["architecture"] = dict(model.arch)
    meta.setdefault("alphabet", model.arch["alphabet"])
    meta.setdefault("policy", "uniform")
    meta.setdefault("channels", list(model.alphabet.letters)
                    + [f"track{i}" for i in range(model.arch["n_tracks"])])
    meta["seqfm_version"] = __version__
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    with atomic_path(model_pt) as tmp:
        torch.save(state, tmp)
    save_json(meta, model_json)
    return model_pt, model_json


def load_state_dict_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict:
    """``torch.load(path, weights_only=True)`` that turns every failure into an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError,
            AttributeError, TypeError, IndexError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a readable PyTorch state_dict file ({first[:200]})") from None
    except Exception as err:  # any unpickling refusal (weights_only) lands here
        raise InputError(f"{path}: refused to load ({type(err).__name__}); "
                         "only plain state_dict files are accepted") from None
    return obj


def load(model_pt: str | os.PathLike, model_json: str | os.PathLike,
         device: str | torch.device = "cpu", dataset: Dataset | None = None,
         dataset_dir: str | os.PathLike | None = None) -> tuple[SeqCNN, dict]:
    """Rebuild a model from ``model.json`` and load the weights of ``model.pt``.

    Parameters
    ----------
    model_pt : path
        State dict written by :func:`save`; read with ``torch.load(weights_only=True)``.
    model_json : path
        The architecture and metadata.
    device : str or torch.device
        A device, not ``auto`` (the verbs resolve ``auto`` with ``pick_device`` first).
    dataset : seqfm.dataset.Dataset, optional
        The data the model is about to read: checked with :func:`check_dataset`.
    dataset_dir : path, optional
        Where ``dataset`` was read from, named in the errors.

    Returns
    -------
    (model, info): the model in eval mode on ``device`` and the parsed ``model.json``.

    Raises
    ------
    InputError
        A missing, unreadable or tampered file, or weights that do not fit the architecture
        (naming the file and the first mismatching tensor); a ``dataset`` the model cannot read.
    """
    info = read_model_json(model_json)
    info["architecture"].setdefault("first_layer", LEGACY_FIRST_LAYER)
    state = load_state_dict_file(model_pt, "cpu")
    model = SeqCNN(checked_architecture(info["architecture"], state, model_pt, model_json))
    model.load_state_dict(state)
    if dataset is not None:
        check_dataset(model, info, dataset, model_json, dataset_dir)
    return model.to(device).eval(), info


def check_dataset(model: SeqCNN, info: dict, dataset: Dataset, model_json: str | os.PathLike,
                  dataset_dir: str | os.PathLike | None = None) -> None:
    """Refuse, in one line naming ``model_json`` or ``dataset_dir``, data the model cannot read.

    The dataset must be of the model's alphabet, hold the conservation tracks the model was
    trained on (the names of ``info["tracks"]``, in order, when ``model.json`` records them --
    models written before it did are let through -- and as many of them) and sequences at
    least as long as the filters.
    """
    name = f"the dataset {dataset_dir}" if dataset_dir is not None else "the dataset"
    alphabet = dataset.alphabet.name
    if alphabet != model.arch["alphabet"]:
        raise InputError(f"{model_json}: the model reads {model.arch['alphabet']} but {name} "
                         f"holds {alphabet} sequences")
    want = info.get("tracks")
    if want is not None and list(want) != dataset.track_names:
        raise InputError(f"{model_json}: the model was trained on track(s) {list(want)} but "
                         f"{name} holds {dataset.track_names}; encode it with the same "
                         f"tracks, in the same order")
    n_tracks = dataset.tracks.shape[1] if dataset.tracks.ndim == 3 else 0
    if n_tracks != model.arch["n_tracks"]:
        raise InputError(f"{model_json}: the model reads {model.arch['n_tracks']} conservation "
                         f"track(s) but {name} has {n_tracks}")
    length = dataset.codes.shape[1]
    if length < model.filter_width:
        raise InputError(f"{dataset_dir or 'the dataset'}: sequences of length {length} are "
                         f"shorter than the filters ({model.filter_width})")


def read_model_json(path: str | os.PathLike) -> dict:
    """Parse ``model.json`` (at most :data:`MAX_MODEL_JSON_BYTES`); it must hold an ``architecture`` object."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model description file")
    if path.stat().st_size > MAX_MODEL_JSON_BYTES:
        raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a seqfm model.json")
    try:
        info = json.loads(path.read_bytes())
        if not isinstance(info, dict) or not isinstance(info.get("architecture"), dict):
            raise ValueError("no 'architecture' object")
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise InputError(f"{path}: not a seqfm model.json ({str(err)[:200]})") from None
    return info


def checked_architecture(arch: dict, state: Any, model_pt, model_json) -> dict[str, Any]:
    """``arch`` validated and proven to fit the weights ``state`` before any real allocation.

    Every size must be within the largest dimension of a tensor in ``state`` (and the layer
    count within the tensor count), so a tampered ``model.json`` cannot ask for gigabytes;
    the network is then built on the ``meta`` device (no memory) and its shapes compared.
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{model_pt}: not a state_dict (expected a mapping of names to tensors)")
    try:
        arch = architecture(**arch)
    except InputError as err:
        raise InputError(f"{model_json}: {err}") from None
    except (ValueError, TypeError, OverflowError, KeyError) as err:
        raise InputError(f"{model_json}: architecture is not valid ({str(err)[:200]})") from None
    largest = max((max(v.shape, default=1) for v in state.values()), default=0)
    sizes = ("n_tracks", "n_filters", "filter_width")
    if arch["dilated_layers"]:
        sizes += ("dilated_channels", "dilated_width")
    bounds = {"dilated_layers": len(state), **{k: largest for k in sizes}}
    for key, bound in bounds.items():
        if arch[key] > bound:
            raise InputError(f"{model_json}: architecture {key} = {arch[key]} does not fit the "
                             f"weights in {model_pt} (at most {bound})")
    # strand awareness adds no parameter; without it no meta-device op needs torch's compiler
    with torch.device("meta"):
        skeleton = SeqCNN({**arch, "strand_aware": False})
    check_state_dict(skeleton, state, model_pt)
    return arch


def check_state_dict(model: nn.Module, state: Any, path: str | os.PathLike) -> None:
    """Refuse (:class:`InputError` naming ``path``) a state that is not this model's state_dict."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: not a state_dict (expected a mapping of names to tensors)")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise InputError(f"{path}: weights of a different architecture ({what}; "
                         f"{len(missing)} missing, {len(extra)} unexpected tensors)")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise InputError(f"{path}: weights of a different architecture ({k!r} has shape "
                             f"{tuple(state[k].shape)}, the model needs {tuple(v.shape)})")
        if state[k].is_floating_point() and not torch.isfinite(state[k]).all():
            raise InputError(f"{path}: tensor {k!r} holds NaN or infinite values")


def clone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s state_dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def copy_model(model: SeqCNN) -> SeqCNN:
    """A deep copy (same device)."""
    return copy.deepcopy(model)
