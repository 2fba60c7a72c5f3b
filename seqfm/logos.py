"""Sequence logos (logomaker): information content in bits, PNG and SVG.

:func:`save_logo` draws one motif, optionally beside its best database match aligned by
TomTom's offset and strand, and with a panel of the detector's weights on the
conservation channels under the letters (how much the detector relies on conservation).
Every file carries its alphabet in the image metadata (PNG text chunk ``Description`` and
SVG ``dc:description``: ``alphabet=ACGT``).

DNA letters use logomaker's ``classic`` colours; protein letters its ``chemistry`` colours.

:class:`LogoPool` draws many logos at once, in processes that import matplotlib but not torch.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from .alphabet import Alphabet, get as get_alphabet
from .io import atomic_path

COLOURS = {"dna": "classic", "protein": "chemistry"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def information_matrix(probs: np.ndarray, alphabet: Alphabet):
    """Probabilities ``(W, A)`` -> a DataFrame of letter heights in bits (``p * IC``)."""
    import pandas as pd

    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    ic = np.log2(p.shape[1]) + (p * np.log2(p)).sum(axis=1)
    return pd.DataFrame(p * ic[:, None], columns=list(alphabet.letters))


_OUTLINES: dict = {}


@functools.cache
def _outline_class():
    from matplotlib.path import Path

    class Outline(Path):
        """A read-only path whose extents are computed once."""

        _extents = None

        def get_extents(self, transform=None, **kwargs):
            if transform is not None or kwargs:
                return super().get_extents(transform, **kwargs)
            if self._extents is None:
                self._extents = super().get_extents()
            return self._extents.frozen()

    return Outline


def _glyph_outline(xy=(0, 0), s="", size=None, prop=None, **kwargs):
    """``matplotlib.textpath.TextPath(xy, s, size, prop)`` made once per process and argument set
    (a letter's outline never changes), as a read-only path with its extents kept."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties() if prop is None else prop.copy()
    key = (tuple(float(v) for v in xy), s, size, prop, tuple(sorted(kwargs.items())))
    hit = _OUTLINES.get(key)
    if hit is None:
        path = TextPath(xy, s, size=size, prop=prop, **kwargs)
        hit = _OUTLINES[key] = _outline_class()(path.vertices, path.codes, readonly=True)
    return hit


@contextmanager
def fast_glyphs(ax):
    """Draw logomaker glyphs on ``ax`` without per-letter work whose result never changes.

    logomaker (0.8) makes every letter of every column from scratch: two ``TextPath`` outlines
    (the letter and the widest letter) and their extents, then a patch added to ``ax`` with a
    data-limit update; every later draw of the figure goes through each letter's patch again.
    Inside this context, outlines come from a per-process cache (:func:`_glyph_outline`), ``ax``
    skips the data-limit updates (logomaker sets the axis limits itself, and :func:`_draw` sets
    them again), and the letters go onto ``ax`` as one patch per stack level, letter and style
    (:func:`_merge_letters`) where logomaker adds them. Nothing drawn changes:
    ``tests/test_logos.py`` compares the PNG bytes with and without. A logomaker without these
    hooks (``Glyph.TextPath``, ``Logo._compute_glyphs``) draws as usual.
    """
    try:
        from logomaker.src import Glyph as glyph_mod
        from logomaker.src import Logo as logo_mod
    except ImportError:  # another logomaker layout: draw the usual way
        glyph_mod = logo_mod = None
    outlines = glyph_mod is not None and getattr(glyph_mod, "TextPath", None) is not None
    merge = logo_mod is not None and callable(getattr(logo_mod.Logo, "_compute_glyphs", None))
    if outlines:
        original = glyph_mod.TextPath
        glyph_mod.TextPath = _glyph_outline
    if merge:
        compute = logo_mod.Logo._compute_glyphs

        def compute_and_merge(logo):
            if logo.ax is not ax:
                return compute(logo)
            key = _panel_key(logo)
            if key in _PANELS:  # drawn before in this process: the same letters again
                _PANELS.move_to_end(key)
                letters, logo.glyph_df, logo.glyph_list = _PANELS[key]
                for path, style in letters:
                    ax.add_patch(_letter_patch(path, style))
                return
            held: list = []
            ax.add_patch = lambda patch: held.append(patch) or patch
            try:
                compute(logo)
            finally:
                del ax.add_patch
            letters = _merge_letters(ax, held, getattr(logo, "glyph_list", []))
            if letters is not None and key is not None:
                _PANELS[key] = (letters, *_glyph_stubs(logo))
                while len(_PANELS) > _MAX_PANELS:
                    _PANELS.popitem(last=False)

        logo_mod.Logo._compute_glyphs = compute_and_merge
    ax._update_patch_limits = lambda patch: None
    try:
        yield
    finally:
        if outlines:
            glyph_mod.TextPath = original
        if merge:
            logo_mod.Logo._compute_glyphs = compute
        del ax._update_patch_limits


#: a compound patch holds at most this many vertices (matplotlib snaps a rectilinear path, such
#: as a T, to whole pixels only up to 1024 vertices; beyond, the letters would shift)
_MAX_MERGED_VERTICES = 1000


def _merge_letters(ax, patches: list, glyphs: list) -> list | None:
    """Add logomaker's letter ``patches`` (in the order it made them: column by column, bottom to
    top) to ``ax`` as compound patches, one per stack level, letter and style, lowest level
    first. Letters of one compound stand in different columns, which share no pixel (a glyph is
    0.95 of a column wide), and a letter keeps its place in its column's stack, so every pixel
    is painted as before, in the same order.

    Returns the ``(path, style)`` of each patch added, or None when the patches are not what
    logomaker 0.8 makes (they are then added one by one, as they are).
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    glyph_of = {id(g.patch): g for g in glyphs if getattr(g, "patch", None) is not None}
    if len(glyph_of) != len(patches) or not all(type(p) is PathPatch for p in patches):
        for p in patches:
            ax.add_patch(p)
        return None
    groups: dict = {}
    column, level = None, 0
    for p in patches:
        g = glyph_of[id(p)]
        level = level + 1 if g.p == column else 0
        column = g.p
        style = dict(facecolor=tuple(p.get_facecolor()), edgecolor=tuple(p.get_edgecolor()),
                     linewidth=p.get_linewidth(), linestyle=p.get_linestyle(), zorder=p.get_zorder(),
                     alpha=p.get_alpha())
        key = (level, g.c, *style.values())
        chunks = groups.setdefault(key, (style, [[]]))[1]
        if sum(len(q.get_path().vertices) for q in chunks[-1]) + len(p.get_path().vertices) \
                > _MAX_MERGED_VERTICES:
            chunks.append([])
        chunks[-1].append(p)
    letters = []
    for key in sorted(groups, key=lambda k: k[0]):  # stable: within a level, first made first
        style, chunks = groups[key]
        for ps in chunks:
            path = ps[0].get_path() if len(ps) == 1 else MPath.make_compound_path(*[q.get_path() for q in ps])
            ax.add_patch(_letter_patch(path, style))
            letters.append((path, style))
    return letters


def _letter_patch(path, style: dict):
    from matplotlib.patches import PathPatch

    return PathPatch(path, **style)


#: panels whose letters are kept for drawing again (a database match recurs under many motifs)
_MAX_PANELS = 64
_PANELS: OrderedDict = OrderedDict()


def _panel_key(logo):
    """What a logomaker panel's letters depend on, as a hashable key (None if unknown)."""
    try:
        df = logo.df
        return (tuple(df.index.tolist()), tuple(map(str, df.columns)), df.to_numpy(dtype=np.float64).tobytes(),
                repr(sorted(logo.rgb_dict.items(), key=lambda kv: str(kv[0]))), logo.font_name,
                logo.stack_order, logo.flip_below, logo.vpad, logo.vsep, logo.alpha, logo.zorder,
                logo.center_values, repr(sorted(logo.glyph_kwargs.items())))
    except (AttributeError, TypeError):
        return None


def _glyph_stubs(logo):
    """The positions and heights of a panel's glyphs, all that logomaker reads of them once they
    are made (axis limits; restyling letters below zero, which these logos have none of), without
    the figure they were drawn in."""
    from types import SimpleNamespace

    def stub(g):
        return SimpleNamespace(p=g.p, c=g.c, width=g.width, floor=g.floor, ceiling=g.ceiling,
                               color=g.color, alpha=g.alpha, patch=None)

    import pandas as pd

    cells = np.array([[stub(g) for g in row] for row in logo.glyph_df.to_numpy()], dtype=object)
    glyph_df = pd.DataFrame(cells, index=logo.glyph_df.index, columns=logo.glyph_df.columns)
    return glyph_df, list(cells.ravel())


def _draw(ax, probs, alphabet: Alphabet, start: int = 0, title: str = "") -> None:
    import logomaker

    df = information_matrix(probs, alphabet)
    df.index = np.arange(start, start + len(df))
    with fast_glyphs(ax):
        logomaker.Logo(df, ax=ax, color_scheme=COLOURS.get(alphabet.name, "classic"),
                       show_spines=False, vpad=0.02)
    ax.set_ylim(0, np.log2(alphabet.size))
    ax.set_ylabel("bits")
    ax.spines["left"].set_visible(True)
    ax.spines["bottom"].set_visible(True)
    if title:
        # at the top of the axes, where matplotlib would put it after looking (nothing is above)
        ax.set_title(title, fontsize=9, loc="left", y=1.0)


def _freeze_ticks(ax) -> None:
    """Fix the major ticks of ``ax`` where its locator and formatter put them once the layout is
    done (the same ticks, labelled the same), so that the PNG and the SVG draws do not work
    them out again. An axis whose labels need an offset text keeps its own."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    for axis in (ax.xaxis, ax.yaxis):
        locs = axis.get_majorticklocs()
        fmt = axis.get_major_formatter()
        labels = fmt.format_ticks(locs)
        if fmt.get_offset():
            continue
        axis.set_major_locator(FixedLocator(locs))
        axis.set_major_formatter(FixedFormatter(labels))


def match_placement(query_width: int, target_width: int, offset: int, strand: int) -> int:
    """First position of the (strand-oriented) target in query coordinates.

    memelite's TomTom reports ``offset`` as the shift of the query along the target
    (``offset = target start - query start`` in the target's coordinates, after reverse-
    complementing the target when ``strand`` is 1), so the target starts at ``-offset``.
    """
    return -int(offset)


def save_logo(stem: str | os.PathLike, probs: np.ndarray, alphabet: str | Alphabet = "dna",
              title: str = "", match_probs: np.ndarray | None = None, match_title: str = "",
              match_offset: int = 0, match_strand: int = 0,
              track_weights: np.ndarray | None = None, track_names: Sequence[str] = (),
              dpi: int = 110) -> list[Path]:
    """Draw a logo to ``stem.png`` and ``stem.svg``.

    Parameters
    ----------
    stem : path without suffix
    probs : numpy.ndarray, shape ``(W, A)``
        Letter probabilities.
    alphabet : str or Alphabet
    title : str
    match_probs : numpy.ndarray, shape ``(Wt, A)``, optional
        The best database match, drawn under the motif, reverse-complemented when
        ``match_strand`` is 1 and shifted by ``match_offset`` (TomTom's, see
        :func:`match_placement`).
    track_weights : numpy.ndarray, shape ``(W, T)``, optional
        The detector's weights on the conservation channels, position by position,
        drawn as bars under the letters.

    Returns
    -------
    list of Path: the PNG and the SVG.
    """
    plt = _plt()
    alpha = get_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    probs = np.asarray(probs, dtype=np.float64)
    w = len(probs)
    panels = [("motif", 1.0)]
    tstart = 0
    if match_probs is not None:
        mp = np.asarray(match_probs, dtype=np.float64)
        if match_strand and alpha.complement is not None:
            comp = alpha.complement_codes()[: alpha.size].astype(int)
            mp = mp[::-1][:, comp]
        tstart = match_placement(w, len(mp), match_offset, match_strand)
        panels.append(("match", 1.0))
    has_tracks = track_weights is not None and np.asarray(track_weights).size > 0
    if has_tracks:
        panels.append(("tracks", 0.45))
    lo = min(0, tstart) if match_probs is not None else 0
    hi = max(w, tstart + len(mp)) if match_probs is not None else w
    width_in = max(4.2, 0.32 * (hi - lo) + 1.2)
    fig, axes = plt.subplots(len(panels), 1, figsize=(width_in, 1.45 * sum(h for _, h in panels) + 0.3),
                             gridspec_kw={"height_ratios": [h for _, h in panels]}, squeeze=False)
    axes = axes[:, 0]
    try:
        for ax, (kind, _) in zip(axes, panels):
            if kind == "motif":
                _draw(ax, probs, alpha, 0, title)
            elif kind == "match":
                _draw(ax, mp, alpha, tstart, match_title + (" (reverse complement)" if match_strand else ""))
            else:
                tw = np.asarray(track_weights, dtype=np.float64).reshape(w, -1)
                n_t = tw.shape[1]
                bw = 0.8 / n_t
                for t in range(n_t):
                    name = track_names[t] if t < len(track_names) else f"track{t}"
                    ax.bar(np.arange(w) - 0.4 + bw * (t + 0.5), tw[:, t], width=bw, label=name,
                           color=f"C{t}")
                ax.axhline(0, color="0.3", lw=0.6)
                ax.set_ylabel("cons. weight", fontsize=7)
                if n_t > 1:
                    ax.legend(fontsize=6, frameon=False)
            ax.set_xlim(lo - 0.5, hi - 0.5)
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        for ax in axes:
            _freeze_ticks(ax)
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        desc = f"alphabet={alpha.letters}"
        paths = []
        for ext in ("png", "svg"):
            path = stem.with_name(stem.name + f".{ext}")
            meta = {"Description": desc, "Title": title or stem.name}
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, dpi=dpi, metadata=meta)
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


class LogoPool:
    """Processes that draw :func:`seqfm.logos.save_logo` jobs, one per core of ``threads``.

    Spawned, not forked: a worker imports matplotlib and logomaker, never this process's torch
    and its threads. The workers start with the pool (``seqfm motifs`` opens it first thing, so
    their imports overlap its other work); with one core, or fewer than two jobs, the logos are
    drawn here. Jobs go out largest first, one at a time, so that both cores finish together.
    """

    def __init__(self, threads: int = 0) -> None:
        cpus = _available_cpus()
        self.workers = min(threads if threads and threads > 0 else cpus, cpus)
        self._pool = None
        if self.workers >= 2:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_logo_worker_start)
            for _ in range(self.workers):  # one task each starts every worker now
                self._pool.submit(int)

    def draw(self, jobs: list[dict]) -> None:
        if self._pool is None or len(jobs) < 2:
            for job in jobs:
                save_logo(**job)
            return
        futures = [self._pool.submit(_save_logo_job, job) for job in sorted(jobs, key=_logo_cost, reverse=True)]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:  # nothing keeps writing once the caller cleans up
                f.cancel()
            wait(futures)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "LogoPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _available_cpus() -> int:
    """Cores this process may run on, as :func:`seqfm.device.available_cpus` says, without
    importing torch into the logo workers, which import this module."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _logo_worker_start() -> None:
    """A logo worker's first act: the imports every logo needs."""
    _plt()
    import logomaker  # noqa: F401


def _logo_cost(job: dict) -> int:
    """Letters to draw: what a logo's time grows with."""
    match = job.get("match_probs")
    return np.size(job["probs"]) + (0 if match is None else np.size(match))


def _save_logo_job(job: dict) -> None:
    save_logo(**job)
