"""The notebook API (seqfm.api, re-exported as seqfm.*): the README's example runs as written,
tangermeme's attribution included, and each function gives the documented shapes."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqfm.model import SeqCNN, save

from conftest import ROOT

CTCF = "TGGCCACCAGGGGGCGCTA"  # JASPAR MA0139's consensus, 19 bases: the default filter width


def ctcf_model() -> SeqCNN:
    """Filter 0 scores CTCF's consensus (+2 match, -1 mismatch; bias: an exact match gives 3,
    one mismatch 0); filter 1 never fires; the head reads filter 0."""
    w = len(CTCF)
    m = SeqCNN({"n_filters": 2, "filter_width": w, "dropout": 0.0})
    with torch.no_grad():
        m.conv1.weight.fill_(-1.0)
        for k, letter in enumerate(CTCF):
            m.conv1.weight[0, "ACGT".index(letter), k] = 2.0
        m.conv1.bias.copy_(torch.tensor([-(2.0 * w) + 3.0, -1.0]))
        m.head.weight.copy_(torch.tensor([[1.0, 0.0]]))
        m.head.bias.fill_(-1.0)
    return m.eval()


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_seqfm_does_not_import_torch():
    code = "import sys, seqfm; assert 'torch' not in sys.modules; seqfm.encode; assert 'torch' in sys.modules"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tangermeme")
    save(ctcf_model(), tmp_path / "results" / "dna_example", info={"policy": "uniform"})
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), ns)
    n, length, w = 50, 200, len(CTCF)
    assert tuple(ns["x"].shape) == (n, 4, length)
    assert tuple(ns["p"].shape) == (n,) and bool((ns["p"] > 0.8).all())
    assert tuple(ns["values"].shape) == (n, 2, length - w + 1)
    assert tuple(ns["cam"].shape) == (n, length - w + 1)
    # every planted site is called, at its coordinate, on the forward strand
    sites = ns["sites"]
    f0 = sites[sites["detector"] == "filter_0"]
    assert set(f0["name"]) == {f"seq{i + 1}" for i in range(n)}
    assert set(zip(f0["start"], f0["strand"])) >= {(60, "+")}
    assert (f0["q"] <= 0.05).all()
    # the filter's PWM is CTCF's and TomTom finds CTCF in JASPAR
    m = ns["matches"].set_index("pwm")
    assert "filter_0" in m.index and m.loc["filter_0", "match_name"] == "CTCF"
    assert m.loc["filter_0", "E"] <= 0.05  # (a consensus-only matrix: the shuffle rule may still say no)
    assert int(np.nanargmax(ns["track"]["cam"])) in range(30_000, 30_000 + w)
    # attribution beside the feature map: both point at the planted site
    per_base, fmap = ns["per_base"], ns["fmap"]
    assert ns["best"] == 0 and int(np.argmax(fmap)) == 60
    inside = np.abs(per_base[60:60 + w]).sum()
    assert inside > 0.9 * np.abs(per_base).sum()
    out = capsys.readouterr().out
    assert "pos base  ISM      filter_0" in out and "CTCF" in out


def test_shapes_tracks_and_protein():
    import seqfm

    m = SeqCNN({"n_filters": 3, "filter_width": 5, "n_tracks": 1, "dropout": 0.0}).eval()
    x = seqfm.encode(["ACGTNACGTA", "TTTTTCCCCC"], "dna", tracks=np.ones((2, 1, 10)))
    assert tuple(x.shape) == (2, 5, 10) and float(x[0, :4, 4].sum()) == pytest.approx(1.0)
    assert seqfm.encode("ACGT", one_hot=False).tolist() == [[0, 1, 2, 3]]
    v, s = seqfm.feature_maps(m, x)
    assert tuple(v.shape) == (2, 3, 6) and s.dtype == torch.int8
    assert torch.allclose(seqfm.predict(m, x), m(x))
    attr = seqfm.Attribution(m)
    assert torch.allclose(attr(x[:, :4], x[:, 4:])[:, 0], m(x))
    with pytest.raises(ValueError, match="do not fit"):
        seqfm.encode(["ACGT"], tracks=np.ones((1, 1, 5)))
    pm = SeqCNN({"alphabet": "protein", "n_filters": 2, "filter_width": 3, "dropout": 0.0}).eval()
    xp = seqfm.encode(["MKVLAAGK"], pm)
    assert tuple(xp.shape) == (1, 20, 8) and tuple(seqfm.cam(pm, xp).shape) == (1, 6)
