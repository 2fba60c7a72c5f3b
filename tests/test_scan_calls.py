"""Candidates to calls: a full candidate buffer raises the thresholds; strata from the tiles."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import scan_calls, scan_null, scanner, shards
from seqfm.model import SeqCNN

from scanning import ENGINES, background


@pytest.mark.parametrize("engine", ENGINES)
def test_full_candidate_buffer_raises_the_scan_thresholds(tmp_path, monkeypatch, engine):
    """Past ``max_candidates`` the scan stops returning what the buffer would drop: the kept
    candidates, their number of tests and the smallest dropped p are those of a scan that
    returns everything, and they are the smallest p-values of the full candidate set."""
    torch.manual_seed(5)
    model = SeqCNN({"n_filters": 4, "filter_width": 7, "dropout": 0.0}).eval()
    cfg = scanner.ScanConfig(tile=300, batch_size=1, engine=engine, q=0.5, max_candidates=20)
    sc = scanner.Scanner(model, {}, cfg)
    null = scan_null.build_null(sc, [scanner.ArraySource("n", background(4000, seed=3))], cfg)
    src = [scanner.ArraySource("s", background(6000, seed=4))]
    runs = {}
    for name, raise_them in (("raised", True), ("plain", False)):
        if not raise_them:
            monkeypatch.setattr(shards, "raise_thresholds", lambda *a: None)
        res = shards.scan_sources(sc, src, null, tmp_path / name, {"s": 6000})
        info = json.loads((tmp_path / name / "scan.json").read_text())
        runs[name] = (scan_calls.read_candidates(tmp_path / name / "candidates.npz"), res.n_tests, info["p_dropped"])
    (a, ta, pa), (b, tb, pb) = runs["raised"], runs["plain"]
    assert len(a) == 2 * 20 and ta == tb and pa == pb < 0.5  # 20 per family (filters, CAM)
    pd.testing.assert_frame_equal(a, b)
    sc_all = scanner.Scanner(model, {}, scanner.ScanConfig(tile=300, batch_size=1, engine=engine, q=0.5))
    shards.scan_sources(sc_all, src, null, tmp_path / "all", {"s": 6000})
    full = scan_calls.read_candidates(tmp_path / "all" / "candidates.npz")
    for is_filter in (True, False):
        best = np.sort(full.loc[(full["detector"] >= 0) == is_filter, "p"].to_numpy())[:20]
        got = np.sort(a.loc[(a["detector"] >= 0) == is_filter, "p"].to_numpy())
        assert np.array_equal(got, best)


def test_candidate_strata_from_the_tiles_equal_a_fresh_read():
    """The strata come from the tracks the tiles were read with; where the tiles leave a gap
    the source is read again; the strata are the same either way."""
    rng = np.random.default_rng(5)
    n, width = 3000, 9
    src = scanner.ArraySource("chr1", rng.integers(0, 4, n).astype(np.uint8),
                           rng.random((2, n)).astype(np.float32))
    edges = np.array([0.45, 0.5, 0.55])
    starts = np.array([0, 900, 1800], np.int64)  # overlapping tiles of 1,000
    tiles = (starts, np.stack([src.tracks(s, s + 1000) for s in starts]))
    pos = np.sort(rng.choice(np.arange(0, 2790), 200, replace=False))
    want = scan_calls.candidate_strata(src, pos, width, edges)
    assert len(np.unique(want)) == 4
    np.testing.assert_array_equal(scan_calls.candidate_strata(src, pos, width, edges, tiles), want)
    gap = (starts[[0, 2]], tiles[1][[0, 2]])  # [1000, 1800) is missing: read again
    np.testing.assert_array_equal(scan_calls.candidate_strata(src, pos, width, edges, gap), want)
    assert scan_calls._span_from_tiles(gap, 0, 2000) is None
    np.testing.assert_array_equal(scan_calls._span_from_tiles(tiles, 950, 2500), src.tracks(950, 2500))
