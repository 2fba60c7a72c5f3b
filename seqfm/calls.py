"""What a binding-site call is, for ``seqfm sites`` and ``seqfm scan`` alike: the labels of the
filters that make calls (cluster, JASPAR name, strand, the sequence namer of
:mod:`seqfm.labels`), one call per site (overlapping calls merged), the score column, and the
call table's files: BED6+ with a header line naming its extra columns, and GFF3."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import labels as labels_mod
from .browser import write_autosql
from .errors import InputError
from .io import atomic_write
from .scan_kernels import join_rows, merge_overlapping_kernel

log = logging.getLogger("seqfm")

BED_HEADER = ["chrom", "start", "end", "name", "score", "strand", "detector", "cluster",
              "activation", "p", "q", "match_name"]
MERGE_MODES = ("cluster", "all", "none")


# ---------------------------------------------------------------------- filter labels
@dataclass
class FilterLabels:
    """What ``interpret/filters.tsv`` says about each filter (defaults when absent)."""

    cluster: list[str]
    match_name: list[str]
    influence: np.ndarray | None = None
    #: filters whose JASPAR match lies on the reverse strand of their weights: their calls'
    #: strands are flipped so that a strand names the orientation of the matched motif
    flip: np.ndarray | None = None
    #: names each call after the cluster whose PWM explains its sequence best (seqfm.labels)
    namer: labels_mod.MotifNamer | None = None

    @classmethod
    def default(cls, n_filters: int) -> "FilterLabels":
        return cls(["."] * n_filters, ["."] * n_filters, None, np.zeros(n_filters, dtype=bool))

    def flipped(self, detector: np.ndarray) -> np.ndarray:
        """Whether each call's strand is to be flipped (filter index per call; -1 = CAM)."""
        detector = np.asarray(detector)
        if self.flip is None:
            return np.zeros(len(detector), dtype=bool)
        return (detector >= 0) & self.flip[np.maximum(detector, 0)]


def filter_name(i: int) -> str:
    """Detector name of filter ``i`` (0-based, the row of ``conv1.weight``)."""
    return f"filter_{i}"


def read_filter_labels(path: str | os.PathLike | None, n_filters: int, alphabet=None) -> FilterLabels:
    """Read cluster, best-match name and influence per filter from ``filters.tsv``.

    The file has one row per filter with a ``filter`` column (``filter_12`` or ``12``) and
    optionally ``cluster``, ``influence`` and ``match_name``; a missing file or column gives
    ``'.'`` (and no influence). A filter whose own match (``match_id``/``match_name``) has
    ``match_strand`` ``-`` (TomTom aligned the matrix to the filter's reverse complement) gets
    its calls' strands flipped, so that the strand is the matched motif's orientation. When
    ``motifs.tsv`` lies beside the ``interpret/`` folder (``results/{sample}/motifs.tsv``), a
    cluster's match names all of its filters' calls. With ``alphabet``, and ``motifs.tsv``
    and ``interpret/motifs.meme`` there, each call is named after the cluster whose PWM
    explains its sequence best (:mod:`seqfm.labels`).
    """
    labels = FilterLabels.default(n_filters)
    if path is None or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return labels
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a tab-separated filter table ({err})") from None
    if "filter" not in table.columns:
        raise InputError(f"{path}: no 'filter' column (found {', '.join(table.columns)})")
    influence = np.full(n_filters, np.nan)
    for line, r in enumerate(table.itertuples(index=False), start=2):
        name = str(getattr(r, "filter")).strip()
        try:
            i = int(name.rsplit("_", 1)[-1])
        except ValueError:
            raise InputError(f"{path} line {line}: filter {name!r} is not 'filter_<index>'") from None
        if not 0 <= i < n_filters:
            raise InputError(f"{path} line {line}: {name} is outside the model's {n_filters} filters")
        row = r._asdict()
        cl = str(row.get("cluster", ".") or ".").strip() or "."
        if cl not in (".", "") and cl.lstrip("-").isdigit():
            cl = f"cluster_{cl}"
        labels.cluster[i] = cl
        labels.match_name[i] = str(row.get("match_name", ".") or ".").strip() or "."
        has_match = bool(str(row.get("match_id", "") or "").strip()) or labels.match_name[i] != "."
        labels.flip[i] = has_match and str(row.get("match_strand", "") or "").strip() == "-"
        try:
            influence[i] = float(row.get("influence", "nan") or "nan")
        except ValueError:
            pass
    if np.isfinite(influence).any():
        labels.influence = influence
    _apply_motif_table(Path(path).parent.parent / "motifs.tsv", labels, n_filters)
    if alphabet is not None:
        labels.namer = labels_mod.load(Path(path).parent.parent, alphabet)
    return labels


def _apply_motif_table(path: Path, labels: FilterLabels, n_filters: int) -> None:
    """Cluster-level labels from ``motifs.tsv`` (beside ``interpret/``), when it exists.

    A cluster's JASPAR match (of its merged matrix) names its filters' calls; a filter's own
    match is kept where the cluster has none. Filters listed in a cluster's ``filters`` column
    (``filter_3,filter_17``) without a cluster in ``filters.tsv`` join that cluster.
    """
    if not path.is_file():
        return
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        log.warning("%s: not a readable motif table; clusters are labelled from filters.tsv only", path)
        return
    if "cluster" not in table.columns:
        return
    for r in table.to_dict("records"):
        cl = str(r.get("cluster", "")).strip()
        if not cl:
            continue
        if cl.lstrip("-").isdigit():
            cl = f"cluster_{cl}"
        match = str(r.get("match_name", "")).strip()
        members = [m.strip() for m in str(r.get("filters", "")).split(",") if m.strip()]
        for m in members:
            try:
                i = int(m.rsplit("_", 1)[-1])
            except ValueError:
                continue
            if 0 <= i < n_filters and labels.cluster[i] == ".":
                labels.cluster[i] = cl
        if match:
            for i in range(n_filters):
                if labels.cluster[i] == cl:
                    labels.match_name[i] = match


# ---------------------------------------------------------------------- one call per site
def merge_calls(calls: pd.DataFrame, labels: FilterLabels, mode: str = "cluster") -> pd.DataFrame:
    """Keep the best of overlapping calls of one group in one sequence.

    Groups: ``cluster`` — a filter's motif cluster (``labels.cluster``; a filter without one is
    its own group); ``all`` — every filter together; ``none`` — no merging. CAM calls are never
    merged with filter calls. Best = smallest p, then largest ``rel``, then smallest position.
    """
    if mode == "none" or calls.empty:
        return calls
    det = calls["detector"].to_numpy()
    if mode == "all":
        group = np.where(det < 0, "cam", "filters")
    else:
        cl = np.asarray(labels.cluster, dtype=object)
        group = np.array([("cam" if d < 0 else (cl[d] if cl[d] != "." else filter_name(d)))
                          for d in det], dtype=object)
    group = calls["row"].astype(str).to_numpy().astype(object) + "\t" + group.astype(object)
    order = np.lexsort((calls["pos"].to_numpy(), -calls["rel"].to_numpy(), calls["p"].to_numpy()))
    keep = merge_overlapping(calls["seq_start"].to_numpy(), calls["seq_end"].to_numpy(), group, order)
    return calls[keep]


def merge_overlapping(starts: np.ndarray, ends: np.ndarray, group: np.ndarray, order: np.ndarray
                      ) -> np.ndarray:
    """Greedy non-overlapping selection per group in the priority ``order`` (best first).

    Returns a bool mask of the kept rows: a row is kept when no kept row of its group overlaps
    it. Rows are visited in start order within their group, and an overlapping row starts
    less than the longest interval before this one ends, so each test looks at its
    neighbours only (a compiled loop, :func:`seqfm.scan_kernels.merge_overlapping_kernel`).
    """
    n = len(starts)
    if not n:
        return np.zeros(0, dtype=bool)
    gcode = pd.factorize(pd.Series(group, dtype=object))[0]
    starts = np.asarray(starts, np.int64)
    ends = np.asarray(ends, np.int64)
    by_start = np.lexsort((starts, gcode))
    rank = np.empty(n, np.int64)
    rank[by_start] = np.arange(n)
    longest = int((ends - starts).max())
    return merge_overlapping_kernel(starts, ends, gcode.astype(np.int64),
                                    np.asarray(order, np.int64), by_start, rank, longest)


# ---------------------------------------------------------------------- files
def score_of(q: np.ndarray) -> np.ndarray:
    """BED score: ``int(1000 * min(1, -log10(q) / 10))``."""
    q = np.clip(np.asarray(q, dtype=np.float64), 1e-300, 1.0)
    return np.floor(1000 * np.minimum(1.0, -np.log10(q) / 10.0)).astype(np.int64)


class _Columns:
    """Text of a call table's columns for the BED and GFF3 writers, each distinct value
    formatted and encoded once and shared by both (floats as ``%.4g``, -0.0 as 0; the rest as
    str, escaped per distinct value). A writer's column is ``(prefix, suffix, pad, texts,
    values)``: each row's index into the distinct ``texts`` (UTF-8), or with ``texts`` None
    integers in decimal zero-padded to ``pad`` digits, between ``prefix`` and ``suffix``."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self._parts: dict = {}

    def _distinct(self, col: str, floats: bool, escape=None):
        key = (col, floats, escape)
        if key not in self._parts:
            if floats:
                x = np.asarray(self.table[col], np.float64) + 0.0
                uniq, codes = np.unique(x, return_inverse=True)
                text = [f"{v:.4g}".encode() for v in uniq.tolist()]
            else:
                codes, uniq = pd.factorize(pd.Series(self.table[col]).astype(str), sort=False)
                text = [(escape(u) if escape is not None else u).encode() for u in uniq]
            self._parts[key] = (text, np.asarray(codes, np.int64).reshape(-1))
        return self._parts[key]

    def floats(self, col: str, prefix: str = "", suffix: str = "") -> tuple:
        """``prefix + %.4g + suffix`` of every value."""
        return (prefix, suffix, 0, *self._distinct(col, True))

    def strs(self, col: str, escape=None, prefix: str = "", suffix: str = "") -> tuple:
        """``prefix + value + suffix`` for every value as str."""
        return (prefix, suffix, 0, *self._distinct(col, False, escape))

    def ints(self, col: str, suffix: str = "", add: int = 0, prefix: str = "", pad: int = 0
             ) -> tuple:
        """Every integer (+ ``add``) in decimal (zero-padded to ``pad`` digits), between
        ``prefix`` and ``suffix``."""
        return (prefix, suffix, pad, None, np.asarray(self.table[col], np.int64) + add)

    def const(self, text: str) -> tuple:
        return (text, "", 0, [b""], np.zeros(len(self.table), np.int64))


def _write_rows(handle, columns: Sequence) -> None:
    """Write the rows of ``columns`` (see :class:`_Columns`; the last suffix ends the line)
    to a binary handle, the rows assembled in compiled code."""
    texts, kind, pad, pre, suf, vals = [], [], [], [], [], []
    for prefix, suffix, digits, distinct, v in columns:
        pre.append(len(texts))
        suf.append(len(texts) + 1)
        texts += [prefix.encode(), suffix.encode()]
        pad.append(digits)
        kind.append(distinct is None)
        if distinct is None:
            vals.append(v)
        else:
            vals.append(v + len(texts))
            texts += distinct
    offsets = np.zeros(len(texts) + 1, np.int64)
    offsets[1:] = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
    flat = np.frombuffer(b"".join(texts), np.uint8)
    rows = np.ascontiguousarray(np.stack(vals, axis=1), np.int64)
    handle.write(join_rows(flat, offsets, rows, np.array(kind, np.int64), np.array(pad, np.int64),
                           np.array(pre, np.int64), np.array(suf, np.int64)).tobytes())


def write_calls(table: pd.DataFrame, bed: str | os.PathLike, gff3: str | os.PathLike,
                protein: bool = False) -> None:
    """:func:`write_bed` and :func:`write_gff3` of one table (its values formatted once), and
    the BED's autoSql beside it (``sites.bed`` -> ``sites.as``; see :mod:`seqfm.browser`)."""
    cols = _Columns(table)
    write_bed(table, bed, cols)
    write_gff3(table, gff3, protein, cols)
    write_autosql(Path(bed).with_suffix(".as"))


def write_bed(table: pd.DataFrame, path: str | os.PathLike, _cols: _Columns | None = None) -> None:
    """Write the calls as BED6+6 with the header line ``#chrom start end name score strand ...``
    (the extra columns described by :data:`seqfm.browser.SITES_AS`)."""
    c, tab = _cols or _Columns(table), "\t"
    cols = [c.strs("chrom", suffix=tab), c.ints("start", tab), c.ints("end", tab),
            c.strs("name", suffix=tab), c.ints("score", tab), c.strs("strand", suffix=tab),
            c.strs("detector", suffix=tab), c.strs("cluster", suffix=tab),
            c.floats("activation", suffix=tab), c.floats("p", suffix=tab),
            c.floats("q", suffix=tab), c.strs("match_name", suffix="\n")]
    with atomic_write(path, "wb") as handle:
        handle.write(("#" + "\t".join(BED_HEADER) + "\n").encode())
        _write_rows(handle, cols)


_SEQID_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:^*$@!+_?-|")


def gff3_escape(text: str, seqid: bool = False) -> str:
    """Escape a GFF3 column-9 value (``; = & ,``, tab, newline, ``%`` and control characters)
    or, with ``seqid``, every character outside ``[a-zA-Z0-9.:^*$@!+_?-|]``."""
    out = []
    for ch in str(text):
        if seqid:
            bad = ch not in _SEQID_OK
        else:
            bad = ch in ";=&,%\t\n\r" or ord(ch) < 32 or ord(ch) == 127
        if bad:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def write_gff3(table: pd.DataFrame, path: str | os.PathLike, protein: bool = False,
               _cols: _Columns | None = None) -> None:
    """Write the calls as GFF3 (1-based, inclusive ends).

    Type ``TF_binding_site`` (SO:0000235) for DNA, ``binding_site`` (SO:0000409) for protein;
    column 6 is the activation; attributes ``ID``, ``Name``, ``detector``, ``cluster``,
    ``activation``, ``p``, ``q`` and ``match``.
    """
    c, tab = _cols or _Columns(table), "\t"
    n = len(table)
    so_type = "binding_site" if protein else "TF_binding_site"
    # column 9: key=value pairs, each value column carrying its key and the separator after it
    attrs = [("ID=site_", ";", 7, None, np.arange(1, n + 1, dtype=np.int64)),
             c.strs("name", gff3_escape, "Name=", ";"),
             c.strs("detector", gff3_escape, "detector=", ";"),
             c.strs("cluster", gff3_escape, "cluster=", ";"),
             c.floats("activation", "activation=", ";"), c.floats("p", "p=", ";"),
             c.floats("q", "q=", ";"), c.strs("match_name", gff3_escape, "match=", "\n")]
    cols = [c.strs("chrom", _seqid_escape, suffix=tab),
            c.const(f"seqfm{tab}{so_type}{tab}"),
            c.ints("start", tab, add=1), c.ints("end", tab),
            c.floats("activation", suffix=tab), c.strs("strand", suffix=tab),
            c.const(f".{tab}"), *attrs]
    with atomic_write(path, "wb") as handle:
        handle.write(b"##gff-version 3\n")
        _write_rows(handle, cols)


def _seqid_escape(text: str) -> str:
    return gff3_escape(text, seqid=True)
