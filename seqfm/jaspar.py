"""JASPAR, offline: the matrices pyjaspar ships, kept on disk once read, and motif databases.

A :class:`Database` holds the targets TomTom annotates against (:mod:`seqfm.annotation`): a JASPAR
selection (:func:`load_jaspar`) or a user's MEME file (:func:`load_meme_database`, e.g. protein
motifs, which JASPAR does not have). The simulated example takes the matrices it plants from
here too (:func:`matrix_counts`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from .alphabet import Alphabet
from .errors import InputError
from .io import atomic_write, read_meme
from .numba_cache import cache_dir

log = logging.getLogger("seqfm")

#: pyjaspar release used when none is given (the newest shipped offline)
JASPAR_RELEASE = "JASPAR2026"


def _pyjaspar() -> ModuleType:
    # on use: importing pyjaspar (and Biopython) takes about 0.25 s, and sites and labels
    # import this module through motifs without needing JASPAR
    import pyjaspar

    return pyjaspar


def releases() -> list[str]:
    """The JASPAR releases pyjaspar ships, newest first."""
    return sorted(_pyjaspar().jaspar_releases, reverse=True)


def _frequencies(counts: np.ndarray) -> np.ndarray:
    """Counts ``(W, A)`` -> letter frequencies ``(W, A)`` (rows of zeros stay zero)."""
    c = np.asarray(counts, dtype=np.float64)
    s = c.sum(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return c / s


@dataclass
class Database:
    """Target motifs for TomTom: ids, names and probability matrices ``(W, A)``."""

    ids: list[str]
    names: list[str]
    probs: list[np.ndarray]
    label: str = ""
    families: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def same_family(self, a: int, b: int) -> bool:
        """Targets ``a`` and ``b`` share a TF (any version, or a dimer partner) or a JASPAR TF family."""
        if self.ids[a].split(".")[0] == self.ids[b].split(".")[0]:
            return True
        na = set(self.names[a].upper().split("::"))
        if na & set(self.names[b].upper().split("::")):
            return True
        if not self.families:
            return False
        fa = {x.strip() for x in self.families[a].split(";") if x.strip()}
        return bool(fa & {x.strip() for x in self.families[b].split(";") if x.strip()})

    def index(self, matrix_id: str) -> int:
        """Position of a matrix id; an unversioned or other-version id finds its base id."""
        if matrix_id in self.ids:
            return self.ids.index(matrix_id)
        base = matrix_id.split(".")[0]
        for i, x in enumerate(self.ids):
            if x.split(".")[0] == base:
                return i
        raise KeyError(matrix_id)

    def __len__(self) -> int:
        return len(self.ids)


_JASPAR_CACHE: dict = {}


def load_meme_database(path: str | os.PathLike, alphabet: Alphabet) -> Database:
    """Target motifs from a MEME file; its alphabet must be the sample's (letters in any order)."""
    letters, motifs = read_meme(path)
    if sorted(letters) != sorted(alphabet.letters):
        raise InputError(f"{path}: the motif database's alphabet {letters} is not the sample's "
                         f"{alphabet.name} alphabet {alphabet.letters}")
    order = [letters.index(c) for c in alphabet.letters]
    return Database([m[0] for m in motifs], [m[1] for m in motifs], [m[2][:, order] for m in motifs],
                    Path(path).name)


def load_jaspar(release: str = JASPAR_RELEASE, collection: str = "CORE",
                tax_group: str | None = "vertebrates", all_versions: bool = False) -> Database:
    """JASPAR matrices from pyjaspar's offline database, as probabilities.

    ``all_versions=False`` keeps the latest version of each matrix (JASPAR's
    non-redundant set). ``tax_group`` None or ``all`` takes every taxon.

    pyjaspar reads a selection motif by motif (about 4 s for the 1,019 vertebrate matrices);
    the result is kept on disk (:func:`seqfm.numba_cache.cache_dir` ``jaspar``, named by the release, the
    selection, pyjaspar's version and its database file's size and time) and read back in
    milliseconds, the same numbers. ``seqfm warm-up`` makes the default selection's copy.
    """
    key = (release, collection, tax_group, all_versions)
    if key in _JASPAR_CACHE:
        return _JASPAR_CACHE[key]
    if release not in releases():
        raise InputError(f"JASPAR release {release!r} is not shipped with pyjaspar; use one of "
                         f"{', '.join(releases())}")
    label = f"{release} {collection} {tax_group or 'all'}"
    stored = _jaspar_file(*key)
    dbase = _read_jaspar_file(stored, label) if stored is not None else None
    if dbase is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            db = _pyjaspar().jaspardb(release=release)
            kw = {} if tax_group in (None, "", "all") else {"tax_group": [tax_group]}
            found = db.fetch_motifs(collection=collection, all_versions=all_versions, **kw)
        if not found:
            raise InputError(f"JASPAR {release} has no matrix in collection {collection!r}"
                             f"{'' if not kw else f' for taxon {tax_group!r}'}; check jaspar.collection "
                             "(CORE, UNVALIDATED, ...) and jaspar.tax_group (vertebrates, insects, plants, ...)")
        ids, names, probs, fams, classes = [], [], [], [], []
        for m in found:
            fams.append("; ".join(m.tf_family or []))
            classes.append("; ".join(m.tf_class or []))
            ids.append(m.matrix_id)
            names.append(m.name)
            probs.append(_frequencies(np.array([m.counts[b] for b in "ACGT"], dtype=np.float64).T))
        dbase = Database(ids, names, probs, label, fams, classes)
        if stored is not None:
            _write_jaspar_file(stored, dbase)
    _JASPAR_CACHE[key] = dbase
    return dbase


#: bump when what :func:`_write_jaspar_file` stores changes
_JASPAR_FILE_FORMAT = 1


def _jaspar_file(release, collection, tax_group, all_versions) -> Path | None:
    """The on-disk copy of a JASPAR selection, named by all it depends on (None when pyjaspar's
    database file cannot be found)."""
    pyjaspar = _pyjaspar()
    try:
        source = pyjaspar.get_jaspardb_path(pyjaspar.jaspar_releases[release])
        st = os.stat(source)
    except Exception:  # another pyjaspar layout: no copy
        return None
    ident = json.dumps([_JASPAR_FILE_FORMAT, getattr(pyjaspar, "__version__", ""), release, collection,
                        tax_group, all_versions, str(source), st.st_size, st.st_mtime_ns])
    digest = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return Path(cache_dir("jaspar")) / f"{release}_{digest}.npz"


def _read_jaspar_file(path: Path, label: str) -> Database | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            flat, widths = z["probs"], z["widths"]
        probs = np.split(flat, np.cumsum(widths)[:-1])
        return Database(meta["ids"], meta["names"], probs, label, meta["families"], meta["classes"])
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: read pyjaspar's
        return None


def _write_jaspar_file(path: Path, db: Database) -> None:
    meta = {"ids": db.ids, "names": db.names, "families": db.families, "classes": db.classes}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            np.savez(fh, probs=np.concatenate(db.probs), widths=np.array([len(p) for p in db.probs]),
                     meta=np.array(json.dumps(meta)))
    except OSError as err:  # a read-only home: read pyjaspar's database every time
        log.debug("JASPAR selection not kept on disk (%s)", err)


def matrix_counts(ids: Sequence[str], release: str = JASPAR_RELEASE
                  ) -> list[tuple[str, np.ndarray] | None]:
    """Name and counts ``(W, 4)`` over A, C, G, T of each JASPAR matrix id (None: not in ``release``).

    ``release`` must be one of :func:`releases`.
    """
    db = _pyjaspar().jaspardb(release=release)
    out: list[tuple[str, np.ndarray] | None] = []
    for mid in ids:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = db.fetch_motif_by_id(mid)
        out.append(None if found is None else
                   (found.name, np.array([found.counts[b] for b in "ACGT"]).T))
    return out
