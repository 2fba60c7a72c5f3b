"""End to end: the Snakemake workflow on a small simulated example, as `make demo` runs it."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

# a smaller example than the demo's, so the suite stays fast on 2 cores
SMALL_CONFIG = """
simulate: {seed: 3, genome_size: 1000000, n_positives: 600}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    for name in ("Snakefile", "workflow", "config"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    (work / "config" / "small.yaml").write_text(SMALL_CONFIG)
    proc = subprocess.run(["snakemake", "--cores", "2", "--workflow-profile", "workflow/profiles/default",
                           "--configfile", "config/small.yaml"], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work


def test_dataset_is_encoded_with_conservation(demo):
    ds = demo / "results" / "dna_example" / "dataset"
    info = json.loads((ds / "dataset.json").read_text())
    codes = np.load(ds / "codes.npy", mmap_mode="r")
    tracks = np.load(ds / "tracks.npy", mmap_mode="r")
    assert codes.dtype == np.uint8 and codes.shape == (1200, 200)
    assert tracks.dtype == np.float16 and tracks.shape == (1200, 1, 200)
    assert info["n_positive"] == 600 and info["tracks"] == ["conservation"]
    meta = pd.read_csv(ds / "meta.tsv", sep="\t")
    assert set(meta[meta.chrom == "chr3"].split) == {"test"}
    assert set(meta[meta.chrom == "chr5"].split) == {"valid"}


def test_planted_sites_lie_in_the_encoded_positives(demo):
    truth = pd.read_csv(demo / "resources" / "example" / "truth.bed", sep="\t")
    truth.columns = [c.lstrip("#") for c in truth.columns]
    meta = pd.read_csv(demo / "results" / "dna_example" / "dataset" / "meta.tsv", sep="\t")
    pos = meta[meta.label == 1]
    inside = 0
    for chrom, g in truth.groupby("chrom"):
        p = pos[pos.chrom == chrom]
        s, e = g.start.to_numpy()[:, None], g.end.to_numpy()[:, None]
        inside += ((p.start.to_numpy()[None] <= s) & (e <= p.end.to_numpy()[None])).any(axis=1).sum()
    assert inside / len(truth) >= 0.9


def test_rerun_has_nothing_to_do(demo):
    proc = subprocess.run(["snakemake", "-n", "--cores", "1", "--configfile", "config/small.yaml"], cwd=demo,
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_pages_and_snakemake_report(demo):
    import zipfile

    page = (demo / "results" / "dna_example" / "report.html").read_text()
    index = (demo / "results" / "index.html").read_text()
    assert 'id="performance"' in page and 'id="sites"' in page and "<script" not in page
    assert 'href="dna_example/report.html"' in index
    proc = subprocess.run(["snakemake", "--report", "report.zip", "--configfile", "config/small.yaml"],
                          cwd=demo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with zipfile.ZipFile(demo / "report.zip") as z:
        names = z.namelist()
    assert "report/report.html" in names
    # the per-sample motif report, the index page and the training figures are report items
    for item in ("/report.html", "/index.html", "/roc.png", "/pr.png", "/curves.png", "/sites.bed"):
        assert any(n.startswith("report/data/") and n.endswith(item) for n in names), (item, names[:20])
