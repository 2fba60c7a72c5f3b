"""The HTML building blocks of the report (seqfm.report.html): escaping, number formats, inlined
images and the page itself."""

import base64
import math
import struct
import zlib

import numpy as np
import pytest

from seqfm.report.html import (CSP, MAX_IMAGE_BYTES, card, data_uri, esc, fmt_bytes, fmt_num, fmt_p,
                               img_tag, page, png_tag, rel_href)


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_esc_makes_any_value_safe_in_text_and_attributes():
    assert esc('<a href="x">O\'Neil & co</a>') == "&lt;a href=&quot;x&quot;&gt;O&#x27;Neil &amp; co&lt;/a&gt;"
    assert esc(None) == "" and esc(3) == "3"


@pytest.mark.parametrize("value,digits,shown", [
    (0.95312, 3, "0.953"), (12345, 3, "12,345"), (np.int64(7), 3, "7"), (2.0, 1, "2.0"),
    (None, 3, "–"), (float("nan"), 3, "–"), (math.inf, 3, "∞"), (-math.inf, 3, "−∞"), ("<x>", 3, "&lt;x&gt;"),
])
def test_fmt_num(value, digits, shown):
    assert fmt_num(value, digits) == shown


@pytest.mark.parametrize("value,shown", [(0.0123, "0.012"), (3.2e-7, "3.2e-07"), (0, "0"), (None, "–"),
                                         ("n/a", "n/a")])
def test_fmt_p_switches_to_scientific_below_a_thousandth(value, shown):
    assert fmt_p(value) == shown


def test_fmt_bytes():
    assert [fmt_bytes(n) for n in (512, 2048, 5 << 20, 3 << 30)] == ["512 B", "2.0 KB", "5.0 MB", "3.0 GB"]


def test_links_are_relative_percent_encoded_and_escaped():
    assert rel_href("logos/motif 1.png") == "logos/motif%201.png"
    assert rel_href('a"b<c>.bed') == "a%22b%3Cc%3E.bed"


def test_png_is_inlined_with_its_display_size():
    data = tiny_png(40, 20)
    tag = png_tag(data, "a <logo>", "thumb", title="T", scale=0.5)
    assert f'src="data:image/png;base64,{base64.b64encode(data).decode()}"' in tag
    assert 'width="20" height="10"' in tag and 'alt="a &lt;logo&gt;"' in tag and 'class="thumb"' in tag
    assert data_uri(b"x", "text/plain") == "data:text/plain;base64,eA=="


def test_img_tag_says_why_an_image_is_not_shown(tmp_path):
    assert "no image: gone.png" in img_tag(tmp_path / "gone.png", "x")
    (tmp_path / "logo.svg").write_text("<svg/>")
    assert "logo.svg is not a PNG/JPEG image" in img_tag(tmp_path / "logo.svg", "x")
    big = tmp_path / "big.png"
    big.write_bytes(tiny_png(2, 2) + bytes(MAX_IMAGE_BYTES))
    assert "is too large to inline" in img_tag(big, "x")
    (tmp_path / "ok.png").write_bytes(tiny_png(3, 3))
    assert img_tag(tmp_path / "ok.png", "x").startswith('<img src="data:image/png;base64,')


def test_a_page_is_self_contained_and_forbids_scripts():
    html = page("<T>", "sub", [("a&b", "Sec <1>")], card("a&b", "Sec <1>", "<p>body</p>"))
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert "<title>&lt;T&gt;</title>" in html and '<a href="#a&amp;b">Sec &lt;1&gt;</a>' in html
    assert '<section class="card" id="a&amp;b">\n<h2>Sec &lt;1&gt;</h2>\n<p>body</p>\n</section>' in html
    assert f'content="{esc(CSP)}"' in html and "script-src 'none'" in CSP and "img-src data:" in CSP
    assert "<script" not in html and "http" not in html.replace('http-equiv', '')
