"""The genome benchmark's pieces (bench/bench_genome.py) that do not need a run: the project it
writes, how it names the workflow's jobs, and how it scores calls against the truth."""

from __future__ import annotations

from conftest import load_script
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "bench" / "bench_genome.py"


@pytest.fixture(scope="module")
def bg():
    return load_script(PATH)


def bed(rows, columns=("chrom", "start", "end")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def test_example_densities(bg):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["simulate"]
    opts = bg.simulate_options(300_000_000, 10)
    assert opts["n_positives"] / 300e6 == pytest.approx(cfg["n_positives"] / cfg["genome_size"])
    assert opts["n_gaps"] == 300 and opts["seed"] == cfg["seed"] and opts["n_chroms"] == 10


def test_project_config_validates(bg, tmp_path):
    model = tmp_path / "model"
    (model / "interpret").mkdir(parents=True)
    for name in ("model.pt", "model.json", "interpret/filters.tsv"):
        (model / name).write_text("x")
    bg.make_project(tmp_path / "p", tmp_path / "genome", model, 5_000_000, 2)
    cfg = yaml.safe_load((tmp_path / "p" / "config" / "config.yaml").read_text())
    schema = yaml.safe_load((ROOT / "seqfm" / "schemas" / "config.schema.yaml").read_text())
    jsonschema.validate(cfg, schema)
    assert cfg["scan"]["shard_bases"] == 5_000_000
    samples = pd.read_csv(tmp_path / "p" / "config" / "samples.tsv", sep="\t")
    assert list(samples["sample"]) == [bg.SAMPLE]
    res = tmp_path / "p" / "results" / bg.SAMPLE
    assert (res / "model.pt").is_file() and (res / "interpret" / "filters.tsv").is_file()


def test_jobs_named_from_command_lines(bg):
    assert bg._job_of(["/bin/bash", "-c", "seqfm scan-plan --genome g.fa --out p"]) == "scan_plan"
    assert bg._job_of(["python", "/v/bin/seqfm", "scan-null", "--out", "n"]) == "scan_null"
    assert bg._job_of(["python", "/v/bin/seqfm", "scan", "--chroms-file",
                       "results/s/scan_plan/chr7+1.txt", "--shard"]) == "scan_shard chr7+1"
    assert bg._job_of(["python", "/v/bin/seqfm", "scan-merge", "--shards", "a", "b"]) == "scan (gather)"
    assert bg._job_of(["python", "/v/bin/snakemake", "-s", "/x/seqfm scan/Snakefile"]) is None
    assert bg._job_of(["sleep", "1"]) is None


def test_overlaps_counted_by_hand(bg):
    truth = bed([("chr1", 100, 110), ("chr1", 200, 210), ("chr2", 50, 60)])
    calls = bed([("chr1", 105, 120), ("chr1", 110, 200), ("chr1", 209, 215), ("chr2", 40, 50),
                 ("chr3", 0, 10)])
    assert bg._overlaps(calls, truth).tolist() == [True, False, True, False, False]
    # a long call covers a later interval though another one starts after it
    calls = bed([("chr1", 0, 1000), ("chr1", 150, 160)])
    assert bg._overlaps(truth, calls).tolist() == [True, True, False]


def test_score_calls(bg, tmp_path):
    bed([("chr1", 100, 110), ("chr1", 200, 210)], ("#chrom", "start", "end")).to_csv(
        tmp_path / "truth.bed", sep="\t", index=False)
    bed([("chr1", 500, 510)], ("#chrom", "start", "end")).to_csv(
        tmp_path / "decoy_elements.bed", sep="\t", index=False)
    calls = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [100, 505, 700, 205],
                          "end": [110, 515, 710, 215], "detector": ["filter_1", "filter_2", "cam", "cam"]})
    s = bg.score_calls(calls, tmp_path)
    assert (s["site"], s["decoy"], s["other"]) == (0.5, 0.25, 0.25)
    assert s["recall"] == 1.0 and s["decoy_hit"] == 1.0
    assert s["cam_site"] == 0.5 and s["filter_decoy"] == 0.5
    assert np.isclose(s["site"] + s["decoy"] + s["other"], 1.0)
