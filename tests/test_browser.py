"""Files genome browsers load (seqfm.browser): the scan's calls read back by real parsers
(tabix through pysam, bigBed through pyBigWig), UCSC's BED field rules, the IGV session."""

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from seqfm import browser, scan, scanner, shards
from seqfm.alphabet import DNA
from seqfm.model import save

from scanning import WIDTH, background, genome_fasta, motif_model, plant

SITES = {"chr1": [(1000, "+"), (5003, "-")], "chr2": [(2500, "+")]}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One genome (chr1, chr2 with planted sites; chrN all N) scanned whole, and again as
    two shards merged."""
    tmp = tmp_path_factory.mktemp("browser")
    seqs = {}
    for name, sites in SITES.items():
        codes = background(8000, seed=len(seqs) + 20)
        for p, strand in sites:
            codes = plant(codes, p, reverse=strand == "-")
        seqs[name] = DNA.decode(codes)
    seqs["chrN"] = "N" * 3000
    fa = genome_fasta(tmp, seqs)
    model_pt, model_json = save(motif_model(), tmp / "model")
    cfg = scanner.ScanConfig(tile=700, null_bases=20000, null_window=2000, q=0.5, tracks=("filter_0",))
    null = tmp / "null.npz"
    scan.make_null(model_pt, model_json, fa, null, config=cfg, threads=1)
    whole = tmp / "whole"
    scan.run(model_pt, model_json, fa, whole, config=cfg, null_path=null, threads=1)
    parts = []
    for chroms in (["chr1"], ["chr2", "chrN"]):
        out = tmp / "shards" / chroms[0]
        scan.run(model_pt, model_json, fa, out, chroms=chroms, config=cfg, null_path=null,
                 threads=1, shard=True)
        parts.append(out)
    merged = tmp / "merged"
    shards.merge_shards(parts, merged, q=0.5)
    return {"fa": fa, "whole": whole, "merged": merged, "shards": parts,
            "sizes": {c: len(s) for c, s in seqs.items()}}


@pytest.mark.parametrize("which", ["whole", "merged"])
def test_tabix_returns_each_site_at_its_coordinate(scanned, which):
    import pysam

    out = scanned[which]
    tbx = pysam.TabixFile(str(out / "sites.bed.gz"), parser=pysam.asTuple())
    assert any(h.startswith("#chrom\tstart\tend\tname\tscore\tstrand\tdetector") for h in tbx.header)
    assert set(tbx.contigs) == {"chr1", "chr2"}
    for chrom, sites in SITES.items():
        for pos, strand in sites:
            rows = [r for r in tbx.fetch(chrom, pos + 2, pos + 3) if r[6] == "filter_0"]
            assert [(int(r[1]), int(r[2]), r[5]) for r in rows] == [(pos, pos + WIDTH, strand)]
    assert list(tbx.fetch("chr1", 2000, 4000)) == []
    # every record of the text BED comes back through the index
    text = [l for l in (out / "sites.bed").read_text().splitlines() if not l.startswith("#")]
    back = [str(r) for c in ("chr1", "chr2") for r in tbx.fetch(c)]
    assert back == text and len(text) >= 3


@pytest.mark.parametrize("which", ["whole", "merged"])
def test_bigbed_reads_back_with_its_autosql(scanned, which):
    import pyBigWig

    out = scanned[which]
    path = out / "sites.bb"
    head = path.read_bytes()[:40]
    field_count, defined = struct.unpack_from("<HH", head, 32)
    assert (field_count, defined) == (12, 6)  # -type=bed6+6
    bb = pyBigWig.open(str(path))
    assert bb.isBigBed()
    sql = bb.SQL().decode()
    assert [n for _, n in browser.autosql_fields(sql)] == [
        "chrom", "chromStart", "chromEnd", "name", "score", "strand", "detector", "cluster",
        "activation", "p", "q", "matchName"]
    assert bb.chroms() == {c: scanned["sizes"][c] for c in ("chr1", "chr2")}  # those with calls
    (s, e, rest), = [x for x in bb.entries("chr2", 2400, 2600) if x[2].split("\t")[3] == "filter_0"]
    assert (s, e) == (2500, 2500 + WIDTH)
    name, score, strand, detector, cluster, act, p, q, match = rest.split("\t")
    assert strand == "+" and float(act) == pytest.approx(1.0) and float(q) <= 0.5


def test_calls_pass_ucsc_field_rules(scanned):
    for which in ("whole", "merged"):
        bed = scanned[which] / "sites.bed"
        n = browser.check_bed(bed, browser.SITES_AS, scanned["sizes"])
        assert n == sum(1 for l in bed.read_text().splitlines() if not l.startswith("#"))
        assert (scanned[which] / "sites.as").read_text() == browser.SITES_AS
    # as a plain-text custom track, UCSC would read column 7 as thickStart: the reason for
    # the bigBed (and the check can fail)
    with pytest.raises(browser.BedError, match="column 7 \\(thickStart\\)"):
        browser.check_bed(scanned["whole"] / "sites.bed", autosql=None)


def test_check_bed_rejects_what_bedtobigbed_rejects(tmp_path):
    good = "chr1\t10\t20\tx:chr1\t500\t+\tfilter_0\tc1\t1.5\t1e-05\t0.001\tCTCF\n"
    cases = {
        "score": good.replace("\t500\t", "\t1001\t"),
        "activation": good.replace("\t1.5\t", "\thigh\t"),
        "strand": good.replace("\t+\t", "\t*\t"),
        "expecting 12 fields": good.replace("\tCTCF\n", "\n"),
        "chromStart after chromEnd": good.replace("\t10\t20\t", "\t30\t20\t"),
        "past the end": good.replace("\t10\t20\t", "\t10\t200\t"),
        "not sorted": good.replace("chr1\t10", "chr1\t15") + good,
    }
    p = tmp_path / "ok.bed"
    p.write_text("#chrom\tstart\n" + good + good.replace("chr1", "chr2"))
    assert browser.check_bed(p, sizes={"chr1": 100, "chr2": 100}) == 2
    for what, text in cases.items():
        p.write_text(text)
        with pytest.raises(browser.BedError, match=what):
            browser.check_bed(p, sizes={"chr1": 100})
    # a valid BED12 passes the custom-track rules
    p.write_text("chr1\t10\t20\tx\t0\t+\t10\t20\t255,0,0\t1\t10,\t0,\n")
    assert browser.check_bed(p, autosql=None) == 1


@pytest.mark.parametrize("which", ["whole", "merged"])
def test_igv_session_paths_resolve_from_the_session_folder(scanned, which):
    out = scanned[which]
    session = out / "igv_session.xml"
    root = ET.parse(session).getroot()
    assert root.tag == "Session"
    base = session.parent
    genome = (base / root.get("genome")).resolve()
    assert genome == scanned["fa"].resolve() and Path(str(genome) + ".fai").is_file()
    assert not Path(root.get("genome")).is_absolute()
    resources = root.findall("./Resources/Resource")
    paths = {r.get("path"): r for r in resources}
    assert set(paths) == {"cam.bw", "sites.bed.gz"}
    for r in resources:
        assert (base / r.get("path")).is_file()
        if r.get("index"):
            assert (base / r.get("index")).is_file()
    assert paths["sites.bed.gz"].get("index") == "sites.bed.gz.tbi"
    assert root.get("locus", "").startswith("chr1:")
    summary = json.loads((out / ("scan.json" if which == "whole" else "summary.json")).read_text())
    files = summary.get("files", summary)
    assert files["igv_session"] == str(session)


def test_report_links_the_igv_session(scanned, tmp_path):
    import shutil

    from seqfm.report import load
    from seqfm.report.sections import section_scan

    root = tmp_path / "sample"
    shutil.copytree(scanned["merged"], root / "scan")
    sec = section_scan(load(root))
    assert 'href="scan/igv_session.xml"' in sec and 'href="scan/sites.bb"' in sec
    assert 'href="scan/sites.bed.gz"' in sec


def test_every_sites_bed_gets_its_autosql_and_passes_the_rules(tmp_path):
    import pandas as pd

    from seqfm import calls

    table = pd.DataFrame({
        "chrom": ["chr1", "chr1", "chr2"], "start": [10, 40, 5], "end": [29, 59, 24],
        "name": ["motif_1:peak 1", "cam:peak 1", "motif_1:peak 2"], "score": [1000, 310, 0],
        "strand": ["+", "-", "+"], "detector": ["filter_3", "cam", "filter_3"],
        "cluster": ["motif_1", ".", "motif_1"], "activation": [4.5, -0.25, 2.0],
        "p": [1e-12, 3e-4, 0.01], "q": [1e-10, 0.001, 1.0], "match_name": ["CTCF", ".", "CTCF"]})
    calls.write_calls(table, tmp_path / "sites.bed", tmp_path / "sites.gff3")
    assert (tmp_path / "sites.as").read_text() == browser.SITES_AS
    header = (tmp_path / "sites.bed").read_text().splitlines()[0]
    assert header == "#" + "\t".join(calls.BED_HEADER)
    assert len(browser.autosql_fields()) == len(calls.BED_HEADER)
    assert browser.check_bed(tmp_path / "sites.bed", sizes={"chr1": 100, "chr2": 30}) == 3
    bb = browser.write_bigbed(tmp_path / "sites.bed", {"chr1": 100, "chr2": 30})
    import pyBigWig

    entries = pyBigWig.open(str(bb)).entries("chr1", 0, 100)
    assert [e[:2] for e in entries] == [(10, 29), (40, 59)]
    assert entries[0][2].split("\t")[0] == "motif_1:peak 1"
    # no calls: the indexed BED (header only) still, no bigBed
    calls.write_calls(table.iloc[:0], tmp_path / "e" / "sites.bed", tmp_path / "e" / "sites.gff3")
    files = browser.write_scan_files(tmp_path / "e", {"chr1": 100})
    assert "sites_bb" not in files and not (tmp_path / "e" / "sites.bb").exists()
    import pysam

    tbx = pysam.TabixFile(files["sites_bed_gz"])
    assert list(tbx.contigs) == [] and tbx.header[0].startswith("#chrom")


def test_a_failed_merge_leaves_no_tracks_without_calls(scanned, tmp_path, monkeypatch):
    """The merged tracks are written after the calls: when the calls fail, neither appears."""
    def broken(*args, **kwargs):
        raise RuntimeError("calls failed")

    monkeypatch.setattr(shards, "call_table", broken)
    out = tmp_path / "merged"
    with pytest.raises(RuntimeError, match="calls failed"):
        shards.merge_shards(scanned["shards"], out, q=0.5)
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
