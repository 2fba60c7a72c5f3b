"""The encoded dataset: what `seqfm encode` writes and every later stage reads.

A dataset is a folder::

    codes.npy     uint8   (N, L)     sequence codes (see seqfm.alphabet)
    tracks.npy    float16 (N, T, L)  conservation tracks (T may be 0)
    labels.npy    uint8   (N,)       1 = positive, 0 = negative
    meta.tsv      one row per sequence: name, chrom, start, end, strand, label, split
    dataset.json  alphabet, policy, length, track names, counts, seqfm version

Arrays are plain ``.npy`` files so they can be memory-mapped (``np.load(mmap_mode="r")``):
a loader moves one byte per position, one-hot is made on the device.
Coordinates in ``meta.tsv`` are 0-based half-open; ``chrom`` is empty when the
input had no coordinates.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .alphabet import Alphabet, get as get_alphabet

META_COLUMNS = ["name", "chrom", "start", "end", "strand", "label", "split"]
SPLITS = ("train", "valid", "test")


@dataclass
class Dataset:
    """An encoded dataset in memory (or memory-mapped).

    Attributes
    ----------
    codes : numpy.ndarray, uint8, shape ``(N, L)``
    tracks : numpy.ndarray, float16, shape ``(N, T, L)``
    labels : numpy.ndarray, uint8, shape ``(N,)``
    meta : pandas.DataFrame with ``META_COLUMNS``
    info : dict  (``alphabet``, ``policy``, ``length``, ``tracks`` names, ...)
    """

    codes: np.ndarray
    tracks: np.ndarray
    labels: np.ndarray
    meta: pd.DataFrame
    info: dict

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def alphabet(self) -> Alphabet:
        return get_alphabet(self.info["alphabet"])

    @property
    def track_names(self) -> list[str]:
        return list(self.info.get("tracks", []))

    @property
    def n_channels(self) -> int:
        """Input channels of a model: alphabet letters + conservation tracks."""
        return self.alphabet.size + self.tracks.shape[1]

    def split_index(self, split: str) -> np.ndarray:
        """Row indices of one split (``train``, ``valid`` or ``test``)."""
        return np.flatnonzero(self.meta["split"].to_numpy() == split)

    def subset(self, index: np.ndarray) -> "Dataset":
        """A new in-memory dataset holding the rows ``index``."""
        return Dataset(
            codes=np.ascontiguousarray(self.codes[index]),
            tracks=np.ascontiguousarray(self.tracks[index]),
            labels=np.ascontiguousarray(self.labels[index]),
            meta=self.meta.iloc[index].reset_index(drop=True),
            info=dict(self.info),
        )


def write(dataset: Dataset, folder: str | os.PathLike) -> None:
    """Write ``dataset`` to ``folder`` atomically (a temporary folder renamed into place).

    An existing ``folder`` is replaced only when it is empty or a dataset (see
    :func:`is_dataset`); one holding anything else is refused with an ``InputError``.
    """
    folder = Path(folder)
    n, length = dataset.codes.shape
    if dataset.tracks.shape[0] != n or dataset.tracks.shape[2:] not in ((length,), ()):
        raise ValueError(f"tracks of shape {dataset.tracks.shape} do not fit codes {dataset.codes.shape}")
    info = dict(dataset.info)
    info.update(
        n=int(n),
        length=int(length),
        n_positive=int(dataset.labels.sum()),
        n_tracks=int(dataset.tracks.shape[1]),
        splits={s: int((dataset.meta["split"] == s).sum()) for s in SPLITS},
        seqfm_version=__version__,
    )
    from .io import atomic_path

    with atomic_path(folder, folder=True, ours=is_dataset, what="a seqfm dataset") as tmp:
        np.save(tmp / "codes.npy", dataset.codes.astype(np.uint8, copy=False))
        np.save(tmp / "tracks.npy", dataset.tracks.astype(np.float16, copy=False))
        np.save(tmp / "labels.npy", dataset.labels.astype(np.uint8, copy=False))
        dataset.meta[META_COLUMNS].to_csv(tmp / "meta.tsv", sep="\t", index=False)
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")


#: every file a dataset folder holds; a folder holding anything else is not replaced
FILES = ("codes.npy", "tracks.npy", "labels.npy", "meta.tsv", "dataset.json")


def is_dataset(folder: Path) -> bool:
    """Whether ``folder`` holds a dataset that :func:`write` wrote and nothing else."""
    try:
        names = set(os.listdir(folder))
        info = json.loads((folder / "dataset.json").read_text())
    except (OSError, ValueError):
        return False
    return names <= set(FILES) and isinstance(info, dict) and "seqfm_version" in info


def read(folder: str | os.PathLike, mmap: bool = True) -> Dataset:
    """Read a dataset folder; arrays are memory-mapped unless ``mmap=False``."""
    from .errors import InputError

    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise InputError(f"{folder}: not a dataset folder (no {missing[0]}); make one with "
                         f"`seqfm encode`")
    mode = "r" if mmap else None
    meta = pd.read_csv(folder / "meta.tsv", sep="\t", dtype={"chrom": str, "name": str},
                       keep_default_na=False)
    return Dataset(
        codes=np.load(folder / "codes.npy", mmap_mode=mode),
        tracks=np.load(folder / "tracks.npy", mmap_mode=mode),
        labels=np.load(folder / "labels.npy", mmap_mode=mode),
        meta=meta,
        info=json.loads((folder / "dataset.json").read_text()),
    )


def encode(table: pd.DataFrame, alphabet: str, policy: str = "uniform",
           tracks: list[str] | None = None, seed: int = 1, fill: float = 0.0,
           source: str = "prepared table") -> Dataset:
    """Encode a prepared table (see ``seqfm.prepare``) into a Dataset.

    Sequences become uint8 codes ``(N, L)`` under the ambiguity ``policy``; the
    conservation ``tracks`` (bigWig/bedGraph paths) become float16 ``(N, T, L)``.
    """
    from .conservation import dna_tracks, protein_tracks
    from .errors import InputError

    if table.empty:
        raise InputError(f"{source}: no sequence to encode")
    alpha = get_alphabet(alphabet)
    codes = alpha.encode_batch(list(table["sequence"]), policy=policy,
                               where=[f"{source}: sequence '{n}'" for n in table["name"]])
    if alpha.name == "protein" and tracks:
        if len(tracks) > 1:
            raise InputError(f"protein conservation is one MSA folder or one score table, "
                             f"not {len(tracks)} paths")
        values, names = protein_tracks(table, tracks[0], seed=seed, fill=fill)
    else:
        values, names = dna_tracks(table, list(tracks or []), seed=seed, fill=fill)
    meta = table[[c for c in META_COLUMNS]].copy()
    return Dataset(codes=codes, tracks=values, labels=table["label"].to_numpy(np.uint8), meta=meta,
                   info={"alphabet": alpha.name, "policy": policy, "tracks": names,
                         "track_files": [str(t) for t in (tracks or [])]})
