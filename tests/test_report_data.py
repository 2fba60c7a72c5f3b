"""Reading a results folder for the report (seqfm.report.data): the files, the feature maps, the
one-line summary of the index page, and the errors a malformed file gives."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from seqfm.errors import InputError
from seqfm.report import config_digest, load
from seqfm.report.data import feature_maps, read_tsv, sample_summary, sorted_motifs

from test_report import EVIL, SAMPLE, make_results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("results") / SAMPLE)


def test_load_reads_every_stage(results):
    r = load(results, inputs={"positives": "p.bed"}, config_digest="abc")
    assert r.sample == SAMPLE and r.inputs == {"positives": "p.bed"} and r.config_digest == "abc"
    assert r.dataset["n"] == 40 and r.model["alphabet"] == "dna" and r.metrics["test"]["auroc"] == 0.953
    assert len(r.prepared) == 40 and len(r.epochs) == 5 and len(r.motifs) == 3 and len(r.filters) == 6
    assert len(r.sites) == 60 and r.sites.columns[0] == "chrom"  # the BED's '#chrom' header
    assert r.featuremaps["filters"].shape == (5, 4, 90)


def test_a_folder_of_an_early_run_loads_with_nones(tmp_path):
    r = load(tmp_path)
    assert (r.dataset, r.metrics, r.motifs, r.sites, r.featuremaps) == (None, None, None, None, None)
    assert sample_summary(r)["auroc"] is None


@pytest.mark.parametrize("rel,text,fragment", [
    ("metrics.json", "{not json", "metrics.json: not valid JSON"),
    ("model.json", "[1, 2]", "model.json: expected a JSON object, found list"),
    ("prepared.tsv", "chrom\tstart\nchr1\t0\n", "prepared.tsv: no 'name' column"),
    ("train/epochs.csv", b"epoch,loss\n1,\xff\xfe\n", "epochs.csv: not a CSV table"),
    ("interpret/featuremaps.npz", "not a zip", "featuremaps.npz: not a readable .npz archive"),
])
def test_a_malformed_file_is_one_line_naming_it(tmp_path, rel, text, fragment):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as err:
        load(tmp_path)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(path))


def test_a_missing_folder_or_truth_file_is_named(tmp_path):
    with pytest.raises(InputError, match="results folder not found"):
        load(tmp_path / "nope")
    with pytest.raises(InputError, match="truth.bed: truth BED not found"):
        load(tmp_path, truth=tmp_path / "truth.bed")


def test_a_bed_without_header_gets_the_bed6_names(tmp_path):
    (tmp_path / "calls.bed").write_text("chr1\t5\t15\tm1\t900\t+\tfilter_3\n")
    df = read_tsv(tmp_path / "calls.bed", comment_header=True)
    assert list(df.columns) == ["chrom", "start", "end", "name", "score", "strand", "col7"]
    assert read_tsv(tmp_path / "absent.tsv") is None


def test_motifs_sort_by_influence_else_rank():
    df = pd.DataFrame({"rank": ["2", "1", "3"], "cluster": ["b", "a", "c"], "influence": ["0.1", "", "0.5"]})
    assert sorted_motifs(df)["cluster"].tolist() == ["c", "b", "a"]  # a missing influence goes last
    assert sorted_motifs(df.drop(columns="influence"))["cluster"].tolist() == ["a", "b", "c"]


def test_summary_names_the_top_motif_by_its_match(results):
    s = sample_summary(load(results))
    assert (s["sample"], s["alphabet"], s["n"], s["auroc"], s["baseline_auroc"]) == (SAMPLE, "dna", 40, 0.953, 0.801)
    assert s["top_motif"] == "TF1" and s["top_q"] == pytest.approx(1e-4)
    assert s["top_logo"].name == "motif_1.png" and s["n_motifs"] == 3 and s["n_sites"] == 60


def test_featuremaps_show_calls_and_truth(results):
    fms = feature_maps(load(results), n=3)
    assert [fm.name for fm in fms] == [EVIL, "peak_001", "peak_002"]
    assert fms[0].score == pytest.approx(5.0)
    assert len(fms[0].acts) == 4 and fms[0].acts[0][1][0] == 5  # x of the first window's centre
    assert [c["cam"] for c in fms[0].calls] == [False, True]
    assert fms[0].truth[0]["label"] == "CTCF" and fms[1].truth[0]["start"] == 31
    assert fms[0].where == "chr1:0-100" and fms[0].length == 100


def test_featuremap_calls_from_bed_when_archive_has_none(tmp_path):
    root = make_results(tmp_path / "s")
    z = dict(np.load(root / "interpret" / "featuremaps.npz"))
    z = {k: v for k, v in z.items() if not k.startswith(("call_", "truth_"))}
    np.savez(root / "interpret" / "featuremaps.npz", **z)
    truth = tmp_path / "truth.bed"
    truth.write_text("#chrom\tstart\tend\tname\tscore\tstrand\nchr1\t1030\t1040\tGATA1\t0\t-\n")
    r = load(root, truth=truth)
    fms = {fm.name: fm for fm in feature_maps(r, n=5)}
    seq1 = fms["peak_001"]  # prepared.tsv: chr1 1000-1100
    assert seq1.truth == [{"start": 30.0, "end": 40.0, "strand": "-", "label": "GATA1", "detector": "",
                           "cam": False}]
    assert seq1.calls and all(0 <= c["start"] < 100 for c in seq1.calls)


def test_config_digest_is_stable_and_order_free():
    a = config_digest({"seed": 1, "train": {"lr": 0.005, "epochs": 30}})
    assert a == config_digest({"train": {"epochs": 30, "lr": 0.005}, "seed": 1})
    assert a != config_digest({"seed": 2, "train": {"lr": 0.005, "epochs": 30}})
    assert re.fullmatch(r"[0-9a-f]{12}", a)
    assert config_digest(json.loads(json.dumps({"seed": 1}))) == config_digest({"seed": 1})
