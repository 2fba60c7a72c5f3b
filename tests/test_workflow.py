"""End to end: the workflow deployed into a project folder that holds only the user's config/
(the small configuration CI runs, .test/config/), run with
`snakemake -s <seqfm>/workflow/Snakefile -d <project>` as a deployed catalog workflow is."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SNAKEFILE = ROOT / "workflow" / "Snakefile"


def snakemake(project, *args):
    return subprocess.run(["snakemake", "-s", str(SNAKEFILE), "-d", str(project), *args],
                          cwd=project.parent, capture_output=True, text=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    project = tmp_path_factory.mktemp("deployed") / "myproject"
    shutil.copytree(ROOT / ".test" / "config", project / "config")
    proc = snakemake(project, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the workflow's own profile (workflow/profiles/default) was found without being named
    assert "Using workflow specific profile" in proc.stdout + proc.stderr
    assert "profiles/default" in proc.stdout + proc.stderr
    return project


def test_deployed_run_writes_the_contract_into_the_project_only(demo):
    for sample in ("dna_example", "protein_example"):
        res = demo / "results" / sample
        for name in ("report.html", "model.pt", "model.json", "metrics.json", "sites.bed",
                     "sites.gff3", "filters.meme", "motifs.tsv"):
            assert (res / name).is_file() and (res / name).stat().st_size > 0, (sample, name)
        assert any((res / "logos").iterdir())
    for name in ("sites.bed", "sites.gff3", "cam.bw", "summary.json"):
        assert (demo / "results" / "dna_example" / "scan" / name).is_file()
    assert (demo / "results" / "index.html").is_file()
    # nothing of the workflow was copied into the project; the example data were made there
    assert not (demo / "workflow").exists() and not (demo / "Snakefile").exists()
    assert (demo / "resources" / "example" / "genome.fa").is_file()
    # the scan covered the configured chromosomes, in one packed shard (two small ones)
    plan = (demo / "results" / "dna_example" / "scan_plan" / "shards.tsv").read_text().splitlines()
    assert plan[1].split("\t")[:2] == ["chr4+1", "2"]


def test_every_step_logs_its_stderr(demo):
    logs = demo / "results" / "dna_example" / "logs"
    for step in ("prepare", "encode", "train", "motifs", "sites", "scan_plan", "scan_null",
                 "scan_chr4+1", "scan_merge", "report"):
        assert (logs / f"{step}.log").is_file(), step
    # seqfm logs to stderr: the rule's log holds it (a crash's traceback would land there too)
    for step in ("train", "scan_plan", "scan_null", "scan_chr4+1", "scan_merge"):
        assert " seqfm INFO " in (logs / f"{step}.log").read_text(), step
    assert "shard(s)" in (logs / "scan_plan.log").read_text()


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
    proc = snakemake(demo, "-n", "--cores", "1")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_pages_and_snakemake_report(demo):
    import zipfile

    page = (demo / "results" / "dna_example" / "report.html").read_text()
    index = (demo / "results" / "index.html").read_text()
    assert 'id="performance"' in page and 'id="sites"' in page and "<script" not in page
    assert 'href="dna_example/report.html"' in index
    proc = snakemake(demo, "--report", str(demo / "report.zip"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with zipfile.ZipFile(demo / "report.zip") as z:
        names = z.namelist()
    assert "report/report.html" in names
    # the per-sample motif report, the index page and the training figures are report items
    for item in ("/report.html", "/index.html", "/roc.png", "/pr.png", "/curves.png", "/sites.bed"):
        assert any(n.startswith("report/data/") and n.endswith(item) for n in names), (item, names[:20])
