"""The scan's bigWig tracks: values at the right positions, in bins, readable back."""

import numpy as np
import pytest

from seqfm import scanner, shards
from seqfm.alphabet import DNA

from scanning import ENGINES, WIDTH, background, hand_null, motif_model, plant


@pytest.mark.parametrize("engine", ENGINES)
def test_bigwig_reads_back_at_the_right_positions(tmp_path, engine):
    import pyBigWig

    codes = plant(background(600, seed=2), 300)
    codes[500:540] = DNA.unknown_code
    sizes = {"chrA": 600, "chrB": 1000}
    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=128, engine=engine, tracks=["filter_0"], bin=1))
    shards.scan_sources(sc, [scanner.ArraySource("chrA", codes)], hand_null(2), tmp_path, sizes)
    bw = pyBigWig.open(str(tmp_path / "cam.bw"))
    assert bw.chroms() == sizes
    v = np.asarray(bw.values("chrA", 0, 600, numpy=True))
    centre = 300 + WIDTH // 2  # the CAM at window start j is drawn at base j + W // 2
    assert v[centre] == pytest.approx(1.0)
    assert np.nansum(v) == pytest.approx(1.0)
    assert np.isnan(v[: WIDTH // 2]).all() and not np.isnan(v[WIDTH // 2])
    # bases whose window touches N have no data
    assert np.isnan(v[500 - WIDTH + 1 + WIDTH // 2: 540 + WIDTH // 2]).all()
    assert not np.isnan(v[500 - WIDTH + WIDTH // 2])
    f0 = pyBigWig.open(str(tmp_path / "filter_0.bw")).values("chrA", centre, centre + 1)
    assert f0[0] == pytest.approx(1.0)
    # binned
    out2 = tmp_path / "binned"
    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=128, engine=engine, bin=10))
    shards.scan_sources(sc, [scanner.ArraySource("chrA", codes)], hand_null(2), out2, sizes)
    iv = pyBigWig.open(str(out2 / "cam.bw")).intervals("chrA", 300, 310)
    assert iv[0][:2] == (300, 310) and iv[0][2] == pytest.approx(0.1)
