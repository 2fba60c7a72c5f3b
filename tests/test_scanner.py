"""The scan's engine: tiled scans equal whole ones, the fused kernel equals PyTorch, memory does
not grow with the chromosome."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from seqfm import scanner
from seqfm.model import SeqCNN
from seqfm.alphabet import DNA

from conftest import ROOT, random_dna
from scanning import ENGINES, background, genome_fasta


def _all_candidates(sc, src, thresholds=None):
    outs = list(sc.scan(src, thresholds))
    cols = {k: np.concatenate([o[k] for o in outs]) for k in ("pos", "det", "strand", "value")}
    order = np.lexsort((cols["det"], cols["pos"]))
    tests = sum(o["n_tests"] for o in outs)
    tracks = np.concatenate([t for o in outs for _, t in o["tracks"]], axis=1)
    return {k: v[order] for k, v in cols.items()}, tests, tracks


def _near_ties(a, b, half=4, tol=1e-5):
    """PyTorch's CPU convolutions round differently for differently shaped batches, so two
    neighbours of exactly equal value (a repeated k-mer) may be split either way. True when
    the runs differ, and only at such ties."""
    ka = set(zip(a["pos"].tolist(), a["det"].tolist()))
    kb = set(zip(b["pos"].tolist(), b["det"].tolist()))
    diff = ka ^ kb
    if not diff:
        return False
    assert len(diff) <= 0.01 * len(ka) + 2, len(diff)
    val = {**dict(zip(zip(a["pos"].tolist(), a["det"].tolist()), a["value"])),
           **dict(zip(zip(b["pos"].tolist(), b["det"].tolist()), b["value"]))}
    for p, d in diff:
        partners = [(q, d) for q in range(p - half, p + half + 1) if q != p and (q, d) in val]
        assert any(abs(val[k] - val[(p, d)]) <= tol for k in partners), (p, d)
    return True


@pytest.mark.parametrize("engine,dilated,n_tracks,layer", [
    ("torch", 2, 1, "concat"), ("torch", 0, 0, "concat"), ("fused", 0, 1, "concat"),
    ("torch", 2, 1, "gated"), ("fused", 0, 1, "gated")])
def test_tiled_scan_equals_whole_scan(engine, dilated, n_tracks, layer):
    torch.manual_seed(3)
    model = SeqCNN({"n_filters": 6, "filter_width": 9, "n_tracks": n_tracks, "first_layer": layer,
                    "dilated_layers": dilated, "dilated_channels": 8, "dropout": 0.0}).eval()
    rng = np.random.default_rng(5)
    codes = background(3001, seed=5)
    codes[1200:1350] = DNA.unknown_code  # a run of N
    codes[2000] = DNA.symbols.index("R")  # an IUPAC code (uniform policy)
    tracks = rng.normal(size=(n_tracks, len(codes))).astype(np.float32) if n_tracks else None
    src = scanner.ArraySource("s", codes, tracks)
    runs = []
    for tile, batch in ((100_000, 1), (64, 3), (97, 2)):
        sc = scanner.Scanner(model, {"policy": "uniform"}, scanner.ScanConfig(tile=tile, batch_size=batch, bin=1,
                                                                        engine=engine, tracks=["filter_2"]))
        runs.append(_all_candidates(sc, src))
    (whole, t_whole, trk_whole) = runs[0]
    assert len(whole["pos"]) > 50
    for cand, tests, trk in runs[1:]:
        if engine == "fused" or not _near_ties(cand, whole):
            for k in ("pos", "det", "strand"):
                assert np.array_equal(cand[k], whole[k]), k
            assert np.allclose(cand["value"], whole["value"], atol=1e-5)
            assert np.array_equal(tests, t_whole)
        assert np.array_equal(np.isnan(trk), np.isnan(trk_whole))
        assert np.allclose(np.nan_to_num(trk), np.nan_to_num(trk_whole), atol=1e-5)
    # nothing at a window that touches N, and no track values there
    pos = whole["pos"]
    assert not ((pos + 9 > 1200) & (pos < 1350)).any()
    assert np.isnan(trk_whole[:, 1200:1350]).all()


@pytest.mark.parametrize("width,n_tracks,layer", [(7, 1, "concat"), (8, 2, "concat"), (19, 1, "concat"),
                                                 (25, 0, "concat"), (8, 2, "gated"), (19, 1, "gated")])
# folded track weights of odd and even widths; letter triples summed at once (up to 21) and one
# at a time; both first layers
def test_fused_kernel_matches_torch(width, n_tracks, layer):
    torch.manual_seed(1)
    model = SeqCNN({"n_filters": 5, "filter_width": width, "n_tracks": n_tracks,
                    "first_layer": layer, "dropout": 0.0}).eval()
    codes = background(2500, seed=9)
    codes[100:160] = DNA.unknown_code
    codes[700] = DNA.symbols.index("Y")
    tr = np.random.default_rng(2).normal(size=(n_tracks, len(codes))).astype(np.float32)
    src = scanner.ArraySource("s", codes, tr)
    got = [_all_candidates(scanner.Scanner(model, {}, scanner.ScanConfig(tile=300, engine=e)), src)
           for e in ENGINES]
    (a, ta, ka), (b, tb, kb) = got
    for k in ("pos", "det", "strand"):
        assert np.array_equal(a[k], b[k])
    assert np.allclose(a["value"], b["value"], atol=1e-5)
    assert np.array_equal(ta, tb)
    assert np.allclose(np.nan_to_num(ka), np.nan_to_num(kb), atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 5, 33])
def test_fused_chunks_give_the_same_calls(monkeypatch, chunk):
    """The fused kernel decides a tile in chunks with a halo; ties of a repeated k-mer across a
    chunk edge keep the leftmost-tie rule."""
    torch.manual_seed(4)
    model = SeqCNN({"n_filters": 4, "filter_width": 7, "n_tracks": 1, "dropout": 0.0}).eval()
    codes = background(1500, seed=11)
    codes[600:640] = np.tile(codes[600:604], 10)  # equal neighbours: ties within every window
    codes[900:930] = DNA.unknown_code
    tr = np.random.default_rng(4).normal(size=(1, len(codes))).astype(np.float32)
    src = scanner.ArraySource("s", codes, tr)
    cfg = scanner.ScanConfig(tile=700, engine="fused", tracks=["filter_1"])
    whole = _all_candidates(scanner.Scanner(model, {}, cfg), src)
    monkeypatch.setattr(scanner, "FUSED_CHUNK", chunk)
    got = _all_candidates(scanner.Scanner(model, {}, cfg), src)
    for k in ("pos", "det", "strand"):
        assert np.array_equal(got[0][k], whole[0][k]), k
    assert np.array_equal(got[0]["value"], whole[0]["value"])
    assert np.array_equal(got[1], whole[1])
    assert np.array_equal(got[2], whole[2], equal_nan=True)


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    import numpy as np
    sys.path.insert(0, {root!r})
    from seqfm import scan_null, scanner, shards
    from seqfm.model import SeqCNN
    import torch
    torch.manual_seed(0)
    model = SeqCNN({{"n_filters": 16, "filter_width": 11, "dropout": 0.0}}).eval()
    length = int(sys.argv[1])
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, length).astype(np.uint8)
    src = scanner.ArraySource("chr1", codes[:1000])
    # the candidates kept are bounded by max_candidates; what is left must not grow either
    sc = scanner.Scanner(model, {{}}, scanner.ScanConfig(tile=5000, batch_size=2, max_candidates=2000))
    null = scan_null.build_null(sc, [src], sc.config)
    from seqfm.io import Genome
    genome = Genome(sys.argv[2])
    gsrc = scanner.GenomeSource(genome, "chr1", sc.alphabet)
    list(sc.scan(scanner.ArraySource("w", codes[:20000]), null.thresholds(0.05)))  # warm up
    tracemalloc.start()
    res = shards.scan_sources(sc, [gsrc], null, sys.argv[3], dict(genome.sizes))
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({{"peak": peak, "bases": res.bases}}))
""")


def test_memory_does_not_grow_with_length(tmp_path):
    rng = np.random.default_rng(0)
    peaks = {}
    for length in (50_000, 500_000):
        fa = genome_fasta(tmp_path / str(length), {"chr1": random_dna(rng, length)}) if (
            (tmp_path / str(length)).mkdir() or True) else None
        script = tmp_path / "mem.py"
        script.write_text(MEMORY_SCRIPT.format(root=str(ROOT)))
        r = subprocess.run([sys.executable, str(script), str(length), str(fa),
                            str(tmp_path / str(length) / "out")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert res["bases"] == length
        peaks[length] = res["peak"]
    # 10x the length, about the same traced peak
    assert peaks[500_000] < 1.5 * peaks[50_000] + 2**20, peaks
