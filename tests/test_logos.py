"""Logos: valid PNG and SVG files, information content in bits, the alphabet they were drawn with,
and the pool that draws many at once."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from seqfm import logos
from seqfm.alphabet import DNA, PROTEIN
from seqfm.errors import InputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_text_chunks(path):
    """tEXt chunks of a PNG file, as a dict."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    out, i = {}, 8
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        body = data[i + 8:i + 8 + n]
        if kind == b"tEXt":
            k, _, v = body.partition(b"\x00")
            out[k.decode("latin-1")] = v.decode("latin-1")
        i += 12 + n
        if kind == b"IEND":
            break
    return out


def svg_description(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    texts = [el.text or "" for el in root.iter() if el.tag.endswith("description")]
    return " ".join(texts)


def test_information_matrix_is_in_bits():
    p = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0]])
    df = logos.information_matrix(p, DNA)
    assert list(df.columns) == list("ACGT")
    np.testing.assert_allclose(df.sum(axis=1), [2.0, 0.0, 1.0], atol=1e-6)


def test_dna_logo_with_match_and_conservation_panel(tmp_path):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(4, 0.3), size=9)
    match = rng.dirichlet(np.full(4, 0.3), size=12)
    paths = logos.save_logo(tmp_path / "motif_1", probs, "dna", "motif_1", match_probs=match,
                            match_title="MA0000.1 X", match_offset=2, match_strand=1,
                            track_weights=rng.normal(size=(9, 1)), track_names=["phyloP"])
    png, svg = paths
    assert png.name == "motif_1.png" and svg.name == "motif_1.svg"
    assert png_text_chunks(png)["Description"] == f"alphabet={DNA.letters}"
    assert f"alphabet={DNA.letters}" in svg_description(svg)
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("alphabet", [PROTEIN, DNA])
def test_logo_uses_its_alphabet(tmp_path, alphabet):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(alphabet.size, 0.2), size=6)
    png, svg = logos.save_logo(tmp_path / "filters" / "filter_3", probs, alphabet.name, "filter_3")
    assert png_text_chunks(png)["Description"] == f"alphabet={alphabet.letters}"
    assert f"alphabet={alphabet.letters}" in svg_description(svg)
    df = logos.information_matrix(probs, alphabet)
    assert list(df.columns) == list(alphabet.letters)
    assert logos.COLOURS[alphabet.name] == ("chemistry" if alphabet is PROTEIN else "classic")


def test_match_placement_follows_tomtom_offsets():
    # memelite: a query equal to target[3:12] is reported at offset 3 -> the target starts at -3
    assert logos.match_placement(9, 15, 3, 0) == -3
    assert logos.match_placement(18, 15, -3, 0) == 3


@pytest.mark.parametrize("alphabet", [DNA, PROTEIN])
def test_fast_drawing_paints_the_same_pixels(tmp_path, monkeypatch, alphabet):
    # cached outlines, no per-letter data limits, letters merged per stack level, panels drawn
    # before replayed, ticks fixed after the layout: not one pixel changes
    from contextlib import nullcontext

    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.full(alphabet.size, 0.3), size=12)
    match = rng.dirichlet(np.full(alphabet.size, 0.3), size=9)
    match[2] = np.eye(alphabet.size)[1]  # zero-probability letters too
    kw = dict(match_probs=match, match_title="m", match_offset=-2,
              track_weights=rng.normal(size=(12, 1)) * 1e-3, track_names=["cons"])
    logos._PANELS.clear()
    fast_png, fast_svg = logos.save_logo(tmp_path / "fast", probs, alphabet.name, "t", **kw)
    assert len(logos._PANELS) == 2  # the motif's and the match's letters, kept
    # the same panels again: their letters come from what was kept
    again_png, _ = logos.save_logo(tmp_path / "again", probs, alphabet.name, "t", **kw)
    assert len(logos._PANELS) == 2
    monkeypatch.setattr(logos, "fast_glyphs", lambda ax: nullcontext())
    monkeypatch.setattr(logos, "_freeze_ticks", lambda ax: None)
    slow_png, slow_svg = logos.save_logo(tmp_path / "slow", probs, alphabet.name, "t", **kw)
    assert fast_png.read_bytes() == slow_png.read_bytes() == again_png.read_bytes()
    assert fast_svg.stat().st_size < slow_svg.stat().st_size  # fewer, longer paths
    from logomaker.src import Glyph, Logo
    from matplotlib.textpath import TextPath

    # logomaker is left as it was
    assert Glyph.TextPath is TextPath and Logo.Logo._compute_glyphs.__name__ == "_compute_glyphs"


def test_logo_pool_draws_every_job_and_reports_failures(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.setattr(logos, "_available_cpus", lambda: 2)
    rng = np.random.default_rng(0)
    jobs = [dict(stem=tmp_path / f"m{w}", probs=rng.dirichlet(np.ones(4), size=w), alphabet="dna")
            for w in (3, 8, 5)]
    with logos.LogoPool(2) as pool:
        assert pool.workers == 2
        pool.draw(jobs)
        with pytest.raises((InputError, BrokenProcessPool, ValueError)):
            pool.draw([dict(stem=tmp_path / "bad", probs=np.ones((3, 4)) / 4, alphabet="rna"),
                       jobs[0]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"m{w}.{e}" for w in (3, 8, 5) for e in ("png", "svg"))
    with logos.LogoPool(1) as serial:  # one core: no worker processes
        assert serial._pool is None
        serial.draw([dict(jobs[0], stem=tmp_path / "one")])
    assert (tmp_path / "one.svg").is_file()
