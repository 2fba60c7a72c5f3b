"""The HTML of the report: escaping, number formats, inlined images, the style sheet, the page.

The building blocks the sections (:mod:`seqfm.report.sections`) and the pages
(:mod:`seqfm.report.pages`) are written with. Every string that came from an input file goes
through :func:`esc`; every image travels inside the page as a ``data:`` URI.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import urllib.parse
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import __version__
from .data import is_missing
from .figures import ACCENT

#: largest image inlined (bytes); a larger one is linked instead
MAX_IMAGE_BYTES = 4 << 20


# =========================================================================== text
def esc(value: Any) -> str:
    """HTML-escape any value (``None`` -> empty); quotes too, so it is safe in attributes."""
    return "" if value is None else html.escape(str(value), quote=True)


def fmt_num(v: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, an integer as is, a missing value as an en dash."""
    if is_missing(v):
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
    if is_missing(v):
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


# =========================================================================== images
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


# =========================================================================== the page
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


def page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str) -> str:
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


def card(anchor: str, title: str, content: str) -> str:
    """A section of the page: a card with a heading, reachable at ``#anchor``; ``content`` is HTML."""
    return f'<section class="card" id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{content}\n</section>'


def note(text: str) -> str:
    """A note; ``text`` is already HTML (escape inputs before)."""
    return f'<p class="note">{text}</p>'


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of (name, HTML value) rows; the names are escaped here."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def kpi(value: str, label: str, detail: str = "") -> str:
    """A key figure: a large ``value`` (HTML) over its ``label``, ``detail`` (HTML) in small print."""
    d = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="kpi"><div class="v">{value}</div><div class="l">{esc(label)}</div>{d}</div>'


def bar(v: Any, vmax: float = 1.0, small: bool = False) -> str:
    """A small horizontal bar, ``|v| / vmax`` full; empty when ``v`` is not a number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    if math.isnan(f) or vmax <= 0:
        return ""
    pct = max(0.0, min(100.0, 100 * abs(f) / vmax))
    return f'<span class="bar{" small" if small else ""}"><i style="width:{pct:.0f}%"></i></span>'


