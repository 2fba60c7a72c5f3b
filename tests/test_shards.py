"""One shard's scan: a site across a tile edge is called once, at its coordinate; a chromosome
of N."""

import numpy as np
import pytest

from seqfm import scanner, shards
from seqfm.alphabet import DNA

from scanning import ENGINES, WIDTH, background, hand_null, motif_model, plant, read_bed


@pytest.mark.parametrize("engine", ENGINES)
def test_site_across_tile_boundary_called_once(tmp_path, engine):
    codes = plant(plant(background(400), 45), 147, reverse=True)  # tiles of 50: edges at 50, 150
    cfg = scanner.ScanConfig(tile=50, batch_size=3, engine=engine, merge="none")
    sc = scanner.Scanner(motif_model(), {"policy": "uniform"}, cfg)
    src = scanner.ArraySource("seq1", codes)
    shards.scan_sources(sc, [src], hand_null(2), tmp_path, {"seq1": 400})
    bed = read_bed(tmp_path / "sites.bed")
    f0 = bed[bed["detector"] == "filter_0"].sort_values("start")
    assert list(zip(f0["start"], f0["end"], f0["strand"])) == [(45, 55, "+"), (147, 157, "-")]
    cam = bed[bed["detector"] == "cam"].sort_values("start")
    assert list(zip(cam["start"], cam["end"])) == [(45, 55), (147, 157)]
    assert (bed["detector"] == "filter_1").sum() == 0
    assert np.allclose(f0["activation"], 1.0)
    gff = (tmp_path / "sites.gff3").read_text().splitlines()
    assert gff[0] == "##gff-version 3" and len(gff) == 1 + len(bed)
    assert "\t46\t55\t" in gff[1]  # 1-based, inclusive


@pytest.mark.parametrize("engine", ENGINES)
def test_chromosome_of_only_n(tmp_path, engine):
    import pyBigWig

    sc = scanner.Scanner(motif_model(), {}, scanner.ScanConfig(tile=100, engine=engine))
    src = scanner.ArraySource("chrN", np.full(1000, DNA.unknown_code, np.uint8))
    res = shards.scan_sources(sc, [src], hand_null(2), tmp_path, {"chrN": 1000})
    assert res.n_calls == 0 and res.n_tests == {"filters": 0, "cam": 0}
    assert (tmp_path / "sites.bed").read_text().startswith("#chrom\tstart\tend")
    assert len((tmp_path / "sites.bed").read_text().splitlines()) == 1
    bw = pyBigWig.open(str(tmp_path / "cam.bw"))
    assert bw.chroms() == {"chrN": 1000}
    # shorter than a filter: no window at all
    short = scanner.ArraySource("tiny", background(WIDTH - 1))
    res = shards.scan_sources(sc, [short], hand_null(2), tmp_path / "tiny", {"tiny": WIDTH - 1})
    assert res.n_calls == 0
