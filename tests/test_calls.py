"""seqfm.calls: filter labels, one call per site, the score and the call files (BED6+, GFF3)."""

import urllib.parse

import numpy as np
import pandas as pd

from seqfm import calls

from test_sites import read_sites_bed


def test_merge_all_keeps_the_best_of_overlapping_calls():
    table = pd.DataFrame({"row": [0, 0, 0, 1], "detector": [0, 1, 2, 1], "pos": [10, 12, 40, 12],
                          "seq_start": [10, 12, 40, 12], "seq_end": [18, 20, 48, 20],
                          "seq_strand": [0, 1, 0, 0], "activation": [3.0, 4.0, 1.0, 1.0],
                          "p": [0.001, 0.0005, 0.01, 0.01], "q": [0.01] * 4,
                          "rel": [1.0, 1.0, 1.0, 1.0]})
    labels = calls.FilterLabels.default(3)
    assert len(calls.merge_calls(table, labels, "cluster")) == 4
    kept = calls.merge_calls(table, labels, "all")
    assert sorted(zip(kept["row"], kept["detector"])) == [(0, 1), (0, 2), (1, 1)]
    labels.cluster = ["c1", "c1", "c2"]
    assert sorted(calls.merge_calls(table, labels, "cluster")["detector"]) == [1, 1, 2]


def test_gff3_is_one_based_escaped_and_parseable(tmp_path):
    table = pd.DataFrame({"chrom": ["chr1", "my seq;1"], "start": [0, 41], "end": [8, 50],
                          "name": ["c=1;x:chr1", "filter_2:a,b"], "score": [300, 10],
                          "strand": ["+", "-"], "detector": ["filter_0", "filter_2"],
                          "cluster": ["c=1;x", "."], "activation": [4.5, 1.25],
                          "p": [1e-5, 0.002], "q": [1e-3, 0.04], "match_name": ["GATA1&2", "."]})
    calls.write_gff3(table, tmp_path / "s.gff3")
    calls.write_bed(table, tmp_path / "s.bed")
    lines = (tmp_path / "s.gff3").read_text().splitlines()
    assert lines[0] == "##gff-version 3"
    recs = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 9 for r in recs)
    assert [(int(r[3]), int(r[4])) for r in recs] == [(1, 8), (42, 50)]
    assert recs[0][:8] == ["chr1", "seqfm", "TF_binding_site", "1", "8", "4.5", "+", "."]
    assert recs[1][6] == "-"
    assert urllib.parse.unquote(recs[1][0]) == "my seq;1" and " " not in recs[1][0]
    attrs = [dict(kv.split("=", 1) for kv in r[8].split(";")) for r in recs]
    assert {k: urllib.parse.unquote(v) for k, v in attrs[0].items()} == {
        "ID": "site_0000001", "Name": "c=1;x:chr1", "detector": "filter_0", "cluster": "c=1;x",
        "activation": "4.5", "p": "1e-05", "q": "0.001", "match": "GATA1&2"}
    assert urllib.parse.unquote(attrs[1]["Name"]) == "filter_2:a,b"
    calls.write_gff3(table, tmp_path / "p.gff3", protein=True)
    assert (tmp_path / "p.gff3").read_text().splitlines()[1].split("\t")[2] == "binding_site"
    bed = read_sites_bed(tmp_path / "s.bed")
    assert bed["start"].tolist() == [0, 41]
    assert (tmp_path / "s.bed").read_text().splitlines()[1].split("\t") == [
        "chr1", "0", "8", "c=1;x:chr1", "300", "+", "filter_0", "c=1;x", "4.5", "1e-05", "0.001",
        "GATA1&2"]
    # both files at once (each distinct value formatted once): the same bytes
    calls.write_calls(table, tmp_path / "t.bed", tmp_path / "t.gff3")
    assert (tmp_path / "t.bed").read_bytes() == (tmp_path / "s.bed").read_bytes()
    assert (tmp_path / "t.gff3").read_bytes() == (tmp_path / "s.gff3").read_bytes()


def test_score_of_q():
    assert calls.score_of(np.array([1.0, 0.1, 1e-5, 1e-12])).tolist() == [0, 100, 500, 1000]


def test_merge_overlapping_keeps_best_per_group():
    starts = np.array([0, 5, 20, 3, 40])
    ends = np.array([10, 15, 30, 13, 50])
    group = np.array(["a", "a", "a", "b", "a"], dtype=object)
    order = np.array([1, 0, 2, 3, 4])  # row 1 is the best
    keep = calls.merge_overlapping(starts, ends, group, order)
    assert keep.tolist() == [False, True, True, True, True]


def test_merge_overlapping_matches_the_greedy_definition():
    rng = np.random.default_rng(8)
    n = 400
    starts = rng.integers(0, 2000, n)
    ends = starts + rng.integers(1, 25, n)
    group = rng.choice(np.array(["x", "y", "z"], dtype=object), n)
    order = rng.permutation(n)
    kept: list[int] = []
    for i in order:  # the definition: best first, skip what overlaps a kept row of its group
        if not any(group[j] == group[i] and starts[j] < ends[i] and ends[j] > starts[i] for j in kept):
            kept.append(i)
    want = np.zeros(n, dtype=bool)
    want[kept] = True
    assert np.array_equal(calls.merge_overlapping(starts, ends, group, order), want)
