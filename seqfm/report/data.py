"""Reading a sample's results folder for the report: the files, the feature maps, the summary.

Everything here reads what the other stages wrote under ``results/{sample}/`` and turns it into
plain values (tables, dicts, arrays); nothing draws or writes HTML. An absent optional file gives
None; a malformed one gives :class:`~seqfm.errors.InputError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

#: sequences whose feature maps the report draws
MAX_FEATUREMAPS = 4


# =========================================================================== values in tables
def is_missing(v: Any) -> bool:
    """Whether a table cell holds no value (None, NaN, NA); a value pandas cannot judge is there."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def numeric(series: pd.Series) -> pd.Series:
    """A column as numbers; NaN where a cell is not one."""
    return pd.to_numeric(series, errors="coerce")


def as_float(value: Any) -> float:
    """A value as a float; NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# =========================================================================== reading files
def read_json(path: Path) -> dict | None:
    """A JSON object, or None when the file is absent; InputError when it is malformed."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_tsv(path: Path, comment_header: bool = False) -> pd.DataFrame | None:
    """A tab-separated table with a header row (``#``-prefixed for BED), or None when absent."""
    if not path.is_file():
        return None
    try:
        if comment_header:
            with open(path) as handle:
                first = handle.readline()
            if first.startswith("#"):
                df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None,
                                 quoting=3)
                df.columns = [c.lstrip("#").strip() for c in df.columns]
            else:
                df = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)
                df.columns = ["chrom", "start", "end", "name", "score", "strand", *[
                    f"col{i}" for i in range(7, df.shape[1] + 1)]][: df.shape[1]]
        else:
            df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a tab-separated table with a header row ({err})") from None
    return df


def config_digest(config: Mapping) -> str:
    """A short, stable digest of a configuration mapping (sorted-key JSON, SHA-256, 12 hex)."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class SampleResults:
    """Everything the report shows for one sample, read from ``results/{sample}/``.

    Attributes that are None were not found; ``notes`` says why per section.
    """

    root: Path
    sample: str
    dataset: dict | None = None
    prepared: pd.DataFrame | None = None
    model: dict | None = None
    metrics: dict | None = None
    epochs: pd.DataFrame | None = None
    motifs: pd.DataFrame | None = None
    filters: pd.DataFrame | None = None
    sites: pd.DataFrame | None = None
    featuremaps: dict | None = None
    inputs: dict = field(default_factory=dict)
    config_digest: str | None = None
    truth: pd.DataFrame | None = None
    notes: dict = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def exists(self, *parts: str) -> bool:
        return self.path(*parts).exists()


def _read_npz(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{path}: not a readable .npz archive of plain arrays ({err})") from None


def _read_truth_bed(path: Path) -> pd.DataFrame:
    df = read_tsv(path, comment_header=True)
    if df is None:
        raise InputError(f"{path}: truth BED not found")
    for col in ("start", "end"):
        if col not in df.columns:
            raise InputError(f"{path}: truth BED needs chrom, start, end columns")
        df[col] = numeric(df[col])
    return df.dropna(subset=["start", "end"])


def load(results: str | os.PathLike, sample: str | None = None, inputs: Mapping[str, str] | None = None,
         config_digest: str | None = None, truth: str | os.PathLike | None = None) -> SampleResults:
    """Read one sample's results folder.

    Parameters
    ----------
    results : ``results/{sample}``
    sample : display name (default: the folder's name)
    inputs : what the sample was made from (``{"positives": path, ...}``), shown as given
    config_digest : digest of the workflow configuration (see :func:`config_digest`)
    truth : optional BED of known sites (the example's planted sites), drawn on the feature maps
    """
    root = Path(results)
    if not root.is_dir():
        raise InputError(f"{root}: results folder not found")
    r = SampleResults(root=root, sample=sample or root.resolve().name, inputs=dict(inputs or {}),
                      config_digest=config_digest)
    r.dataset = read_json(root / "dataset" / "dataset.json")
    r.prepared = read_tsv(root / "prepared.tsv")
    if r.prepared is not None and len(r.prepared.columns) and "name" not in r.prepared.columns:
        raise InputError(f"{root / 'prepared.tsv'}: no 'name' column (expected name chrom start end "
                         "strand label split source sequence)")
    r.model = read_json(root / "model.json")
    r.metrics = read_json(root / "metrics.json")
    r.epochs = read_tsv_csv(root / "train" / "epochs.csv")
    r.motifs = read_tsv(root / "motifs.tsv")
    r.filters = read_tsv(root / "interpret" / "filters.tsv")
    r.sites = read_tsv(root / "sites.bed", comment_header=True)
    r.featuremaps = _read_npz(root / "interpret" / "featuremaps.npz")
    if truth:
        r.truth = _read_truth_bed(Path(truth))
    return r


def read_tsv_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a CSV table ({err})") from None


# =========================================================================== feature maps
def _first(z: Mapping, *keys: str):
    for k in keys:
        if k in z:
            return z[k]
    return None


@dataclass
class FeatureMap:
    """One sequence's evidence along its positions, in sequence coordinates (0-based)."""

    name: str
    length: int
    cam: np.ndarray | None  # (Lc,)
    cam_x: np.ndarray | None  # (Lc,) centre position of each CAM value
    acts: list[tuple[str, np.ndarray, np.ndarray]]  # (filter name, x (L1,), activation (L1,))
    calls: list[dict]  # {"start", "end", "strand", "label"}
    truth: list[dict]
    score: float | None = None
    where: str = ""


def _as_str_list(a) -> list[str]:
    if a is None:
        return []
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a).ravel().tolist()]


def _intervals_from_npz(z: Mapping, prefix: str, i: int, names: list[str]) -> list[dict] | None:
    """Calls or truth stored as parallel arrays ``{prefix}_seq|_index|_row``, ``_start``, ``_end``
    (optionally ``_strand``, ``_name|_label|_detector|_motif``), or as per-sequence name arrays."""
    pref = [prefix, prefix + "s"] if not prefix.endswith("s") else [prefix, prefix[:-1]]
    def key(*suffixes):
        return _first(z, *[f"{p}_{s}" for p in pref for s in suffixes])
    start, end = key("start", "starts"), key("end", "ends")
    if start is None or end is None:
        return None
    start, end = np.asarray(start).ravel(), np.asarray(end).ravel()
    seq = key("seq", "index", "row", "seq_index", "sequence")
    if seq is not None:
        seq = np.asarray(seq).ravel()
        if seq.dtype.kind in "US":
            rows = np.array([s == names[i] for s in _as_str_list(seq)])
        else:
            rows = seq.astype(int) == i
    else:
        sname = key("name", "names")
        if sname is None:
            return None
        rows = np.array([s == names[i] for s in _as_str_list(sname)])
    strand = key("strand", "strands")
    strand = _as_str_list(strand) if strand is not None else ["."] * len(start)
    labels = [_as_str_list(a) for a in (key("label"), key("match_name"), key("cluster"), key("motif"),
                                         key("name"), key("detector"), key("filter")) if a is not None]
    labels = [lab for lab in labels if len(lab) == len(start)]
    detector = key("detector")
    detector = _as_str_list(detector) if detector is not None else [""] * len(start)
    out = []
    for j in np.flatnonzero(rows):
        label = next((lab[j] for lab in labels if lab[j] not in ("", ".", "nan")), "")
        det = detector[j] if j < len(detector) else ""
        out.append({"start": float(start[j]), "end": float(end[j]),
                    "strand": strand[j] if j < len(strand) else ".", "label": label,
                    "detector": det, "cam": det == "cam"})
    return out


def _intervals_from_bed(bed: pd.DataFrame | None, row: pd.Series | None, name: str, length: int,
                        label_cols: Sequence[str]) -> list[dict]:
    """Intervals of a genome- or sequence-coordinate BED that fall in one sequence, moved to
    sequence coordinates (a sequence on the minus strand is flipped)."""
    if bed is None or not len(bed) or "chrom" not in bed.columns:
        return []
    starts, ends = numeric(bed["start"]), numeric(bed["end"])
    offset, flip, chrom = 0, False, name
    if row is not None and str(row.get("chrom", "")) not in ("", "nan") and not is_missing(
            pd.to_numeric(row.get("start"), errors="coerce")):
        chrom, offset = str(row["chrom"]), int(float(row["start"]))
        flip = str(row.get("strand", "+")) == "-"
    hit = (bed["chrom"] == chrom) & (starts < offset + length) & (ends > offset)
    out = []
    for j in np.flatnonzero(hit.to_numpy()):
        s, e = float(starts.iloc[j]) - offset, float(ends.iloc[j]) - offset
        strand = str(bed["strand"].iloc[j]) if "strand" in bed.columns else "."
        if flip:
            s, e = length - e, length - s
            strand = {"+": "-", "-": "+"}.get(strand, strand)
        label = next((str(bed[c].iloc[j]) for c in label_cols
                      if c in bed.columns and str(bed[c].iloc[j]) not in ("", ".", "nan")), "")
        detector = str(bed["detector"].iloc[j]) if "detector" in bed.columns else ""
        out.append({"start": s, "end": e, "strand": strand, "label": label, "detector": detector,
                    "cam": detector == "cam"})
    return out


def feature_maps(r: SampleResults, n: int = MAX_FEATUREMAPS, top_filters: int = 4) -> list[FeatureMap]:
    """The ``n`` best-scoring sequences of ``interpret/featuremaps.npz`` (by ``logits`` when the
    archive has them, else in its order) with the activations of its first ``top_filters``
    filters (the archive lists them most influential first), the CAM, the calls on the sequence
    (``call_*`` arrays, else ``sites.bed`` moved to sequence coordinates) and the known sites
    (``truth_*`` arrays, else the ``truth`` BED given to :func:`load`)."""
    z = r.featuremaps
    if not z:
        return []
    names = _as_str_list(_first(z, "names", "name", "seq_names"))
    codes = _first(z, "codes")
    filters = _first(z, "filters", "activations", "acts")
    cam = _first(z, "cam", "cams")
    if not names:
        count = next((len(a) for a in (codes, filters, cam) if a is not None), 0)
        names = [f"sequence {i + 1}" for i in range(count)]
    N = len(names)
    length = int(codes.shape[1]) if codes is not None and np.ndim(codes) == 2 else None
    if length is None and r.dataset:
        length = int(r.dataset.get("length") or 0) or None
    filter_names = _as_str_list(_first(z, "filter_names", "filter_ids"))
    scores = _first(z, "logits", "scores", "score", "prob", "probs", "predictions")
    order = list(range(N))
    if scores is not None and len(np.ravel(scores)) == N:
        scores = np.ravel(scores).astype(float)
        order = list(np.argsort(-scores, kind="stable"))
    else:
        scores = None
    cam_off = _first(z, "cam_offset", "cam_start")
    f_off = _first(z, "filters_offset", "filter_offset", "activations_offset", "cam_offset", "offset")
    width = _first(z, "filter_width", "width")
    prep = None
    if r.prepared is not None and "name" in r.prepared.columns:
        prep = r.prepared.drop_duplicates("name").set_index("name", drop=False)
    out = []
    for i in order[:n]:
        name = names[i]
        A = None if filters is None else np.asarray(filters[i], dtype=float)
        if A is not None and A.ndim == 3:  # (k, strands, L1): strongest strand
            A = A.max(axis=1)
        C = None if cam is None else np.asarray(cam[i], dtype=float).ravel()
        L = length or max(a.shape[-1] for a in (A, C) if a is not None)
        acts = []
        if A is not None and A.ndim == 2 and A.shape[1]:
            L1 = A.shape[1]
            if f_off is not None:
                x0 = float(np.ravel(f_off)[0])
            elif width is not None:
                x0 = (float(np.ravel(width)[0]) - 1) / 2
            else:
                x0 = (L - L1) / 2
            x = x0 + np.arange(L1)
            # the archive lists its filters most influential first: keep that order (and colours)
            top = range(min(top_filters, A.shape[0]))
            for k in top:
                fname = filter_names[k] if k < len(filter_names) else f"filter {k}"
                acts.append((fname, x, A[k]))
        cam_x = None
        if C is not None and C.size:
            c0 = float(np.ravel(cam_off)[0]) if cam_off is not None else (L - C.size) / 2
            cam_x = c0 + np.arange(C.size)
        row = prep.loc[name] if prep is not None and name in prep.index else None
        calls = _intervals_from_npz(z, "calls", i, names)
        if calls is None:
            calls = _intervals_from_bed(r.sites, row, name, L, ("match_name", "cluster", "detector", "name"))
        truth = _intervals_from_npz(z, "truth", i, names)
        if not truth and r.truth is not None:
            truth = _intervals_from_bed(r.truth, row, name, L, ("name", "motif"))
        where = ""
        if row is not None and str(row.get("chrom", "")) not in ("", "nan"):
            where = f"{row['chrom']}:{row['start']}-{row['end']}"
        out.append(FeatureMap(name=name, length=L, cam=C, cam_x=cam_x, acts=acts, calls=calls,
                              truth=truth, score=None if scores is None else float(scores[i]),
                              where=where))
    return out


# =========================================================================== summaries
def logo_path(r: SampleResults, row: Mapping) -> Path | None:
    """The PNG logo of a ``motifs.tsv`` row (its ``logo`` column, else ``logos/motif_{cluster}``);
    None when there is none inside the results folder."""
    cands = []
    logo = str(row.get("logo", "") or "")
    if logo and logo not in ("nan", "."):
        cands += [logo, f"logos/{logo}"]
    for key in ("cluster", "rank"):
        v = str(row.get(key, "") or "")
        if v and v != "nan":
            cands += [f"logos/motif_{v}.png", f"logos/motif_{v.zfill(2)}.png"]
    for c in cands:
        c = c if c.endswith(".png") else (c[:-4] + ".png" if c.endswith(".svg") else c)
        p = (r.root / c).resolve()
        try:
            p.relative_to(r.root.resolve())
        except ValueError:  # a path outside the results folder is not read
            continue
        if p.is_file():
            return p
    return None


def sorted_motifs(df: pd.DataFrame) -> pd.DataFrame:
    """Motif clusters best first: by ``influence`` (descending), else by ``rank``."""
    df = df.copy()
    if "influence" in df.columns and numeric(df["influence"]).notna().any():
        return df.assign(_k=-numeric(df["influence"]).fillna(-np.inf)).sort_values("_k", kind="stable").drop(columns="_k")
    if "rank" in df.columns:
        return df.assign(_k=numeric(df["rank"])).sort_values("_k", kind="stable").drop(columns="_k")
    return df


def _get(d: Mapping | None, *keys, default=None):
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return default
        d = d[k]
    return d


def sample_summary(r: SampleResults) -> dict:
    """``{"sample", "alphabet", "n", "auroc", "auprc", "baseline_auroc", "top_motif", "top_q",
    "n_motifs", "n_sites"}`` for the index page."""
    out = {"sample": r.sample, "alphabet": (r.dataset or {}).get("alphabet") or (r.model or {}).get("alphabet"),
           "n": (r.dataset or {}).get("n"), "auroc": _get(r.metrics, "test", "auroc"),
           "auprc": _get(r.metrics, "test", "auprc"), "baseline_auroc": _get(r.metrics, "baseline", "auroc"),
           "top_motif": None, "top_q": None, "top_logo": None, "n_motifs": None, "n_sites": None}
    if r.motifs is not None:
        out["n_motifs"] = len(r.motifs)
        if len(r.motifs):
            top = sorted_motifs(r.motifs).iloc[0]
            q = as_float(top.get("match_q"))
            name = top.get("match_name", "")
            if str(name) in ("", ".", "nan") or is_missing(name):
                name = top.get("consensus", "") or f"cluster {top.get('cluster', '')}"
                q = float("nan")
            out["top_motif"], out["top_q"] = str(name), None if pd.isna(q) else float(q)
            out["top_logo"] = logo_path(r, top)
    if r.sites is not None:
        out["n_sites"] = len(r.sites)
    return out


