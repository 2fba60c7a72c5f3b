"""The report's own figures (matplotlib, Agg backend), drawn to PNG bytes for inlining.

The training figures (ROC, precision-recall, curves) are drawn by :mod:`seqfm.plots` when the
model is trained; the report only inlines them. What it draws itself is the feature map of a
sequence (:func:`featuremap_png`), from a :class:`~seqfm.report.data.FeatureMap`.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

from .data import FeatureMap

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

#: one row of the calls track: label, intervals, colour, whether the intervals are merged
CallRow = tuple[str, list[dict], str, bool]


def _pyplot():
    """matplotlib.pyplot with the report's style (Agg backend)."""
    # imported on the first figure only: pyplot adds ~0.4 s to `import seqfm.report`
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
    colour = {fname: PALETTE[j % len(PALETTE)] for j, (fname, _, _) in enumerate(fm.acts)}
    rows = _call_rows(fm, colour)
    n = len(rows)
    fig, (a1, a2, a3) = plt.subplots(
        3, 1, figsize=(9.6, 3.3 + 0.26 * n), sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.2, 0.34 * n + 0.2], "hspace": 0.14})
    _draw_activations(a1, fm, colour)
    _draw_cam(a2, fm)
    for iv in fm.truth:
        for ax in (a1, a2):
            ax.axvspan(iv["start"], iv["end"], color="#3a9e5a", alpha=0.12, lw=0)
    _draw_call_track(a3, rows)
    a3.set_xlim(0, fm.length)
    a3.set_xlabel("position in sequence")
    fig.align_ylabels((a1, a2, a3))
    return _png(fig)


def _call_rows(fm: FeatureMap, colour: dict[str, str]) -> list[CallRow]:
    """The rows of the calls track, top row last: the known sites, the CAM calls, one row per
    drawn filter, then the other filters' calls merged."""
    rows: list[CallRow] = []
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
    return rows[::-1]  # first row on top


def _draw_activations(ax, fm: FeatureMap, colour: dict[str, str]) -> None:
    for fname, x, y in fm.acts:
        ax.plot(x, y, lw=1.1, color=colour[fname], label=_plain(fname))
    ax.set_ylabel("filter\nactivation")
    if fm.acts:
        ax.legend(loc="lower left", ncol=min(6, len(fm.acts)), bbox_to_anchor=(0, 1.0), borderaxespad=0.2,
                  handlelength=1.4, columnspacing=1.2)
    else:
        ax.text(0.5, 0.5, "no filter activations recorded", ha="center", va="center",
                transform=ax.transAxes, color="#888888")


def _draw_cam(ax, fm: FeatureMap) -> None:
    if fm.cam is not None and fm.cam_x is not None:
        ax.fill_between(fm.cam_x, 0, fm.cam, color="#5f6b73", alpha=0.30, lw=0)
        ax.plot(fm.cam_x, fm.cam, color="#3d454b", lw=0.9)
        ax.axhline(0, color="#999999", lw=0.6)
    else:
        ax.text(0.5, 0.5, "no class-activation map", ha="center", va="center", transform=ax.transAxes,
                color="#888888")
    ax.set_ylabel("CAM")


def _draw_call_track(ax, rows: Sequence[CallRow]) -> None:
    """One row of boxes per :data:`CallRow`; a few calls get their strand and motif written."""
    # matplotlib is loaded by now (_pyplot); importing it at the top would cost every report start
    from matplotlib.patches import Rectangle

    n = len(rows)
    ax.set_ylim(-0.15, n - 0.05)
    ax.set_yticks(range(n), [r[0] for r in rows])
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    for k, (_, intervals, col, merged) in enumerate(rows):
        if merged:
            for a, b in _union(intervals):
                ax.add_patch(Rectangle((a, k - 0.2), max(b - a, 1), 0.4, color=col, lw=0))
            continue
        labelled = len(intervals) <= 8
        for iv in intervals:
            s, e = iv["start"], iv["end"]
            ax.add_patch(Rectangle((s, k - 0.2), max(e - s, 1), 0.4, color=col, alpha=0.75, lw=0))
            text = _call_label(iv) if labelled else ""
            if text:
                ax.text((s + e) / 2, k + 0.2, text, ha="center", va="bottom", fontsize=6, color=col,
                        clip_on=True)


def _call_label(iv: dict) -> str:
    """A strand arrow and the call's motif (not its detector's name, which the row already says)."""
    arrow = {"+": "\u25b6", "-": "\u25c0"}.get(iv.get("strand", ""), "")
    label = iv.get("label") or ""
    if label in (iv.get("detector"), "cam"):
        label = ""
    return f"{arrow} {_plain(label[:16])}".strip()
