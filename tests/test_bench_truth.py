"""The truth benchmark's scoring (bench/bench_truth.py) on hand-made BED tables, counted by hand."""

from __future__ import annotations

from conftest import load_script
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PATH = Path(__file__).resolve().parent.parent / "bench" / "bench_truth.py"


@pytest.fixture(scope="module")
def bt():
    return load_script(PATH)


def bed(rows, columns=("chrom", "start", "end")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


TRUTH = bed([("chr1", 100, 110, "CTCF"), ("chr1", 200, 210, "Gata1"), ("chr2", 50, 60, "CTCF"),
             ("chr1", 1000, 1010, "USF1")], ("chrom", "start", "end", "name"))
DECOYS = bed([("chr1", 500, 510), ("chr2", 300, 310)])
REGIONS = bed([("chr1", 480, 600), ("chr2", 280, 400)])
POSITIVES = bed([("chr1", 50, 300), ("chr2", 0, 100), ("chr1", 950, 1100)])
CALLS = bed([
    ("chr1", 105, 115, "filter_1", "motif_1", 0.01, "CTCF"),    # planted CTCF, named right
    ("chr1", 102, 108, "filter_2", "motif_2", 0.03, "GATA1"),   # the same site, named wrong
    ("chr1", 195, 205, "filter_3", "motif_2", 0.02, "gata1"),   # planted Gata1, right (case)
    ("chr2", 52, 58, "filter_4", "motif_3", 0.001, "USF1"),     # planted CTCF, named wrong
    ("chr1", 505, 508, "filter_5", "motif_1", 0.01, "CTCF"),    # a decoy element
    ("chr1", 590, 620, "filter_6", ".", 0.01, "."),             # decoy region, off its element
    ("chr3", 10, 20, "filter_7", "motif_1", 0.01, "CTCF"),      # elsewhere
    ("chr1", 110, 120, "filter_8", "motif_1", 0.04, "CTCF"),    # touches a site's end: off it
], ("chrom", "start", "end", "detector", "cluster", "q", "match_name"))


def test_shares(bt):
    s = bt.score_calls(CALLS, TRUTH, DECOYS, REGIONS, positives=POSITIVES)
    assert s["n_calls"] == 8
    assert (s["n_site"], s["n_decoy_element"], s["n_decoy_region"], s["n_elsewhere"]) == (4, 1, 2, 3)
    assert s["share_site"] == 4 / 8 and s["share_decoy_element"] == 1 / 8
    assert s["share_decoy_region"] == 2 / 8 and s["share_elsewhere"] == 3 / 8
    assert s["share_site"] + s["share_decoy_element"] + s["share_elsewhere"] == 1
    assert s["n_positive_off_site"] == 1    # the call touching the CTCF site's end
    assert s["decoy_elements_hit"] == 1 / 2 and s["share_decoy_calls_named"] == 1.0


def test_recall_per_motif(bt):
    s = bt.score_calls(CALLS, TRUTH, DECOYS, REGIONS)
    assert s["n_sites"] == 4 and s["recall"] == 3 / 4
    assert s["n_sites_by_motif"] == {"CTCF": 2, "Gata1": 1, "USF1": 1}
    assert s["recall_by_motif"] == {"CTCF": 1.0, "Gata1": 1.0, "USF1": 0.0}
    assert s["calls_per_site"] == pytest.approx(4 / 3)
    assert s["clusters_per_site"] == pytest.approx(4 / 3)


def test_label_accuracy(bt):
    s = bt.score_calls(CALLS, TRUTH, DECOYS, REGIONS)
    # best call (lowest q) per recalled site: CTCF chr1 -> CTCF (right), Gata1 -> gata1
    # (right), CTCF chr2 -> USF1 (wrong)
    assert s["label_right"] == pytest.approx(2 / 3)
    assert s["label_right_by_motif"] == {"CTCF": 0.5, "Gata1": 1.0, "USF1": None}
    assert s["label_named"] == 1.0
    assert s["label_right_calls"] == 2 / 4
    # the same calls with the wrong one made best: the CTCF site's label turns wrong
    worse = CALLS.copy()
    worse.loc[1, "q"] = 0.001
    assert bt.score_calls(worse, TRUTH, DECOYS, REGIONS)["label_right"] == pytest.approx(1 / 3)
    # calls that name nothing (CAM) have no label accuracy
    cam = CALLS.assign(match_name=".", cluster=".", detector="cam")
    s = bt.score_calls(cam, TRUTH, DECOYS, REGIONS)
    assert s["label_right"] is None and s["label_named"] == 0.0 and s["recall"] == 3 / 4
    assert s["clusters_per_site"] == 1.0


def test_family_labels(bt):
    """A paralog's name is wrong by name and right by family; another family is wrong by both."""
    fam = {"CTCF": "More than 3 adjacent zinc fingers", "Gata1": "C4-GATA-related",
           "USF1": "bHLH-ZIP"}
    truth = TRUTH.assign(family=TRUTH["name"].map(fam))
    calls = CALLS.assign(family=["More than 3 adjacent zinc fingers", "C4-GATA-related",
                                 "Tal-related; C4-GATA-related", "bHLH-ZIP", "", "", "", ""])
    calls.loc[2, "match_name"] = "GATA1::TAL1"  # the Gata1 site: a paralog's name, its family
    s = bt.score_calls(calls, truth, DECOYS, REGIONS)
    assert s["label_right"] == pytest.approx(1 / 3)  # CTCF chr1 only
    assert s["label_family_right"] == pytest.approx(2 / 3)  # and the Gata1 site by family
    assert bt.same_family(["a; b", "", "c"], ["b", "", "d"]).tolist() == [True, False, False]
    assert "label_family_right" not in bt.score_calls(CALLS, TRUTH, DECOYS, REGIONS)


def test_evaluated_sequences(bt):
    # only chr1:0-300 evaluated: two planted sites count, no decoy element; shares unchanged
    s = bt.score_calls(CALLS, TRUTH, DECOYS, REGIONS, evaluated=bed([("chr1", 0, 300)]))
    assert s["n_sites"] == 2 and s["recall"] == 1.0
    assert s["n_sites_by_motif"] == {"CTCF": 1, "Gata1": 1}
    assert s["n_decoy_elements"] == 0 and s["share_site"] == 4 / 8


def test_no_calls(bt):
    s = bt.score_calls(CALLS.iloc[:0], TRUTH, DECOYS, REGIONS)
    assert s["n_calls"] == 0 and s["recall"] == 0.0 and s["share_site"] == 0.0
    assert s["label_right"] is None


def test_split_callers(bt):
    calls = CALLS.copy()
    calls.loc[[1, 6], "detector"] = "cam"
    parts = bt.split_callers(calls)
    assert len(parts["filters"]) == 6 and len(parts["cam"]) == 2


def test_overlap_pairs_brute_force(bt):
    rng = np.random.default_rng(0)

    def random_bed(n):
        s = rng.integers(0, 500, n)
        return bed(list(zip(rng.choice(["a", "b"], n), s, s + rng.integers(1, 40, n))))

    a, b = random_bed(60), random_bed(80)
    ia, ib = bt.overlap_pairs(a, b)
    got = set(zip(ia.tolist(), ib.tolist()))
    want = {(i, j) for i in range(len(a)) for j in range(len(b))
            if a.chrom[i] == b.chrom[j] and a.start[i] < b.end[j] and b.start[j] < a.end[i]}
    assert got == want and len(ia) == len(got)


def test_bh(bt):
    np.testing.assert_allclose(bt.bh(np.array([0.01, 0.04, 0.03]), 3), [0.03, 0.04, 0.04])
    # hits reported out of more tests: the others' p-values lie above
    np.testing.assert_allclose(bt.bh(np.array([0.01, 0.04, 0.03]), 10), [0.1, 0.4 / 3, 0.4 / 3])


def test_clusters(bt):
    motifs = pd.DataFrame({"rank": [1, 2, 3, 4, 5],
                           "cluster": [f"motif_{i}" for i in range(1, 6)],
                           "influence": [5, 3, 1.5, 0.4, 0.1],
                           "match_name": ["CTCF", "MITF", "GATA1", "CTCF", "."]})
    planted = ["CTCF", "Gata1", "USF1"]
    p = pd.DataFrame(1.0, index=motifs.cluster, columns=planted)
    p.loc["motif_1", "CTCF"] = 1e-8
    p.loc["motif_2", "USF1"] = 1e-5
    p.loc["motif_3", "Gata1"] = 1e-6
    p.loc["motif_4", "CTCF"] = 1e-2      # too weak to count
    p.loc["motif_5", "USF1"] = 1e-4
    c = bt.score_clusters(motifs, planted, p, p_threshold=1e-3, min_share=0.05)
    assert c["n_clusters"] == 5 and c["n_influential"] == 3
    assert c["top4_influence_share"] == pytest.approx(0.99)
    assert c["by_name"]["motifs"] == {"CTCF": {"all": 2, "influential": 1, "first_rank": 1},
                                      "Gata1": {"all": 1, "influential": 1, "first_rank": 3},
                                      "USF1": {"all": 0, "influential": 0, "first_rank": None}}
    assert c["by_name"]["top4_motifs"] == ["CTCF", "Gata1"] and not c["by_name"]["one_each"]
    assert c["by_pwm"]["motifs"] == {"CTCF": {"all": 1, "influential": 1, "first_rank": 1},
                                     "Gata1": {"all": 1, "influential": 1, "first_rank": 3},
                                     "USF1": {"all": 2, "influential": 1, "first_rank": 2}}
    assert c["by_pwm"]["top4_motifs"] == ["CTCF", "Gata1", "USF1"] and c["by_pwm"]["one_each"]


def test_read_bed_header(bt, tmp_path):
    path = tmp_path / "x.bed"
    path.write_text("#chrom\tstart\tend\tname\tscore\tstrand\tdetector\n"
                    "chr1\t5\t15\ta\t0\t+\tcam\n")
    df = bt.read_bed(path)
    assert list(df.columns) == ["chrom", "start", "end", "name", "score", "strand", "detector"]
    assert df.start.tolist() == [5]
    path.write_text("#chrom\tstart\tend\n")
    assert bt.read_bed(path).empty
