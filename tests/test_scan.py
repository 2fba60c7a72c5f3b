"""The scan's verbs end to end: `seqfm scan-null`, `seqfm scan` per shard, `seqfm scan-merge`."""

import json

import pytest

from seqfm import shard_plan, significance
from seqfm.alphabet import DNA
from seqfm.model import save

from conftest import run_cli
from scanning import WIDTH, background, genome_fasta, motif_model, plant, read_bed


def test_cli_shards_and_merge(tmp_path):
    import pyBigWig

    seqs = {}
    for name, sites in (("chr1", [1000, 5003]), ("chr2", [2500])):
        codes = background(8000, seed=len(seqs) + 20)
        for p in sites:
            codes = plant(codes, p, reverse=p == 5003)
        seqs[name] = DNA.decode(codes)
    seqs["chrN"] = "N" * 3000
    fa = genome_fasta(tmp_path, seqs)
    model_pt, model_json = save(motif_model(), tmp_path / "model")
    model = ["--model", model_pt, "--model-json", model_json, "--genome", fa, "--tile", "700"]
    common = [*model, "--tracks", "filter_0", "--q", "0.5"]
    null = tmp_path / "null.npz"
    # a small null: exact matches get p ~ 1e-4
    r = run_cli("scan-null", *model, "--null-bases", "20000", "--null-window", "2000", "--out", null)
    assert r.returncode == 0, r.stderr
    parts = []
    for chrom in ("chr1", "chr2", "chrN"):
        out = tmp_path / "shards" / chrom
        shard = [] if chrom == "chr1" else ["--shard"]  # only what the merge reads
        r = run_cli("scan", *common, "--chrom", chrom, "--null", null, "--out", out, *shard)
        assert r.returncode == 0, r.stderr
        parts.append(out)
    assert (parts[0] / "sites.bed").is_file() and (parts[0] / "sites.gff3").is_file()
    assert not (parts[1] / "sites.bed").exists() and (parts[1] / "candidates.npz").is_file()
    assert pyBigWig.open(str(parts[1] / "cam.bw")).header()["nLevels"] == 0
    n_info = json.loads((tmp_path / "shards" / "chrN" / "scan.json").read_text())
    assert n_info["n_calls"] is None and n_info["bases"] == 3000  # the merge makes the calls
    # the null's own record, not the scan's defaults for a null it did not build
    built = significance.ScanNull.load(null).info
    assert "null_bases" not in n_info["config"] and n_info["null_info"]["bases"] == built["bases"] <= 20000
    assert n_info["null_info"]["windows"] == built["windows"] > 1
    merged = tmp_path / "merged"
    r = run_cli("scan-merge", "--shards", *parts, "--out", merged)  # q = 0.5, as the shards say
    assert r.returncode == 0, r.stderr
    bed = read_bed(merged / "sites.bed")
    f0 = bed[bed["detector"] == "filter_0"]
    assert list(zip(f0["chrom"], f0["start"], f0["strand"])) == [
        ("chr1", 1000, "+"), ("chr1", 5003, "-"), ("chr2", 2500, "+")]
    text = (merged / "sites.bed").read_text()
    assert text.count("#chrom") == 1
    assert list(bed["start"]) == sorted(bed["start"]) or bed["chrom"].is_monotonic_increasing
    bw = pyBigWig.open(str(merged / "cam.bw"))
    assert set(bw.chroms()) == {"chr1", "chr2", "chrN"}
    assert bw.header()["nLevels"] > 0  # zoom levels for the browser, built at the merge
    # default resolution: 10-base bins holding the mean (one base of CAM 1 -> 0.1)
    for chrom, site in (("chr2", 2500), ("chr1", 5003)):
        centre = site + WIDTH // 2
        (a, b, v), = bw.intervals(chrom, centre, centre + 1)
        assert (a, b) == (centre // 10 * 10, centre // 10 * 10 + 10) and v == pytest.approx(0.1)
    assert (merged / "filter_0.bw").is_file()
    summary = json.loads((merged / "summary.json").read_text())
    assert summary["bases"] == 19000
    # chr2 and chrN packed into one shard (the workflow's plan, read with --chroms-file): the
    # same merged calls and tracks
    plan = shard_plan.plan_shards({"chr1": 8000, "chr2": 8000, "chrN": 3000}, ["chr1", "chr2", "chrN"], 11000)
    assert plan == [("chr1", ["chr1"]), ("chr2+1", ["chr2", "chrN"])]
    r = run_cli("scan-plan", "--genome", fa, "--shard-bases", 11000, "--out", tmp_path / "plan")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plan" / "shards.tsv").read_text().splitlines()[1:] == [
        "chr1\t1\t8000\tchr1\tchr1", "chr2+1\t2\t11000\tchr2\tchrN"]
    pack = tmp_path / "packed" / "chr2+1"
    r = run_cli("scan", *common, "--chroms-file", tmp_path / "plan" / "chr2+1.txt", "--null", null,
                "--out", pack, "--shard")
    assert r.returncode == 0, r.stderr
    r = run_cli("scan-merge", "--shards", parts[0], pack, "--out", tmp_path / "merged2")
    assert r.returncode == 0, r.stderr
    for name in ("sites.bed", "sites.gff3"):
        assert (tmp_path / "merged2" / name).read_bytes() == (merged / name).read_bytes()
    bw2 = pyBigWig.open(str(tmp_path / "merged2" / "cam.bw"))
    for chrom in ("chr1", "chr2"):
        assert bw2.intervals(chrom) == bw.intervals(chrom)
    # the old spellings of the null and the merge name their verbs, in one line
    for old, verb in (("--make-null", "seqfm scan-null"), ("--gather", "seqfm scan-merge")):
        r = run_cli("scan", old, *([] if old == "--make-null" else parts), "--out", tmp_path / "x")
        assert r.returncode == 2 and verb in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # a bad chromosome name is one clear line
    r = run_cli("scan", *common, "--chrom", "chr9", "--null", null, "--out", tmp_path / "bad")
    assert r.returncode == 2 and "chr9" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "none.txt").write_text("# nothing\n\n")
    r = run_cli("scan", *common, "--chroms-file", tmp_path / "none.txt", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "none.txt" in r.stderr and "Traceback" not in r.stderr
