"""The report's two pages: one sample's page and the index linking every sample's page."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from .. import __version__
from ..errors import InputError
from ..io import atomic_write
from .data import MAX_FEATUREMAPS, SampleResults, load, sample_summary
from .html import card, esc, fmt_num, fmt_p, img_tag, page, rel_href
from .sections import (MAX_FILTER_LOGOS, MAX_MOTIF_ROWS, MAX_SITE_ROWS, section_downloads, section_featuremaps,
                       section_motifs, section_performance, section_run, section_scan, section_sites)

_SAMPLE_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]+$")


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
    return page(f"seqfm motif report · {r.sample}", " · ".join(sub),
                [(a, t) for a, t, _ in sections], "\n".join(s for _, _, s in sections))


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
    body = card("samples", "Samples", f"<p>{len(rows)} sample{'s' if len(rows) != 1 else ''}; "
                "follow a name to its motif report.</p>"
                f"<div style=\"overflow-x:auto\"><table><thead>{head}</thead><tbody>{''.join(rows)}"
                "</tbody></table></div>")
    return page("seqfm results", f"{len(rows)} sample{'s' if len(rows) != 1 else ''} · seqfm {esc(__version__)}",
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
