"""The sections of a sample's report page, each a function of the sample's results.

Top to bottom: what was run, performance, motifs, binding sites, feature maps, genome-wide scan
(when a ``scan/`` folder exists), downloads. A section whose inputs are missing says which file
was missing instead of failing; long tables are capped and link to their full files.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import __version__
from .data import (MAX_FEATUREMAPS, SampleResults, as_float, feature_maps, is_missing, logo_path,
                   numeric, read_json, read_tsv, sorted_motifs)
from .figures import featuremap_png
from .html import (bar, card, data_uri, esc, fmt_bytes, fmt_num, fmt_p, img_tag, kpi, kv_table, note,
                   png_tag, rel_href)

#: rows shown on the page before a table links to its full file
MAX_MOTIF_ROWS = 30
MAX_SITE_ROWS = 25
MAX_FILTER_LOGOS = 24
#: small text outputs are also embedded as downloadable data URIs, up to this many bytes in all
EMBED_BUDGET = 2 << 20
EMBED_MAX_FILE = 512 << 10


def _file_link(r: SampleResults, rel: str, label: str | None = None) -> str:
    p = r.path(rel)
    if not p.exists():
        return f'<span class="muted">{esc(label or rel)} (not written)</span>'
    return f'<a href="{rel_href(rel)}">{esc(label or rel)}</a>'


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
    content = kv_table(rows)
    if not r.dataset:
        content = note("dataset/dataset.json not found: the encoding step has not run for this sample.") + content
    return card("run", "What was run", content)


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
        return card("performance", "Performance",
                    note("metrics.json not found: the model has not been trained yet."))
    test, valid, base = m.get("test") or {}, m.get("valid") or {}, m.get("baseline") or {}
    chance = None
    if test.get("n") and test.get("n_positive") is not None:
        chance = test["n_positive"] / test["n"]
    k = base.get("k")
    bname = f"{k}-mer baseline" if k else "k-mer baseline"
    kp = [
        kpi(fmt_num(test.get("auroc")), "CNN test AUROC",
            f"{esc(bname)}: {fmt_num(base.get('auroc'))}" if base else ""),
        kpi(fmt_num(test.get("auprc")), "CNN test AUPRC",
            (f"{esc(bname)}: {fmt_num(base.get('auprc'))}" if base else "")
            + (f" · chance {fmt_num(chance, 2)}" if chance is not None else "")),
        kpi(fmt_num(valid.get("auroc")), "CNN validation AUROC", f"AUPRC {fmt_num(valid.get('auprc'))}"),
    ]
    if test.get("n") is not None:
        kp.append(kpi(fmt_num(test.get("n")), "test sequences", f"{fmt_num(test.get('n_positive'))} positive"))
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
        parts.append(note("train/roc.png and train/pr.png not found (training ran without plots)."))
    if r.exists("train/curves.png"):
        parts.append("<h3>Training curves</h3><figure>" + img_tag(r.path("train/curves.png"), "training curves",
                                                                  "fig")
                     + "<figcaption>Loss, validation AUROC/AUPRC and learning rate per epoch; dashed: the "
                       "epoch whose weights were kept.</figcaption></figure>")
    return card("performance", "Performance", "\n".join(parts))


def section_motifs(r: SampleResults, max_rows: int = MAX_MOTIF_ROWS, max_filter_logos: int = MAX_FILTER_LOGOS
                   ) -> str:
    """The motif clusters, most influential first: logo, JASPAR match, sites, enrichment,
    conservation's share, member filters; then the gallery of the filters' own logos."""
    df = r.motifs
    if df is None:
        return card("motifs", "Motifs", note("motifs.tsv not found: motifs have not been extracted "
                                             "for this sample yet."))
    if not len(df):
        return card("motifs", "Motifs", note("motifs.tsv lists no motif cluster: no filter passed the "
                                             "site and information-content rules."))
    df = sorted_motifs(df)
    n_total = len(df)
    shown = df.head(max_rows)
    infl = numeric(df["influence"]) if "influence" in df.columns else pd.Series(dtype=float)
    imax = float(np.nanmax(np.abs(infl))) if infl.notna().any() else 0.0
    rows = [_motif_row(r, pos, row, imax) for pos, (_, row) in enumerate(shown.iterrows(), start=1)]
    cap = ""
    if n_total > len(shown):
        cap = (f'<p class="muted">Showing the top {len(shown)} of {n_total} clusters; all of them are in '
               f'{_file_link(r, "motifs.tsv")}.</p>')
    parts = [_motifs_intro(df), _track_only_note(df),
             f"<div style=\"overflow-x:auto\"><table class=\"motifs\"><thead>{_MOTIF_HEAD}</thead>"
             f"<tbody>{''.join(rows)}</tbody></table></div>", cap]
    parts.append(_filter_gallery(r, max_filter_logos))
    return card("motifs", "Motifs", "\n".join(p for p in parts if p))


_MOTIF_HEAD = ("<tr><th class=\"n\">rank</th><th>logo <span class=\"muted\">(JASPAR match under it)</span></th>"
               "<th>best JASPAR match</th><th class=\"n\">q</th><th class=\"n\">sites</th>"
               "<th class=\"n\" title=\"information content\">IC (bits)</th>"
               "<th class=\"n\" title=\"share of positive / negative test sequences with a call of the "
               "cluster; odds ratio and one-sided Fisher p\">calls pos / neg</th>"
               "<th class=\"n\" title=\"tracks set to background for the cluster's filters: mean logit change "
               "on test positives, share of its sites kept\">conservation<br>(intervention)</th>"
               "<th class=\"n\">influence</th><th>filters</th></tr>")


def _has_match(match_id: Any) -> bool:
    """Whether a cluster's match passed the calibrated significance rule (``match_id`` is set)."""
    return not is_missing(match_id) and str(match_id) not in ("", ".", "nan", "None")


def _motif_row(r: SampleResults, pos: int, row: pd.Series, imax: float) -> str:
    """One cluster's row of the motifs table (``pos``: its place, when it has no ``rank``)."""
    rank = row.get("rank", pos)
    cluster = row.get("cluster", "")
    logo = logo_path(r, row)
    has_match = _has_match(row.get("match_id", ""))
    consensus = row.get("consensus", "")
    cons_html = f'<div class="mono muted">{esc(consensus)}</div>' if str(consensus) not in ("", "nan") else ""
    members = str(row.get("filters", "") or "")
    members_html = "<br>".join(esc(m.strip()) for m in re.split(r"[,;]", members) if m.strip())
    influence = row.get("influence", None)
    logo_html = (img_tag(logo, f"logo of motif {rank}", scale=0.6) if logo
                 else '<span class="muted">no logo</span>')
    return ("<tr>"
            f"<td class=\"n\">{esc(rank)}<div class=\"muted cl\">{esc(cluster)}</div></td>"
            f"<td class=\"logo\">{logo_html}{cons_html}</td>"
            f"<td class=\"match\">{_match_cell(row) if has_match else _no_match_cell(row)}</td>"
            f"<td class=\"n\">{fmt_p(row.get('match_q')) if has_match else '–'}</td>"
            f"<td class=\"n\">{fmt_num(as_float(row.get('n_sites')), 0)}</td>"
            f"<td class=\"n\">{fmt_num(as_float(row.get('ic')), 1)}</td>"
            f"<td class=\"n\">{_enrichment_cell(row)}</td>"
            f"<td class=\"n\">{_conservation_cell(row)}</td>"
            f"<td class=\"n\">{fmt_num(as_float(influence), 3)}<br>{bar(influence, imax, small=True)}</td>"
            f"<td class=\"mono\">{members_html}</td>"
            "</tr>")


def _match_cell(row: pd.Series) -> str:
    """A significant JASPAR match: name, ID, family, E/p, strand and offset of the alignment."""
    extra = []
    if "match_E" in row and not is_missing(row.get("match_E")) and str(row.get("match_E")) != "":
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
    return (f"<b>{esc(row.get('match_name', ''))}</b> <span class=\"mono muted\">{esc(row.get('match_id', ''))}"
            '</span><span class="badge ok">significant</span>'
            f"<br><span class=\"muted\">{' · '.join(extra)}</span>")


def _no_match_cell(row: pd.Series) -> str:
    """No significant match: the nearest JASPAR motif and its q, marked not significant."""
    match = '<span class="muted">no significant match</span>'
    nearest, nid = str(row.get("nearest_name", "") or ""), str(row.get("nearest_id", "") or "")
    if nearest not in ("", "nan"):
        q = row.get("match_q")
        match += (f'<br><span class="muted">nearest: {esc(nearest)} <span class="mono">{esc(nid)}</span>'
                  + (f", q {fmt_p(q)}" if str(q) not in ("", "nan") and not is_missing(q) else "")
                  + '</span> <span class="badge ns">n.s.</span>')
    return match


def _enrichment_cell(row: pd.Series) -> str:
    """Share of positive / negative test sequences with a call of the cluster, odds ratio, Fisher p."""
    pf, nf = row.get("pos_frac", None), row.get("neg_frac", None)
    if is_missing(pf) or str(pf) == "":
        return "–"
    return (f"{fmt_num(100 * as_float(pf), 0)}% / {fmt_num(100 * as_float(nf), 0)}%"
            f"<br><span class=\"muted\">OR {fmt_num(as_float(row.get('odds_ratio')), 1)}, "
            f"p {fmt_p(row.get('fisher_p'))}</span>")


def _conservation_cell(row: pd.Series) -> str:
    """What setting the tracks to background does to the cluster (logit change, sites kept)."""
    kept, dlogit = row.get("track_sites_kept", None), row.get("track_logit_change", None)
    html = "–" if is_missing(dlogit) or str(dlogit) == "" else (
        f"Δlogit {fmt_num(as_float(dlogit), 2)}"
        + ("" if is_missing(kept) or str(kept) == "" else f"<br>sites kept {fmt_num(as_float(kept), 2)}"))
    if str(row.get("kind", "motif") or "motif") not in ("motif", "nan"):
        html += f'<br><span class="badge ns">{esc(row.get("kind"))}</span>'
    return html


def _motifs_intro(df: pd.DataFrame) -> str:
    annotated = 0
    if "match_id" in df.columns:  # matches that passed the calibrated significance rule
        annotated = int(df["match_id"].map(_has_match).sum())
    return (f"<p>{fmt_num(len(df))} motif clusters learned by the first-layer filters, ordered by influence "
            f"(how much the model's predictions change when the cluster's filters are silenced); "
            f"{fmt_num(annotated)} with a significant JASPAR match (TomTom, under the calibrated significance "
            "rule). Each logo is in bits; the JASPAR motif is drawn under it, aligned by TomTom's offset and "
            "strand.</p>")


def _track_only_note(df: pd.DataFrame) -> str:
    """A paragraph on the clusters of kind ``track-only`` (they read conservation, not sequence)."""
    if "kind" not in df.columns:
        return ""
    tracks_only = df[df["kind"].astype(str) == "track-only"]
    if not len(tracks_only):
        return ""
    return (f"<p>{fmt_num(len(tracks_only))} row(s) of kind <b>track-only</b> "
            f"({esc(', '.join(tracks_only['cluster'].astype(str)))}): filters that fire on shuffled "
            "sequence with the conservation kept in place, or whose flat PWM follows the track; "
            "they read conservation, not a sequence motif.</p>")


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
            ranked = f.assign(_k=-numeric(f["influence"]).fillna(-np.inf)).sort_values("_k", kind="stable")
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
            df = df.assign(**{f"_{col}": numeric(df[col]).fillna(fill)})
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
            f"<td class=\"n\">{fmt_num(as_float(s.get('score')), 0)}</td>"
            f"<td class=\"n\">{fmt_p(as_float(s.get('q'))) if 'q' in s else '–'}</td>"
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
        return card("sites", "Binding sites", note("sites.bed not found: binding sites have not been "
                                                   "called for this sample yet."))
    links = f"{_file_link(r, 'sites.bed')} · {_file_link(r, 'sites.gff3')}"
    if not len(df):
        return card("sites", "Binding sites", f"<p>No call passed the significance threshold. {links}</p>")
    n = len(df)
    ranked = _sort_sites(df)
    is_cam = (ranked["detector"] == "cam") if "detector" in ranked.columns else pd.Series(False, ranked.index)
    motif_calls, cam_calls = ranked[~is_cam], ranked[is_cam]
    parts = [f"<div class=\"kpis\">{kpi(fmt_num(n), 'binding-site calls', f'q ≤ threshold; all in {links}')}"
             f"{kpi(fmt_num(len(motif_calls)), 'motif-detector calls', 'peaks of first-layer filters')}"
             f"{kpi(fmt_num(len(cam_calls)), 'class-activation-map calls', 'model-level evidence')}"
             f"{kpi(fmt_num(int(df['chrom'].nunique())) if 'chrom' in df.columns else '–', 'chromosomes (or sequences) with calls')}"
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
    return card("sites", "Binding sites", "\n".join(parts))


def section_featuremaps(r: SampleResults, n: int = MAX_FEATUREMAPS) -> str:
    if r.featuremaps is None:
        return card("featuremaps", "Feature maps", note("interpret/featuremaps.npz not found: feature maps "
                                                         "are written with the binding-site calls."))
    fms = feature_maps(r, n)
    if not fms:
        return card("featuremaps", "Feature maps", note("interpret/featuremaps.npz holds no sequence."))
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
    return card("featuremaps", "Feature maps", intro + "\n".join(figs))


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
                kp.append(kpi(fmt_num(int(round(v))) if digits == 0 or isinstance(v, int) else fmt_num(v),
                              label))
        if summary.get("q") is not None:
            kp.append(kpi(fmt_p(summary["q"]), "q threshold (Benjamini–Hochberg, genome-wide)"))
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
        parts.append(note("scan/ is empty."))
    return card("scan", "Genome-wide scan", "\n".join(parts))


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
        return card("downloads", "Downloads", note("No result file has been written yet."))
    return card("downloads", "Downloads",
                "<p>Links are relative to this page (they work from the results folder); small files also "
                "travel inside the page as embedded copies.</p>"
                "<table><thead><tr><th>file</th><th>content</th><th class=\"n\">size</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")


