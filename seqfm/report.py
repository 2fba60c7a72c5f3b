"""The motif report: one self-contained HTML page per sample and an index page linking them.

The report only reads files that the other stages wrote under ``results/{sample}/`` (it never
imports torch) and writes one HTML file:

* **self-contained** -- every image is inlined as a base64 ``data:`` URI, the style sheet is inline,
  there is no script and no font, style sheet or image from any host; the page carries a
  Content-Security-Policy that forbids scripts and any load other than inline images, so it opens
  the same from a results folder, a web server or an e-mail attachment;
* **safe** -- every string that came from an input file (sequence names from FASTA headers, BED
  names, sample names, motif names, paths) goes through :func:`html.escape`;
* **bounded** -- long tables are capped on the page (top rows only) and link to the full files
  with relative links.

A stage whose outputs are missing (e.g. a run without binding-site calls) leaves its section out
with a note saying which file was missing; nothing here fails on an absent optional file. A
malformed file is reported as :class:`~seqfm.errors.InputError` naming the file.

Sections, top to bottom: what was run, performance, motifs, binding sites, feature maps,
genome-wide scan (when a ``scan/`` folder exists), downloads.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .io import atomic_write

#: rows shown on the page before a table links to its full file
MAX_MOTIF_ROWS = 30
MAX_SITE_ROWS = 25
MAX_FILTER_LOGOS = 24
MAX_FEATUREMAPS = 4
#: largest image inlined (bytes); a larger one is linked instead
MAX_IMAGE_BYTES = 4 << 20
#: small text outputs are also embedded as downloadable data URIs, up to this many bytes in all
EMBED_BUDGET = 2 << 20
EMBED_MAX_FILE = 512 << 10

#: one colour cycle for every plot the report draws (and the CSS accents)
PALETTE = ["#1f6fb2", "#e07b39", "#3a9e5a", "#c2404b", "#7b5ea7", "#8c6d31", "#d16fa8", "#5f6b73"]
ACCENT = PALETTE[0]
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": None,  # set in _pyplot()
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "svg.fonttype": "none",
}

_SAMPLE_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]+$")


# =========================================================================== small helpers
def esc(value: Any) -> str:
    """HTML-escape any value (``None`` -> empty); quotes too, so it is safe in attributes."""
    return "" if value is None else html.escape(str(value), quote=True)


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def fmt_num(v: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, an integer as is, a missing value as an en dash."""
    if _is_missing(v):
        return "–"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return esc(v)
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    return f"{f:.{digits}f}"


def fmt_p(v: Any) -> str:
    """A p/q/E-value: fixed for >= 0.001, scientific below (``3.2e-07``)."""
    if _is_missing(v):
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return esc(v)
    if f == 0:
        return "0"
    return f"{f:.3f}" if f >= 1e-3 else f"{f:.1e}"


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def rel_href(path: str | os.PathLike) -> str:
    """A relative link, percent-encoded and escaped for an ``href`` attribute."""
    text = Path(path).as_posix()
    return esc(urllib.parse.quote(text, safe="/._-~"))


_MIME = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def image_mime(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG or GIF from its magic bytes; None for anything else."""
    for magic, mime in _MIME.items():
        if data.startswith(magic):
            return mime
    return None


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def img_tag(path: Path | None, alt: str, cls: str = "", title: str | None = None, scale: float = 1.0) -> str:
    """An ``<img>`` with the picture inlined; a short note when it is missing, not an image or
    too large (then linked)."""
    if path is None or not Path(path).is_file():
        return f'<span class="muted">no image{": " + esc(Path(path).name) if path else ""}</span>'
    data = Path(path).read_bytes()
    mime = image_mime(data)
    if mime is None:
        return f'<span class="muted">{esc(Path(path).name)} is not a PNG/JPEG image</span>'
    if len(data) > MAX_IMAGE_BYTES:
        return f'<span class="muted">{esc(Path(path).name)} ({fmt_bytes(len(data))}) is too large to inline</span>'
    return png_tag(data, alt, cls, title, mime, scale)


def png_tag(data: bytes, alt: str, cls: str = "", title: str | None = None, mime: str = "image/png",
            scale: float = 1.0) -> str:
    """An ``<img>`` of PNG bytes, its display size ``scale`` times its pixel size."""
    w, h = _image_size(data)
    size = f' width="{max(1, round(w * scale))}" height="{max(1, round(h * scale))}"' if w else ""
    t = f' title="{esc(title)}"' if title else ""
    c = f' class="{esc(cls)}"' if cls else ""
    return f'<img{c} src="{data_uri(data, mime)}" alt="{esc(alt)}"{t}{size} loading="eager">'


def _image_size(data: bytes) -> tuple[int, int] | tuple[None, None]:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None, None


# =========================================================================== reading inputs
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


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _f(value: Any) -> float:
    """A value as a float; NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def config_digest(config: Mapping) -> str:
    """A short, stable digest of a configuration mapping (sorted-key JSON, SHA-256, 12 hex)."""
    import hashlib

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
        df[col] = _num(df[col])
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


# =========================================================================== plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from cycler import cycler

    style = dict(STYLE, **{"axes.prop_cycle": cycler(color=PALETTE)})
    plt.rcParams.update(style)
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    _pyplot().close(fig)
    return buf.getvalue()


def _plain(text: Any) -> str:
    """A string safe for matplotlib text (no mathtext)."""
    return str(text).replace("$", r"\$")


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
    starts, ends = _num(bed["start"]), _num(bed["end"])
    offset, flip, chrom = 0, False, name
    if row is not None and str(row.get("chrom", "")) not in ("", "nan") and not _is_missing(
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


def _union(intervals: Sequence[dict]) -> list[tuple[float, float]]:
    spans = sorted((iv["start"], iv["end"]) for iv in intervals)
    out: list[list[float]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def featuremap_png(fm: FeatureMap) -> bytes:
    """Position against the top filters' activations (upper panel), the class-activation map
    (middle) and a track of the calls (lower: one row per drawn filter in its colour, the other
    filters' calls merged, the CAM calls) under the known sites; known sites are shaded in the
    upper panels. PNG bytes."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    colour = {fname: PALETTE[j % len(PALETTE)] for j, (fname, _, _) in enumerate(fm.acts)}
    rows: list[tuple[str, list[dict], str, bool]] = []  # label, intervals, colour, merged
    if fm.truth:
        rows.append(("known sites", fm.truth, "#3a9e5a", False))
    cam_calls = [c for c in fm.calls if c.get("cam")]
    if cam_calls:
        rows.append(("CAM calls", cam_calls, "#5f6b73", False))
    for fname, _, _ in fm.acts:
        mine = [c for c in fm.calls if not c.get("cam") and c.get("detector") == fname]
        if mine:
            rows.append((_plain(fname), mine, colour[fname], False))
    other = [c for c in fm.calls if not c.get("cam") and c.get("detector") not in colour]
    if other:
        rows.append((f"{len(other)} other calls", other, "#b9c0c6", True))
    if not rows:
        rows.append(("calls", [], "#5f6b73", False))
    rows = rows[::-1]  # first row on top
    n = len(rows)
    fig, (a1, a2, a3) = plt.subplots(
        3, 1, figsize=(9.6, 3.3 + 0.26 * n), sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.2, 0.34 * n + 0.2], "hspace": 0.14})
    for fname, x, y in fm.acts:
        a1.plot(x, y, lw=1.1, color=colour[fname], label=_plain(fname))
    a1.set_ylabel("filter\nactivation")
    if fm.acts:
        a1.legend(loc="lower left", ncol=min(6, len(fm.acts)), bbox_to_anchor=(0, 1.0), borderaxespad=0.2,
                  handlelength=1.4, columnspacing=1.2)
    else:
        a1.text(0.5, 0.5, "no filter activations recorded", ha="center", va="center",
                transform=a1.transAxes, color="#888888")
    if fm.cam is not None and fm.cam_x is not None:
        a2.fill_between(fm.cam_x, 0, fm.cam, color="#5f6b73", alpha=0.30, lw=0)
        a2.plot(fm.cam_x, fm.cam, color="#3d454b", lw=0.9)
        a2.axhline(0, color="#999999", lw=0.6)
    else:
        a2.text(0.5, 0.5, "no class-activation map", ha="center", va="center", transform=a2.transAxes,
                color="#888888")
    a2.set_ylabel("CAM")
    for iv in fm.truth:
        for ax in (a1, a2):
            ax.axvspan(iv["start"], iv["end"], color="#3a9e5a", alpha=0.12, lw=0)
    a3.set_ylim(-0.15, n - 0.05)
    a3.set_yticks(range(n), [r[0] for r in rows])
    a3.grid(False)
    a3.spines["left"].set_visible(False)
    a3.tick_params(axis="y", length=0)
    for k, (_, intervals, col, merged) in enumerate(rows):
        if merged:
            for a, b in _union(intervals):
                a3.add_patch(Rectangle((a, k - 0.2), max(b - a, 1), 0.4, color=col, lw=0))
            continue
        labelled = len(intervals) <= 8
        for iv in intervals:
            s, e = iv["start"], iv["end"]
            a3.add_patch(Rectangle((s, k - 0.2), max(e - s, 1), 0.4, color=col, alpha=0.75, lw=0))
            arrow = {"+": "\u25b6", "-": "\u25c0"}.get(iv.get("strand", ""), "")
            label = iv.get("label") or ""
            if label in (iv.get("detector"), "cam"):
                label = ""
            text = f"{arrow} {_plain(label[:16])}".strip() if labelled else ""
            if text:
                a3.text((s + e) / 2, k + 0.2, text, ha="center", va="bottom", fontsize=6, color=col,
                        clip_on=True)
    a3.set_xlim(0, fm.length)
    a3.set_xlabel("position in sequence")
    fig.align_ylabels((a1, a2, a3))
    return _png(fig)


# =========================================================================== HTML
CSS = """
:root{--fg:#1d2329;--muted:#6b7680;--line:#dfe3e8;--bg:#f5f7f9;--card:#fff;--accent:%(accent)s}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:var(--fg);background:var(--bg)}
header.top{background:#16324f;color:#fff;padding:22px 0 16px}
header.top h1{margin:0;font-size:24px;font-weight:600;letter-spacing:.2px}
header.top .sub{color:#c5d3e0;font-size:13px;margin-top:4px}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
nav.toc{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line)}
nav.toc .wrap{display:flex;gap:18px;flex-wrap:wrap;padding-top:9px;padding-bottom:9px}
nav.toc a{color:var(--fg);text-decoration:none;font-size:13px;font-weight:500}
nav.toc a:hover{color:var(--accent)}
section.card{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:18px 0;
 padding:18px 22px}
section.card h2{margin:0 0 12px;font-size:18px;font-weight:600;border-bottom:2px solid var(--accent);
 display:inline-block;padding-bottom:2px}
h3{font-size:14px;margin:16px 0 8px;font-weight:600}
a{color:var(--accent)}
.muted{color:var(--muted)}
.note{background:#fff8e6;border-left:3px solid #e0a43a;padding:8px 12px;margin:8px 0;font-size:13px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:4px 0 12px}
.kpi{flex:1 1 150px;border:1px solid var(--line);border-radius:6px;padding:10px 14px;background:#fbfcfd}
.kpi .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.kpi .l{font-size:12px;color:var(--muted)}
.kpi .d{font-size:12px;color:var(--muted)}
table{border-collapse:collapse;width:100%%;font-size:13px}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
th{background:#f0f3f6;font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table.kv{width:auto;min-width:50%%}
table.kv th{background:none;width:220px;color:var(--muted);font-weight:500}
.figs{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.figs figure{margin:0;flex:1 1 300px;max-width:540px}
figure img,img.fig{max-width:100%%;height:auto;display:block}
figcaption{font-size:12px;color:var(--muted);margin-top:4px}
figure.fmap{margin:18px 0 8px;border-top:1px solid var(--line);padding-top:10px}
figure.fmap figcaption{font-size:13px;color:var(--fg);margin:0 0 4px}
img.thumb{height:auto;width:auto;max-width:200px;max-height:110px;display:block}
td.logo img{max-width:320px;height:auto}
table.motifs th,table.motifs td{padding:6px 5px}
table.motifs td.match{min-width:170px}
table.motifs .cl{font-size:11px}
table.motifs tbody tr{background:none}
table.motifs td{border-bottom:1px solid var(--line)}
.bar.small{width:44px}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:10px;background:#e8eef5;
 color:#31465c;margin-left:4px;white-space:nowrap}
.badge.ok{background:#e3f3e8;color:#216e3a}
.badge.ns{background:#f2f2f2;color:#777}
.bar{display:inline-block;width:70px;height:8px;background:#e8ecf0;border-radius:4px;vertical-align:middle;
 margin-left:6px;overflow:hidden}
.bar>i{display:block;height:100%%;background:var(--accent)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}
.gallery figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff}
.gallery img{max-width:100%%;height:auto}
details summary{cursor:pointer;color:var(--accent);font-weight:500;margin:8px 0}
ul.dl{list-style:none;padding:0;margin:0;columns:2}
ul.dl li{padding:3px 0}
footer{color:var(--muted);font-size:12px;padding:14px 0 30px}
@media print{nav.toc{display:none}section.card{break-inside:avoid-page}}
""" % {"accent": ACCENT}

#: no script, no connection, nothing loaded except inline images and the inline style sheet
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; "
       "connect-src 'none'; font-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; "
       "form-action 'none'")


def _page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    nav_html = f'<nav class="toc"><div class="wrap">{links}</div></nav>' if nav else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<meta name=\"generator\" content=\"seqfm {esc(__version__)}\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header class=\"top\"><div class=\"wrap\"><h1>{esc(title)}</h1>"
        f"<div class=\"sub\">{subtitle}</div></div></header>\n{nav_html}\n"
        f"<main class=\"wrap\">\n{body}\n</main>\n"
        f"<footer class=\"wrap\">Written by seqfm {esc(__version__)} on {esc(_now())}. "
        "This page is self-contained: every figure is embedded and it loads nothing from the network; "
        "links to data files are relative to the page.</footer>\n</body>\n</html>\n")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section class="card" id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{content}\n</section>'


def _note(text: str) -> str:
    """A note; ``text`` is already HTML (escape inputs before)."""
    return f'<p class="note">{text}</p>'


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _file_link(r: SampleResults, rel: str, label: str | None = None) -> str:
    p = r.path(rel)
    if not p.exists():
        return f'<span class="muted">{esc(label or rel)} (not written)</span>'
    return f'<a href="{rel_href(rel)}">{esc(label or rel)}</a>'


def _kpi(value: str, label: str, detail: str = "") -> str:
    d = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="kpi"><div class="v">{value}</div><div class="l">{esc(label)}</div>{d}</div>'


def _get(d: Mapping | None, *keys, default=None):
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return default
        d = d[k]
    return d


# --------------------------------------------------------------------------- sections
def section_run(r: SampleResults) -> str:
    ds, m, model = r.dataset or {}, r.metrics or {}, r.model or {}
    rows: list[tuple[str, str]] = [("sample", esc(r.sample))]
    for k, v in r.inputs.items():
        if v not in (None, ""):
            rows.append((f"input: {k}", f'<span class="mono">{esc(v)}</span>'))
    alphabet = ds.get("alphabet") or model.get("alphabet")
    if alphabet:
        policy = ds.get("policy") or model.get("policy")
        rows.append(("alphabet", esc(alphabet) + (f' <span class="muted">(ambiguity: {esc(policy)})</span>'
                                                  if policy else "")))
    tracks = ds.get("tracks") or model.get("tracks") or []
    files = ds.get("track_files") or []
    if tracks or "tracks" in ds:
        if tracks:
            items = [esc(t) + (f' <span class="muted mono">{esc(files[i])}</span>' if i < len(files) else "")
                     for i, t in enumerate(tracks)]
            rows.append(("conservation tracks", "<br>".join(items)))
        else:
            rows.append(("conservation tracks", '<span class="muted">none</span>'))
    if ds:
        n, npos = ds.get("n"), ds.get("n_positive")
        txt = f"{fmt_num(n)} sequences"
        if npos is not None and n:
            txt += f" ({fmt_num(npos)} positive, {fmt_num(n - npos)} negative)"
        if ds.get("length"):
            txt += f" of {fmt_num(ds['length'])} positions"
        rows.append(("dataset", txt))
        splits = ds.get("splits") or {}
        if splits:
            rows.append(("split", ", ".join(f"{esc(k)} {fmt_num(v)}" for k, v in splits.items())))
    elif r.prepared is not None:
        rows.append(("sequences", f"{fmt_num(len(r.prepared))} (prepared.tsv)"))
    arch = model.get("architecture") or model.get("arch")
    if isinstance(arch, Mapping):
        names = {"n_filters": "filters", "filters": "filters", "filter_width": "filter width",
                 "strand_aware": "strand-aware", "dilated_layers": "dilated layers",
                 "global_pool": "global pooling", "n_tracks": "conservation channels",
                 "first_layer": "first layer"}
        def show(v):
            return {True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v

        items = [f"{esc(label)} {esc(show(arch[k]))}" for k, label in names.items() if k in arch]
        if items:
            rows.append(("model", "1D CNN: " + ", ".join(items)))
    tr = model.get("training") or {}
    if m or tr:
        ep, best = m.get("epochs", tr.get("epochs")), m.get("best_epoch", tr.get("best_epoch"))
        dev = m.get("device", tr.get("device"))
        bits = []
        if ep is not None:
            bits.append(f"{fmt_num(ep)} epochs" + (f" (best {fmt_num(best)})" if best is not None else ""))
        if m.get("stopped_early"):
            bits.append("stopped early")
        if dev:
            bits.append(f"on {esc(dev)}")
        if m.get("seconds") is not None:
            bits.append(f"{fmt_num(m['seconds'], 1)} s")
        if bits:
            rows.append(("training", ", ".join(bits)))
    versions = {"dataset": ds.get("seqfm_version"), "model": model.get("seqfm_version"),
                "metrics": m.get("seqfm_version"), "report": __version__}
    uniq = {v for v in versions.values() if v}
    rows.append(("seqfm version", esc(__version__) if uniq == {__version__} else ", ".join(
        f"{esc(k)} {esc(v)}" for k, v in versions.items() if v)))
    rows.append(("config digest", f'<span class="mono">{esc(r.config_digest)}</span>' if r.config_digest
                 else '<span class="muted">not recorded</span>'))
    content = _kv(rows)
    if not r.dataset:
        content = _note("dataset/dataset.json not found: the encoding step has not run for this sample.") + content
    return _section("run", "What was run", content)


def _negatives_match(match: dict) -> str:
    """The table of how closely the negatives match the positives (GC, track)."""
    if not match:
        return ""
    cols = [("n", "sequences"), ("gc_mean", "GC"), ("track_mean", "mean track"),
            ("track_q25", "track Q1"), ("track_q50", "track median"), ("track_q75", "track Q3")]
    cols = [(k, h) for k, h in cols if any(k in v for v in match.values())]
    head = "".join(f'<th class="n">{esc(h)}</th>' for _, h in cols)
    body = "".join(
        f"<tr><td>{esc(name)}</td>" + "".join(f'<td class="n">{fmt_num(v.get(k))}</td>' for k, _ in cols)
        + "</tr>" for name, v in match.items())
    return ("<h3>Negatives against positives</h3><table><thead><tr><th>class</th>" + head
            + f"</tr></thead><tbody>{body}</tbody></table>"
            '<p class="muted">Negatives that match the positives on GC and conservation leave the '
            "network only the sequence to tell them apart: a conserved block is no evidence "
            "for a binding site.</p>")


def section_performance(r: SampleResults) -> str:
    m = r.metrics
    if not m:
        return _section("performance", "Performance",
                        _note("metrics.json not found: the model has not been trained yet."))
    test, valid, base = m.get("test") or {}, m.get("valid") or {}, m.get("baseline") or {}
    chance = None
    if test.get("n") and test.get("n_positive") is not None:
        chance = test["n_positive"] / test["n"]
    k = base.get("k")
    bname = f"{k}-mer baseline" if k else "k-mer baseline"
    kp = [
        _kpi(fmt_num(test.get("auroc")), "CNN test AUROC",
             f"{esc(bname)}: {fmt_num(base.get('auroc'))}" if base else ""),
        _kpi(fmt_num(test.get("auprc")), "CNN test AUPRC",
             (f"{esc(bname)}: {fmt_num(base.get('auprc'))}" if base else "")
             + (f" · chance {fmt_num(chance, 2)}" if chance is not None else "")),
        _kpi(fmt_num(valid.get("auroc")), "CNN validation AUROC", f"AUPRC {fmt_num(valid.get('auprc'))}"),
    ]
    if test.get("n") is not None:
        kp.append(_kpi(fmt_num(test.get("n")), "test sequences", f"{fmt_num(test.get('n_positive'))} positive"))
    rows = [("CNN", "test", test), ("CNN", "validation", valid)]
    seq_only = m.get("sequence_only") or {}
    if seq_only:
        rows.append(("CNN without tracks", "test", seq_only))
    if base:
        rows.append((bname, "test", base))
    trs = "".join(
        f"<tr><td>{esc(a)}</td><td>{esc(s)}</td><td class=\"n\">{fmt_num(v.get('auroc'))}</td>"
        f"<td class=\"n\">{fmt_num(v.get('auprc'))}</td><td class=\"n\">{fmt_num(v.get('n'))}</td></tr>"
        for a, s, v in rows)
    table = ("<table><thead><tr><th>model</th><th>split</th><th class=\"n\">AUROC</th>"
             f"<th class=\"n\">AUPRC</th><th class=\"n\">sequences</th></tr></thead><tbody>{trs}</tbody></table>")
    if base.get("model"):
        table += f'<p class="muted">Baseline: {esc(base["model"])} on the same split.</p>'
    if seq_only:
        table += ('<p class="muted">CNN without tracks: the same architecture trained on the same '
                  'split without the conservation tracks; the difference is what conservation adds '
                  'beyond the sequence.</p>')
    table += _negatives_match(m.get("negatives_match") or {})
    figs = []
    for rel, cap in (("train/roc.png", "ROC curve on the test split, CNN and k-mer baseline"),
                     ("train/pr.png", "Precision-recall on the test split; dashed: chance")):
        if r.exists(rel):
            figs.append(f"<figure>{img_tag(r.path(rel), cap)}<figcaption>{esc(cap)}</figcaption></figure>")
    parts = [f'<div class="kpis">{"".join(kp)}</div>', table]
    if figs:
        parts.append(f'<div class="figs">{"".join(figs)}</div>')
    else:
        parts.append(_note("train/roc.png and train/pr.png not found (training ran without plots)."))
    if r.exists("train/curves.png"):
        parts.append("<h3>Training curves</h3><figure>" + img_tag(r.path("train/curves.png"), "training curves",
                                                                  "fig")
                     + "<figcaption>Loss, validation AUROC/AUPRC and learning rate per epoch; dashed: the "
                       "epoch whose weights were kept.</figcaption></figure>")
    return _section("performance", "Performance", "\n".join(parts))


def _logo_path(r: SampleResults, row: Mapping) -> Path | None:
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


def _bar(v: Any, vmax: float = 1.0, small: bool = False) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    if math.isnan(f) or vmax <= 0:
        return ""
    pct = max(0.0, min(100.0, 100 * abs(f) / vmax))
    return f'<span class="bar{" small" if small else ""}"><i style="width:{pct:.0f}%"></i></span>'


def sorted_motifs(df: pd.DataFrame) -> pd.DataFrame:
    """Motif clusters best first: by ``influence`` (descending), else by ``rank``."""
    df = df.copy()
    if "influence" in df.columns and _num(df["influence"]).notna().any():
        return df.assign(_k=-_num(df["influence"]).fillna(-np.inf)).sort_values("_k", kind="stable").drop(columns="_k")
    if "rank" in df.columns:
        return df.assign(_k=_num(df["rank"])).sort_values("_k", kind="stable").drop(columns="_k")
    return df


def section_motifs(r: SampleResults, max_rows: int = MAX_MOTIF_ROWS, max_filter_logos: int = MAX_FILTER_LOGOS
                   ) -> str:
    df = r.motifs
    if df is None:
        return _section("motifs", "Motifs", _note("motifs.tsv not found: motifs have not been extracted "
                                                  "for this sample yet."))
    if not len(df):
        return _section("motifs", "Motifs", _note("motifs.tsv lists no motif cluster: no filter passed the "
                                                  "site and information-content rules."))
    df = sorted_motifs(df)
    n_total = len(df)
    shown = df.head(max_rows)
    infl = _num(df["influence"]) if "influence" in df.columns else pd.Series(dtype=float)
    imax = float(np.nanmax(np.abs(infl))) if infl.notna().any() else 0.0
    rows = []
    for pos, (_, row) in enumerate(shown.iterrows(), start=1):
        rank = row.get("rank", pos)
        cluster = row.get("cluster", "")
        logo = _logo_path(r, row)
        mname, mid = row.get("match_name", ""), row.get("match_id", "")
        has_match = not _is_missing(mid) and str(mid) not in ("", ".", "nan", "None")
        if has_match:
            extra = []
            if "match_E" in row and not _is_missing(row.get("match_E")) and str(row.get("match_E")) != "":
                extra.append(f"E {fmt_p(row.get('match_E'))}")
            if str(row.get("match_p", "")) not in ("", "nan"):
                extra.append(f"p {fmt_p(row.get('match_p'))}")
            if str(row.get("match_strand", "")) not in ("", "nan"):
                extra.append(f"strand {esc(row.get('match_strand'))}")
            if str(row.get("match_offset", "")) not in ("", "nan"):
                extra.append(f"offset {esc(row.get('match_offset'))}")
            family = str(row.get("match_family", "") or "")
            if family not in ("", "nan"):
                extra.insert(0, f"family {esc(family)}")
            match = (f"<b>{esc(mname)}</b> <span class=\"mono muted\">{esc(mid)}</span>"
                     '<span class="badge ok">significant</span>'
                     f"<br><span class=\"muted\">{' · '.join(extra)}</span>")
        else:
            match = '<span class="muted">no significant match</span>'
            nearest, nid = str(row.get("nearest_name", "") or ""), str(row.get("nearest_id", "") or "")
            if nearest not in ("", "nan"):
                q = row.get("match_q")
                match += (f'<br><span class="muted">nearest: {esc(nearest)} <span class="mono">{esc(nid)}</span>'
                          + (f", q {fmt_p(q)}" if str(q) not in ("", "nan") and not _is_missing(q) else "")
                          + '</span> <span class="badge ns">n.s.</span>')
        consensus = row.get("consensus", "")
        cons_html = f'<div class="mono muted">{esc(consensus)}</div>' if str(consensus) not in ("", "nan") else ""
        kept, dlogit = row.get("track_sites_kept", None), row.get("track_logit_change", None)
        rel_html = "–" if _is_missing(dlogit) or str(dlogit) == "" else (
            f"Δlogit {fmt_num(_f(dlogit), 2)}"
            + ("" if _is_missing(kept) or str(kept) == "" else f"<br>sites kept {fmt_num(_f(kept), 2)}"))
        if str(row.get("kind", "motif") or "motif") not in ("motif", "nan"):
            rel_html += f'<br><span class="badge ns">{esc(row.get("kind"))}</span>'
        pf, nf = row.get("pos_frac", None), row.get("neg_frac", None)
        enr_html = "–" if _is_missing(pf) or str(pf) == "" else (
            f"{fmt_num(100 * _f(pf), 0)}% / {fmt_num(100 * _f(nf), 0)}%"
            f"<br><span class=\"muted\">OR {fmt_num(_f(row.get('odds_ratio')), 1)}, "
            f"p {fmt_p(row.get('fisher_p'))}</span>")
        members = str(row.get("filters", "") or "")
        members_html = "<br>".join(esc(m.strip()) for m in re.split(r"[,;]", members) if m.strip())
        influence = row.get("influence", None)
        logo_html = (img_tag(logo, f"logo of motif {rank}", scale=0.6) if logo
                     else '<span class="muted">no logo</span>')
        rows.append(
            "<tr>"
            f"<td class=\"n\">{esc(rank)}<div class=\"muted cl\">{esc(cluster)}</div></td>"
            f"<td class=\"logo\">{logo_html}{cons_html}</td>"
            f"<td class=\"match\">{match}</td>"
            f"<td class=\"n\">{fmt_p(row.get('match_q')) if has_match else '–'}</td>"
            f"<td class=\"n\">{fmt_num(_f(row.get('n_sites')), 0)}</td>"
            f"<td class=\"n\">{fmt_num(_f(row.get('ic')), 1)}</td>"
            f"<td class=\"n\">{enr_html}</td>"
            f"<td class=\"n\">{rel_html}</td>"
            f"<td class=\"n\">{fmt_num(_f(influence), 3)}<br>{_bar(influence, imax, small=True)}</td>"
            f"<td class=\"mono\">{members_html}</td>"
            "</tr>")
    head = ("<tr><th class=\"n\">rank</th><th>logo <span class=\"muted\">(JASPAR match under it)</span></th>"
            "<th>best JASPAR match</th><th class=\"n\">q</th><th class=\"n\">sites</th>"
            "<th class=\"n\" title=\"information content\">IC (bits)</th>"
            "<th class=\"n\" title=\"share of positive / negative test sequences with a call of the "
            "cluster; odds ratio and one-sided Fisher p\">calls pos / neg</th>"
            "<th class=\"n\" title=\"tracks set to background for the cluster's filters: mean logit change "
            "on test positives, share of its sites kept\">conservation<br>(intervention)</th>"
            "<th class=\"n\">influence</th><th>filters</th></tr>")
    annotated = 0
    if "match_id" in df.columns:  # matches that passed the calibrated significance rule
        annotated = int(df["match_id"].map(lambda v: str(v) not in ("", ".", "nan", "None")
                                           and not _is_missing(v)).sum())
    intro = (f"<p>{fmt_num(n_total)} motif clusters learned by the first-layer filters, ordered by influence "
             f"(how much the model's predictions change when the cluster's filters are silenced); "
             f"{fmt_num(annotated)} with a significant JASPAR match (TomTom, under the calibrated significance "
             "rule). Each logo is in bits; the JASPAR motif is drawn under it, aligned by TomTom's offset and "
             "strand.</p>")
    track_note = ""
    if "kind" in df.columns:
        tracks_only = df[df["kind"].astype(str) == "track-only"]
        if len(tracks_only):
            track_note = (f"<p>{fmt_num(len(tracks_only))} row(s) of kind <b>track-only</b> "
                          f"({esc(', '.join(tracks_only['cluster'].astype(str)))}): filters that fire on shuffled "
                          "sequence with the conservation kept in place, or whose flat PWM follows the track; "
                          "they read conservation, not a sequence motif.</p>")
    cap = ""
    if n_total > len(shown):
        cap = (f'<p class="muted">Showing the top {len(shown)} of {n_total} clusters; all of them are in '
               f'{_file_link(r, "motifs.tsv")}.</p>')
    parts = [intro, track_note, f"<div style=\"overflow-x:auto\"><table class=\"motifs\"><thead>{head}</thead><tbody>{''.join(rows)}</tbody>"
             "</table></div>", cap]
    parts.append(_filter_gallery(r, max_filter_logos))
    return _section("motifs", "Motifs", "\n".join(p for p in parts if p))


def _filter_gallery(r: SampleResults, max_logos: int = MAX_FILTER_LOGOS) -> str:
    folder = r.path("logos", "filters")
    if not folder.is_dir():
        return ""
    pngs = sorted(folder.glob("*.png"))
    if not pngs:
        return ""
    order = {}
    f = r.filters
    if f is not None and len(f) and "influence" in f.columns:
        idcol = next((c for c in ("filter", "name", "id") if c in f.columns), None)
        if idcol:
            ranked = f.assign(_k=-_num(f["influence"]).fillna(-np.inf)).sort_values("_k", kind="stable")
            for i, v in enumerate(ranked[idcol].astype(str)):
                order[v] = i
                order[f"filter_{v}"] = i
                if v.isdigit():
                    order[f"filter_{int(v):02d}"] = i
    pngs.sort(key=lambda p: (order.get(p.stem, len(order) + 1), p.name))
    shown = pngs[:max_logos]
    figs = "".join(f"<figure>{img_tag(p, p.stem)}<figcaption>{esc(p.stem)}</figcaption></figure>" for p in shown)
    more = ""
    if len(pngs) > len(shown):
        more = (f'<p class="muted">{len(shown)} of {len(pngs)} filter logos shown '
                f'({"most influential first" if order else "by name"}); all are in '
                f'<a href="{rel_href("logos/filters/")}">logos/filters/</a>.</p>')
    return (f"<details><summary>Logos of individual filters ({len(pngs)})</summary>"
            f"<div class=\"gallery\">{figs}</div>{more}</details>")


def _sort_sites(df: pd.DataFrame) -> pd.DataFrame:
    """Strongest calls first: smallest q, then smallest p, then motif (filter) calls before CAM
    calls, then largest score and activation; calls tied on q take turns by motif."""
    keys, asc = [], []
    for col, ascending, fill in (("q", True, np.inf), ("p", True, np.inf), ("score", False, -np.inf),
                                 ("activation", False, -np.inf)):
        if col in df.columns:
            df = df.assign(**{f"_{col}": _num(df[col]).fillna(fill)})
            keys.append(f"_{col}")
            asc.append(ascending)
        if col == "p" and "detector" in df.columns:
            df = df.assign(_cam=(df["detector"] == "cam").astype(int))
            keys.append("_cam")
            asc.append(True)
    if keys:
        df = df.sort_values(keys, ascending=asc, kind="stable")
        # among calls tied on q, alternate between motifs (each motif's best call first)
        tie = [k for k in ("_q",) if k in keys]
        if tie:
            motif = _site_motifs(df)
            df = df.assign(_turn=df.assign(_m=motif).groupby(tie + ["_m"], sort=False).cumcount())
            df = df.sort_values(tie + ["_turn"], kind="stable").drop(columns=["_turn"])
        df = df.drop(columns=keys)
    return df


def _site_motifs(df: pd.DataFrame) -> pd.Series:
    """:func:`_site_motif` of every row, vectorised (BED files of calls can be long)."""
    out = pd.Series("–", index=df.index, dtype=object)
    for col in ("detector", "cluster", "match_name"):  # later columns win
        if col in df.columns:
            v = df[col].astype(str)
            ok = ~v.isin(["", ".", "nan"])
            if col == "detector":
                v = v.where(v != "cam", "CAM (model-level evidence)")
            out = out.where(~ok, v)
    return out


def _site_motif(row: Mapping) -> str:
    """What a call is a site of: its JASPAR match, else its motif cluster, else its detector."""
    for col in ("match_name", "cluster", "detector"):
        v = str(row.get(col, "") or "")
        if v not in ("", ".", "nan"):
            return "CAM (model-level evidence)" if (col == "detector" and v == "cam") else v
    return "–"


def _sites_table(df: pd.DataFrame) -> str:
    rows = []
    for _, s in df.iterrows():
        rows.append(
            "<tr>"
            f"<td class=\"mono\">{esc(s.get('chrom'))}:{esc(s.get('start'))}-{esc(s.get('end'))}</td>"
            f"<td>{esc(s.get('strand', '.'))}</td>"
            f"<td class=\"n\">{fmt_num(_f(s.get('score')), 0)}</td>"
            f"<td class=\"n\">{fmt_p(_f(s.get('q'))) if 'q' in s else '–'}</td>"
            f"<td>{esc(_site_motif(s))}</td>"
            f"<td class=\"mono\">{esc(s.get('detector', ''))}</td>"
            f"<td class=\"mono\">{esc(s.get('name', ''))}</td>"
            "</tr>")
    head = ("<tr><th>location (0-based, half-open)</th><th>strand</th><th class=\"n\">score</th>"
            "<th class=\"n\">q</th><th>motif</th><th>detector</th><th>name</th></tr>")
    return (f"<div style=\"overflow-x:auto\"><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>")


def section_sites(r: SampleResults, max_rows: int = MAX_SITE_ROWS) -> str:
    """The strongest calls of the motif detectors (filters) and, apart, of the class-activation
    map; the number of calls per motif; links to the full BED and GFF3 files."""
    df = r.sites
    if df is None:
        return _section("sites", "Binding sites", _note("sites.bed not found: binding sites have not been "
                                                        "called for this sample yet."))
    links = f"{_file_link(r, 'sites.bed')} · {_file_link(r, 'sites.gff3')}"
    if not len(df):
        return _section("sites", "Binding sites", f"<p>No call passed the significance threshold. {links}</p>")
    n = len(df)
    ranked = _sort_sites(df)
    is_cam = (ranked["detector"] == "cam") if "detector" in ranked.columns else pd.Series(False, ranked.index)
    motif_calls, cam_calls = ranked[~is_cam], ranked[is_cam]
    parts = [f"<div class=\"kpis\">{_kpi(fmt_num(n), 'binding-site calls', f'q ≤ threshold; all in {links}')}"
             f"{_kpi(fmt_num(len(motif_calls)), 'motif-detector calls', 'peaks of first-layer filters')}"
             f"{_kpi(fmt_num(len(cam_calls)), 'class-activation-map calls', 'model-level evidence')}"
             f"{_kpi(fmt_num(int(df['chrom'].nunique())) if 'chrom' in df.columns else '–', 'chromosomes (or sequences) with calls')}"
             "</div>"]
    if len(motif_calls):
        top = motif_calls.head(max_rows)
        parts.append(f"<h3>Strongest motif calls</h3><p>The {len(top)} strongest calls of the motif detectors "
                     f"(lowest q first; calls with equal q take turns by motif) of {fmt_num(len(motif_calls))}. All {fmt_num(n)} calls: "
                     f"{links}.</p>" + _sites_table(top))
    if len(cam_calls):
        top = cam_calls.head(max(1, max_rows // 2) if len(motif_calls) else max_rows)
        parts.append(f"<h3>Strongest class-activation-map calls</h3><p class=\"muted\">Peaks of the model's "
                     f"evidence per position; {len(top)} of {fmt_num(len(cam_calls))}.</p>" + _sites_table(top))
    counts = _site_motifs(df).value_counts()
    items = "".join(f"<tr><td>{esc(k)}</td><td class=\"n\">{fmt_num(int(v))}</td></tr>"
                    for k, v in counts.head(10).items())
    more = f'<p class="muted">… and {len(counts) - 10} more.</p>' if len(counts) > 10 else ""
    parts.append("<h3>Calls per motif</h3><p class=\"muted\">By JASPAR match, else motif cluster, else the "
                 "detector that made the call.</p><table class=\"kv\"><thead><tr><th>motif</th><th class=\"n\">"
                 f"calls</th></tr></thead><tbody>{items}</tbody></table>{more}")
    return _section("sites", "Binding sites", "\n".join(parts))


def section_featuremaps(r: SampleResults, n: int = MAX_FEATUREMAPS) -> str:
    if r.featuremaps is None:
        return _section("featuremaps", "Feature maps", _note("interpret/featuremaps.npz not found: feature maps "
                                                            "are written with the binding-site calls."))
    fms = feature_maps(r, n)
    if not fms:
        return _section("featuremaps", "Feature maps", _note("interpret/featuremaps.npz holds no sequence."))
    figs = []
    for fm in fms:
        cap = f"<b class=\"mono\">{esc(fm.name)}</b>"
        if fm.where:
            cap += f' <span class="mono">{esc(fm.where)}</span>'
        if fm.score is not None:
            cap += f" · model logit {fmt_num(fm.score, 2)}"
        cap += f" · {len(fm.calls)} called site{'s' if len(fm.calls) != 1 else ''}"
        if fm.truth:
            cap += f", {len(fm.truth)} known"
        figs.append(f"<figure class=\"fmap\"><figcaption>{cap}</figcaption>"
                    f"{png_tag(featuremap_png(fm), 'feature map of ' + fm.name, 'fig')}</figure>")
    has_truth = any(fm.truth for fm in fms)
    intro = ("<p>For the top-scoring test sequences: the activations of the most influential filters "
             "(upper panel; the strongest strand at each position), the class-activation map, i.e. the "
             "model's evidence per position (middle), and the binding-site calls with their strand (lower "
             "track: the calls of the drawn filters in their colours, the other filters' calls merged in grey, "
             "and the calls on the CAM)"
             + ("; the known, planted sites are green and shaded above" if has_truth else "") + ".</p>")
    return _section("featuremaps", "Feature maps", intro + "\n".join(figs))


#: the genome-wide calls' BED is read for the top-calls table only up to this size
MAX_SCAN_BED_BYTES = 32 << 20


def section_scan(r: SampleResults, max_rows: int = MAX_SITE_ROWS) -> str | None:
    """The genome-wide scan (``scan/``: ``summary.json``, ``sites.bed``, bigWig tracks), when the
    scan stage wrote that folder; None otherwise (the section is then left out)."""
    folder = r.path("scan")
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    summary = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else None
    parts = []
    if summary:
        kp = []
        for key, label, digits in (("bases", "bases scanned", None), ("n_calls", "genome-wide calls", None),
                                   ("n_filter_calls", "motif-detector calls", None),
                                   ("n_cam_calls", "class-activation-map calls", None),
                                   ("bases_per_s", "bases per second", 0)):
            if isinstance(summary.get(key), (int, float)) and not isinstance(summary.get(key), bool):
                v = summary[key]
                kp.append(_kpi(fmt_num(int(round(v))) if digits == 0 or isinstance(v, int) else fmt_num(v),
                               label))
        if summary.get("q") is not None:
            kp.append(_kpi(fmt_p(summary["q"]), "q threshold (Benjamini–Hochberg, genome-wide)"))
        if kp:
            parts.append(f'<div class="kpis">{"".join(kp)}</div>')
    bed = folder / "sites.bed"
    if bed.is_file() and bed.stat().st_size <= MAX_SCAN_BED_BYTES:
        calls = read_tsv(bed, comment_header=True)
        if calls is not None and len(calls):
            is_cam = calls["detector"] == "cam" if "detector" in calls.columns else pd.Series(False, calls.index)
            top = _sort_sites(calls[~is_cam] if (~is_cam).any() else calls).head(max_rows)
            parts.append(f"<h3>Strongest genome-wide calls</h3><p>{len(top)} of {fmt_num(len(calls))}; all in "
                         f"{_file_link(r, 'scan/sites.bed')} · {_file_link(r, 'scan/sites.gff3')}.</p>"
                         + _sites_table(top))
    if files:
        items = "".join(
            f"<li><a href=\"{rel_href(p.relative_to(r.root))}\">{esc(p.relative_to(r.root).as_posix())}</a> "
            f"<span class=\"muted\">{fmt_bytes(p.stat().st_size)}</span></li>" for p in files[:200])
        parts.append("<h3>Files</h3><p>Genome-wide tracks are bigWig files: open them in a genome browser "
                     f"(IGV, UCSC) beside the calls.</p><ul class=\"dl\">{items}</ul>")
        if (folder / "igv_session.xml").is_file():
            parts.append(f"<p>IGV: open {_file_link(r, 'scan/igv_session.xml')} (File &gt; Open Session; "
                         "the genome, the CAM track and the indexed calls "
                         f"{_file_link(r, 'scan/sites.bed.gz')}). UCSC: host "
                         f"{_file_link(r, 'scan/sites.bb')} and add it as a <code>type=bigBed</code> "
                         "custom track (its autoSql names the extra columns).</p>")
    else:
        parts.append(_note("scan/ is empty."))
    return _section("scan", "Genome-wide scan", "\n".join(parts))


#: (file, what it holds, whether a small copy travels inside the page)
DOWNLOADS = [
    ("sites.bed", "binding-site calls, BED6+", True),
    ("sites.gff3", "binding-site calls, GFF3", False),
    ("motifs.tsv", "motif clusters with JASPAR matches", True),
    ("filters.meme", "every filter's PWM, MEME format", True),
    ("interpret/motifs.meme", "motif clusters' PWMs, MEME format", True),
    ("interpret/filters.tsv", "per-filter statistics", True),
    ("model.pt", "model weights (PyTorch state_dict)", False),
    ("model.json", "model architecture, alphabet, channels, training options", True),
    ("metrics.json", "test and validation metrics", True),
    ("train/epochs.csv", "per-epoch training log", True),
    ("prepared.tsv", "the prepared sequences, labels and split", False),
]

_TEXT_MIME = {".bed": "text/plain", ".gff3": "text/plain", ".tsv": "text/tab-separated-values",
              ".meme": "text/plain", ".json": "application/json", ".csv": "text/csv"}


def section_downloads(r: SampleResults, embed: bool = True) -> str:
    budget = EMBED_BUDGET if embed else 0
    rows = []
    for rel, what, embeddable in DOWNLOADS:
        p = r.path(rel)
        if not p.is_file():
            continue
        size = p.stat().st_size
        extra = ""
        mime = _TEXT_MIME.get(p.suffix)
        if embeddable and mime and size <= min(EMBED_MAX_FILE, budget):
            budget -= size
            extra = (f' · <a download="{esc(r.sample + "_" + p.name)}" '
                     f'href="{data_uri(p.read_bytes(), mime)}">embedded copy</a>')
        rows.append(f"<tr><td><a href=\"{rel_href(rel)}\">{esc(rel)}</a>{extra}</td><td>{esc(what)}</td>"
                    f"<td class=\"n\">{fmt_bytes(size)}</td></tr>")
    if not rows:
        return _section("downloads", "Downloads", _note("No result file has been written yet."))
    return _section("downloads", "Downloads",
                    "<p>Links are relative to this page (they work from the results folder); small files also "
                    "travel inside the page as embedded copies.</p>"
                    "<table><thead><tr><th>file</th><th>content</th><th class=\"n\">size</th></tr></thead>"
                    f"<tbody>{''.join(rows)}</tbody></table>")


# --------------------------------------------------------------------------- pages
def render_sample(r: SampleResults, embed_downloads: bool = True, max_motifs: int = MAX_MOTIF_ROWS,
                  max_sites: int = MAX_SITE_ROWS, n_featuremaps: int = MAX_FEATUREMAPS,
                  max_filter_logos: int = MAX_FILTER_LOGOS) -> str:
    """The HTML page of one sample (a string); the ``max_*`` arguments cap the tables on the page
    and ``n_featuremaps`` is the number of sequences drawn."""
    sections = [("run", "What was run", section_run(r)),
                ("performance", "Performance", section_performance(r)),
                ("motifs", "Motifs", section_motifs(r, max_motifs, max_filter_logos)),
                ("sites", "Binding sites", section_sites(r, max_sites)),
                ("featuremaps", "Feature maps", section_featuremaps(r, n_featuremaps))]
    scan = section_scan(r, max_sites)
    if scan:
        sections.append(("scan", "Genome-wide scan", scan))
    sections.append(("downloads", "Downloads", section_downloads(r, embed_downloads)))
    alphabet = (r.dataset or {}).get("alphabet") or (r.model or {}).get("alphabet") or ""
    summary = sample_summary(r)
    sub = [f"{esc(alphabet).upper()} sample" if alphabet else "sample"]
    if summary["auroc"] is not None:
        sub.append(f"test AUROC {fmt_num(summary['auroc'])}")
    if summary["top_motif"]:
        sub.append(f"top motif {esc(summary['top_motif'])}")
    sub.append(f"seqfm {esc(__version__)}")
    return _page(f"seqfm motif report · {r.sample}", " · ".join(sub),
                 [(a, t) for a, t, _ in sections], "\n".join(s for _, _, s in sections))


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
            q = _f(top.get("match_q"))
            name = top.get("match_name", "")
            if str(name) in ("", ".", "nan") or _is_missing(name):
                name = top.get("consensus", "") or f"cluster {top.get('cluster', '')}"
                q = float("nan")
            out["top_motif"], out["top_q"] = str(name), None if pd.isna(q) else float(q)
            out["top_logo"] = _logo_path(r, top)
    if r.sites is not None:
        out["n_sites"] = len(r.sites)
    return out


def render_index(summaries: Sequence[dict], hrefs: Sequence[str]) -> str:
    """The index page: one row per sample with a one-line summary and a link to its report."""
    rows = []
    for s, href in zip(summaries, hrefs):
        top = esc(s["top_motif"]) if s["top_motif"] else '<span class="muted">–</span>'
        if s["top_motif"] and s["top_q"] is not None:
            top += f' <span class="muted">(q {fmt_p(s["top_q"])})</span>'
        if s.get("top_logo"):
            top = f'{img_tag(s["top_logo"], "logo of the top motif", "thumb")}<div>{top}</div>'
        line = [f"test AUROC {fmt_num(s['auroc'])}" if s["auroc"] is not None else "not trained yet"]
        if s["top_motif"]:
            line.append(f"top motif {esc(s['top_motif'])}")
        rows.append(
            f"<tr><td><a href=\"{rel_href(href)}\"><b>{esc(s['sample'])}</b></a>"
            f"<div class=\"muted\">{' · '.join(line)}</div></td>"
            f"<td>{esc(s['alphabet'] or '–')}</td><td class=\"n\">{fmt_num(s['n'])}</td>"
            f"<td class=\"n\">{fmt_num(s['auroc'])}</td><td class=\"n\">{fmt_num(s['auprc'])}</td>"
            f"<td class=\"n\">{fmt_num(s['baseline_auroc'])}</td><td>{top}</td>"
            f"<td class=\"n\">{fmt_num(s['n_motifs'])}</td><td class=\"n\">{fmt_num(s['n_sites'])}</td></tr>")
    head = ("<tr><th>sample</th><th>alphabet</th><th class=\"n\">sequences</th><th class=\"n\">test AUROC</th>"
            "<th class=\"n\">test AUPRC</th><th class=\"n\">k-mer AUROC</th><th>top motif</th>"
            "<th class=\"n\">motifs</th><th class=\"n\">sites</th></tr>")
    body = _section("samples", "Samples", f"<p>{len(rows)} sample{'s' if len(rows) != 1 else ''}; "
                    "follow a name to its motif report.</p>"
                    f"<div style=\"overflow-x:auto\"><table><thead>{head}</thead><tbody>{''.join(rows)}"
                    "</tbody></table></div>")
    return _page("seqfm results", f"{len(rows)} sample{'s' if len(rows) != 1 else ''} · seqfm {esc(__version__)}",
                 [], body)


def _write(text: str, out: str | os.PathLike) -> Path:
    out = Path(out)
    with atomic_write(out) as handle:
        handle.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out, 0o666 & ~umask)  # a page to share: readable like any other output
    return out


def write_report(results: str | os.PathLike, out: str | os.PathLike, sample: str | None = None,
                 inputs: Mapping[str, str] | None = None, config_digest: str | None = None,
                 truth: str | os.PathLike | None = None, embed_downloads: bool = True,
                 **limits: int) -> Path:
    """``seqfm report``: read ``results`` and write the self-contained HTML page to ``out``.

    Links inside the page are relative to the results folder, so ``out`` is normally
    ``results/{sample}/report.html``. ``limits``: ``max_motifs``, ``max_sites``, ``n_featuremaps``,
    ``max_filter_logos`` (see :func:`render_sample`).
    """
    for key, value in limits.items():
        if value is not None and value < 0:
            raise InputError(f"--{key.replace('_', '-')} must be >= 0, got {value}")
    if sample is not None and not _SAMPLE_NAME.match(sample):
        raise InputError(f"--sample {sample!r}: a sample name must match ^[A-Za-z0-9._-]+$")
    r = load(results, sample, inputs, config_digest, truth)
    return _write(render_sample(r, embed_downloads, **{k: v for k, v in limits.items() if v is not None}), out)


def write_index(results: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """``seqfm report --index``: one row per results folder, linking its ``report.html``
    relative to ``out``."""
    out = Path(out)
    summaries, hrefs = [], []
    for folder in results:
        r = load(folder)
        summaries.append(sample_summary(r))
        hrefs.append(os.path.relpath(os.path.abspath(Path(folder) / "report.html"),
                                     os.path.abspath(out.parent)))
    return _write(render_index(summaries, hrefs), out)
