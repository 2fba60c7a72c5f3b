"""Nothing lost, nothing hidden from the lab: outputs get the umask's modes through one
writer, no verb deletes what it did not write, and every bad input listed in the hardening
issue ends in one line naming the file and record, exit status 2, and no partial output."""

import gzip
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqfm import dataset, io, model as model_mod
from seqfm.cli import main
from seqfm.errors import InputError


# ---------------------------------------------------------------------- helpers
def seqfm(capsys, *args):
    """Run a verb in process; (exit status, stderr)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def one_line_failure(rc, err, *fragments):
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert "Traceback" not in err
    assert len([ln for ln in lines if "error:" in ln]) == 1, err
    for f in fragments:
        assert f in lines[-1], (f, err)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


FASTA = "".join(f">s{i}\n{'ACGTTGCAAC'[i % 10:] + 'ACGTGGCATTACGAT'}\n" for i in range(12))


@pytest.fixture
def prepared(tmp_path, capsys):
    fa = tmp_path / "pos.fa"
    fa.write_text(FASTA)
    out = tmp_path / "prepared.tsv"
    rc, err = seqfm(capsys, "prepare", "--positives", fa, "--negatives", "shuffle",
                    "--length", 12, "--out", out)
    assert rc == 0, err
    return out


# ---------------------------------------------------------------------- data loss
def test_encode_refuses_a_results_folder_and_keeps_it(tmp_path, prepared, capsys):
    results = tmp_path / "r"
    (results / "logos").mkdir(parents=True)
    (results / "model.json").write_text("{}")
    (results / "logos" / "c1.png").write_bytes(b"png")
    before = snapshot(results)
    rc, err = seqfm(capsys, "encode", "--prepared", prepared, "--out", results)
    one_line_failure(rc, err, str(results), "not a seqfm dataset", "new or empty folder")
    assert snapshot(results) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pos.fa", "prepared.tsv", "r"]


def test_encode_out_dot_never_empties_the_current_folder(tmp_path, prepared, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    rc, err = seqfm(capsys, "encode", "--prepared", prepared, "--out", ".")
    one_line_failure(rc, err, str(tmp_path))
    assert snapshot(tmp_path) == before


def test_encode_replaces_its_own_dataset(tmp_path, prepared, capsys):
    out = tmp_path / "ds"
    assert seqfm(capsys, "encode", "--prepared", prepared, "--out", out)[0] == 0
    (out / "codes.npy").write_bytes(b"stale")
    assert seqfm(capsys, "encode", "--prepared", prepared, "--out", out)[0] == 0
    assert dataset.read(out).codes.shape == (24, 12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "pos.fa", "prepared.tsv"]


def test_concurrent_writers_of_one_dataset_all_succeed(tmp_path, prepared):
    from seqfm import prepare as prep

    data = dataset.encode(prep.read(prepared), "dna")
    out, errors = tmp_path / "ds", []

    def write():
        try:
            for _ in range(4):
                dataset.write(data, out)
        except BaseException as err:  # noqa: BLE001 - any failure is the test's failure
            errors.append(err)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert dataset.is_dataset(out) and len(dataset.read(out)) == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "pos.fa", "prepared.tsv"]


def test_a_killed_writers_temporary_is_removed_by_the_next_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".logos.tmp-{io._HOST}-{dead.pid}-0123abcd"
    (stale / "filters").mkdir(parents=True)
    live = tmp_path / f".logos.tmp-{io._HOST}-{os.getpid()}-89abcdef"
    live.mkdir()
    with io.atomic_path(tmp_path / "logos", folder=True) as tmp:
        (tmp / "a.png").write_bytes(b"png")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "logos" / "a.png").read_bytes() == b"png"


def test_motifs_logos_folder_is_replaced_only_when_it_holds_only_logos(tmp_path):
    from seqfm.motifs import _is_logos_folder

    (tmp_path / "logos" / "filters").mkdir(parents=True)
    (tmp_path / "logos" / "c.svg").write_text("<svg/>")
    assert _is_logos_folder(tmp_path / "logos")
    (tmp_path / "logos" / "notes.txt").write_text("mine")
    assert not _is_logos_folder(tmp_path / "logos")


# ---------------------------------------------------------------------- modes
def _writers(tmp_path):
    """Every writer seqfm has, each writing one output under ``tmp_path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from seqfm import logos, plots, pwm, train

    net = model_mod.SeqCNN(model_mod.architecture(n_filters=2, filter_width=3))

    def text():
        with io.atomic_write(tmp_path / "a.txt") as h:
            h.write("x")
        return [tmp_path / "a.txt"]

    def figure():
        plots._save(plt.figure(), tmp_path / "fig.png")
        return [tmp_path / "fig.png"]

    def staged():
        with io.staged_files(tmp_path / "sim") as tmp:
            (tmp / "a.bed").write_text("x")
            (tmp / "msa").mkdir()
        return [tmp_path / "sim", tmp_path / "sim" / "a.bed", tmp_path / "sim" / "msa"]

    def data():
        d = dataset.Dataset(np.zeros((2, 4), np.uint8), np.zeros((2, 0, 4), np.float16),
                            np.array([0, 1], np.uint8),
                            pd.DataFrame({c: ["", ""] for c in dataset.META_COLUMNS}), {"alphabet": "dna"})
        dataset.write(d, tmp_path / "sub" / "ds")
        return [tmp_path / "sub", tmp_path / "sub" / "ds"] + sorted((tmp_path / "sub" / "ds").iterdir())

    return {
        "io.atomic_write": text,
        "model.save": lambda: list(model_mod.save(net, tmp_path / "m")),
        "plots._save": figure,
        "io.write_meme": lambda: (io.write_meme([pwm.PWM("m", np.ones((3, 4)), 1)], tmp_path / "m.meme"),
                                  [tmp_path / "m.meme"])[1],
        "train checkpoint": lambda: (train._atomic_torch_save({"a": 1}, tmp_path / "last.pt"),
                                     [tmp_path / "last.pt"])[1],
        "io.write_csv": lambda: (io.write_csv([{"a": 1}], tmp_path / "e.csv", ["a"]),
                                 [tmp_path / "e.csv"])[1],
        "io.staged_files": staged,
        "logos.save_logo": lambda: logos.save_logo(tmp_path / "logo", np.full((3, 4), 0.25)),
        "dataset.write": data,
    }


@pytest.mark.parametrize("writer", ["io.atomic_write", "model.save", "plots._save", "io.write_meme",
                                    "train checkpoint", "io.write_csv", "io.staged_files",
                                    "logos.save_logo", "dataset.write"])
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_writer_gives_the_modes_of_the_umask(tmp_path, writer, umask):
    old = os.umask(umask)
    try:
        paths = _writers(tmp_path)[writer]()
    finally:
        os.umask(old)
    assert paths
    for p in paths:
        want = (0o777 if p.is_dir() else 0o666) & ~umask
        assert mode(p) == want, (p, oct(mode(p)))
    assert not [p for p in tmp_path.rglob(".*")], "temporaries left behind"


# ---------------------------------------------------------------------- bad values
def _encode_with_track(tmp_path, capsys, track_name, track_text, *extra):
    fa = tmp_path / "pos.fa"
    fa.write_text(">chr1:0-12\nACGTACGTACGT\n>chr1:20-32\nACGTTTGTACGT\n>chr1:40-52\nACGAACGTACGT\n")
    prep = tmp_path / "prepared.tsv"
    assert seqfm(capsys, "prepare", "--positives", fa, "--negatives", "shuffle", "--length", 12,
                 "--out", prep)[0] == 0
    track = tmp_path / track_name
    track.write_text(track_text)
    out = tmp_path / "ds"
    return (*seqfm(capsys, "encode", "--prepared", prep, "--conservation", track, "--out", out, *extra), out)


@pytest.mark.parametrize("value", ["inf", "1e6", "-70000", "nan"])
def test_a_track_value_float16_cannot_hold_is_refused(tmp_path, capsys, value):
    rc, err, out = _encode_with_track(tmp_path, capsys, "t.bedGraph",
                                      f"chr1\t0\t30\t1.5\nchr1\t30\t60\t{value}\n")
    one_line_failure(rc, err, "t.bedGraph line 2", "chr1:30-60", "finite")
    assert not out.exists()


def test_a_bigwig_value_beyond_float16_is_refused(tmp_path, capsys):
    import pyBigWig

    bw_path = tmp_path / "big.bw"
    bw = pyBigWig.open(str(bw_path), "w")
    bw.addHeader([("chr1", 100)])
    bw.addEntries("chr1", 0, values=[1.0] * 44 + [1e9] + [1.0] * 55, span=1, step=1)
    bw.close()
    rc, err, out = _encode_with_track(tmp_path, capsys, "unused.txt", "", "--conservation", bw_path)
    one_line_failure(rc, err, "big.bw", "chr1:44-45", "float16")
    assert not out.exists()


def test_a_fill_value_float16_cannot_hold_is_refused(tmp_path, capsys):
    rc, err, out = _encode_with_track(tmp_path, capsys, "t.bedGraph", "chr1\t0\t60\t1\n",
                                      "--fill", "1e9")
    one_line_failure(rc, err, "fill value 1000000000.0")
    assert not out.exists()


def test_overlapping_bedgraph_intervals_are_refused(tmp_path, capsys):
    rc, err, out = _encode_with_track(tmp_path, capsys, "t.bedGraph",
                                      "track type=bedGraph\nchr1\t0\t30\t1\nchr1\t25\t60\t2\n")
    one_line_failure(rc, err, "t.bedGraph line 3", "chr1:25-60 overlaps chr1:0-30 (line 2)")
    assert not out.exists()


def test_duplicate_bed_names_are_refused(tmp_path, small_genome, capsys):
    bed = tmp_path / "pos.bed"
    bed.write_text("chr1\t100\t200\tpeak1\nchr2\t100\t200\tpeak2\nchr3\t100\t200\tpeak1\n")
    out = tmp_path / "p.tsv"
    rc, err = seqfm(capsys, "prepare", "--positives", bed, "--negatives", "shuffle",
                    "--genome", small_genome["fasta"], "--out", out)
    one_line_failure(rc, err, "pos.bed line 3", "duplicate name 'peak1' (first on line 1)")
    assert not out.exists()


def test_a_narrowpeak_summit_below_minus_one_is_refused(tmp_path):
    bed = tmp_path / "p.narrowPeak"
    bed.write_text("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t-5\n")
    with pytest.raises(InputError, match=r"p.narrowPeak line 1: summit offset -5 .*need -1"):
        io.read_bed(bed)


def test_an_all_n_positive_is_refused(tmp_path, capsys):
    fa = tmp_path / "pos.fa"
    fa.write_text(">ok\nACGTACGTACGT\n>gap\nNNNNNNNNNNNN\n")
    out = tmp_path / "p.tsv"
    rc, err = seqfm(capsys, "prepare", "--positives", fa, "--negatives", "shuffle",
                    "--length", 12, "--out", out)
    one_line_failure(rc, err, "pos.fa", "sequence 'gap' is all N")
    assert not out.exists()


def test_a_model_runs_only_on_the_tracks_it_was_trained_on(tmp_path):
    info = {"tracks": ["conservation"]}
    net = model_mod.SeqCNN({"n_tracks": 1, "n_filters": 2, "filter_width": 3})
    ds = dataset.Dataset(np.zeros((1, 4), np.uint8), np.zeros((1, 1, 4), np.float16),
                         np.ones(1, np.uint8), pd.DataFrame(), {"alphabet": "dna", "tracks": ["cons"]})
    with pytest.raises(InputError, match=r"m.json: .*\['conservation'\] but the dataset ds holds \['cons'\]"):
        model_mod.check_dataset(net, info, ds, "m.json", "ds")
    model_mod.check_dataset(net, {"tracks": ["cons"]}, ds, "m.json", "ds")


@pytest.mark.parametrize("name", [".", ".."])
def test_sample_names_dot_and_dotdot_are_refused(tmp_path, name):
    from seqfm.samples import read_samples

    table = tmp_path / "samples.tsv"
    table.write_text(f"sample\talphabet\tpositives\tnegatives\n{name}\tdna\tp.fa\tshuffle\n"
                     f"ok\tdna\tp.fa\tshuffle\n")
    with pytest.raises(InputError, match=r"samples.tsv line 2: sample name '\.{1,2}' .*not be \. or \.\."):
        read_samples(table)


# ---------------------------------------------------------------------- model files
@pytest.fixture
def small_model(tmp_path):
    net = model_mod.SeqCNN(model_mod.architecture(n_filters=4, filter_width=5))
    pt, js = model_mod.save(net, tmp_path / "m")
    return pt, js


@pytest.mark.parametrize("key, value, message", [
    ("n_filters", 10**9, "n_filters = 1000000000 does not fit the weights"),
    ("n_filters", 10**7, "does not fit the weights"),
    ("dilated_layers", 10**6, "dilated_layers = 1000000 does not fit"),
    ("n_filters", "abc", "architecture is not valid"),
    ("n_filters", 5, "weights of a different architecture"),
    ("dropout", [1], "architecture is not valid"),
])
def test_model_json_is_checked_against_the_weights_before_building(small_model, key, value, message):
    pt, js = small_model
    info = json.loads(js.read_text())
    info["architecture"][key] = value
    js.write_text(json.dumps(info))
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=message):
        model_mod.load(pt, js)
    assert time.perf_counter() - t0 < 1.0


def test_a_huge_model_json_is_refused_unread(small_model):
    pt, js = small_model
    with open(js, "ab") as h:
        h.truncate(model_mod.MAX_MODEL_JSON_BYTES + 1)
    with pytest.raises(InputError, match="too large for a seqfm model.json"):
        model_mod.load(pt, js)


def test_a_good_model_still_loads(small_model):
    net, info = model_mod.load(*small_model)
    assert net.conv1.weight.shape == (4, 4, 5) and info["architecture"]["n_filters"] == 4


# ---------------------------------------------------------------------- tracebacks
def test_a_folder_given_as_positives_is_one_line(tmp_path, small_genome, capsys):
    for name in ("dir.fa", "dir.bed"):
        (tmp_path / name).mkdir()
        rc, err = seqfm(capsys, "prepare", "--positives", tmp_path / name, "--negatives", "shuffle",
                        "--genome", small_genome["fasta"], "--out", tmp_path / "p.tsv")
        one_line_failure(rc, err, name, "is a folder")


def test_a_bed_with_a_byte_that_is_not_utf8_is_one_line(tmp_path, small_genome, capsys):
    bed = tmp_path / "pos.bed"
    bed.write_bytes(b"chr1\t100\t200\tok\nchr2\t100\t200\tna\xefve\xff\n")
    rc, err = seqfm(capsys, "prepare", "--positives", bed, "--negatives", "shuffle",
                    "--genome", small_genome["fasta"], "--out", tmp_path / "p.tsv")
    one_line_failure(rc, err, "pos.bed line 2", "0xef", "not UTF-8")


@pytest.mark.parametrize("content, message", [
    (None, "prepared table file not found"),
    ("", "is empty"),
    (">s1\nACGT\n", "not a prepared table (no column 'name')"),
    ("name\tchrom\tstart\tend\tstrand\tlabel\tsplit\tsource\tsequence\ns\t\tx\t0\t.\t1\ttrain\t\tACGT\n",
     "line 2: column 'start' is 'x'"),
    ("name\tchrom\tstart\tend\tstrand\tlabel\tsplit\tsource\tsequence\ns\t\t0\t0\t.\t1\tmaybe\t\tACGT\n",
     "line 2: split 'maybe'"),
])
def test_encode_refuses_what_is_no_prepared_table(tmp_path, capsys, content, message):
    table = tmp_path / "prepared.tsv"
    if content is not None:
        table.write_text(content)
    rc, err = seqfm(capsys, "encode", "--prepared", table, "--out", tmp_path / "ds")
    one_line_failure(rc, err, "prepared.tsv", message)
    assert not (tmp_path / "ds").exists()


def test_out_of_the_wrong_kind_is_one_line(tmp_path, prepared, capsys):
    (tmp_path / "file").write_text("mine")
    rc, err = seqfm(capsys, "encode", "--prepared", prepared, "--out", tmp_path / "file")
    one_line_failure(rc, err, "file: is a file")
    (tmp_path / "folder").mkdir()
    rc, err = seqfm(capsys, "prepare", "--positives", tmp_path / "pos.fa", "--negatives", "shuffle",
                    "--length", 12, "--out", tmp_path / "folder")
    one_line_failure(rc, err, "folder: is a folder")
    rc, err = seqfm(capsys, "encode", "--prepared", prepared, "--out", tmp_path / "file" / "ds")
    one_line_failure(rc, err, "file: is a file")
    assert (tmp_path / "file").read_text() == "mine" and not any((tmp_path / "folder").iterdir())


# ---------------------------------------------------------------------- compression
def _bgzip(src: Path, dst: Path) -> Path:
    from Bio import bgzf

    with open(src, "rb") as i, bgzf.BgzfWriter(str(dst), "wb") as o:
        o.write(i.read())
    return dst


def _gzip(src: Path, dst: Path) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


def test_prepare_reads_gzipped_narrowpeak_and_a_bgzipped_genome(tmp_path, small_genome, capsys):
    peaks = tmp_path / "peaks.narrowPeak"
    peaks.write_text("".join(f"{c}\t{s}\t{s + 300}\tp{i}\t0\t.\t1\t1\t1\t150\n"
                             for i, (c, s) in enumerate([("chr1", 1000), ("chr2", 2000), ("chr3", 3000),
                                                         ("chr1", 5000)])))
    genome_gz = _bgzip(small_genome["fasta"], tmp_path / "genome.fa.gz")
    plain, packed = tmp_path / "plain.tsv", tmp_path / "packed.tsv"
    args = ["--negatives", "shuffle", "--length", 50]
    assert seqfm(capsys, "prepare", "--positives", peaks, "--genome", small_genome["fasta"],
                 "--out", plain, *args)[0] == 0
    rc, err = seqfm(capsys, "prepare", "--positives", _gzip(peaks, tmp_path / "peaks.narrowPeak.gz"),
                    "--genome", genome_gz, "--out", packed, *args)
    assert rc == 0, err
    assert packed.read_text() == plain.read_text().replace("peaks.narrowPeak", "peaks.narrowPeak.gz")


def test_a_plain_gzip_genome_is_refused_with_how_to_bgzip_it(tmp_path, small_genome, capsys):
    bed = tmp_path / "pos.bed"
    bed.write_text("chr1\t100\t200\n")
    genome_gz = _gzip(small_genome["fasta"], tmp_path / "genome.fa.gz")
    rc, err = seqfm(capsys, "prepare", "--positives", bed, "--negatives", "shuffle",
                    "--genome", genome_gz, "--out", tmp_path / "p.tsv")
    one_line_failure(rc, err, "genome.fa.gz", "not with bgzip", "bgzip genome.fa")


def test_gzipped_fasta_bed_and_bedgraph_read_as_plain(tmp_path):
    fa, bed, bg = tmp_path / "a.fa", tmp_path / "a.bed", tmp_path / "a.bedGraph"
    fa.write_text(">x\nACGT\nAC\n>y\nGG\n")
    bed.write_text("track name=x\nchr1\t0\t10\tn\t0\t-\n")
    bg.write_text("chr1\t0\t5\t1.5\nchr1\t5\t10\t2\n")
    assert io.read_fasta(_gzip(fa, tmp_path / "b.fa.gz")) == io.read_fasta(fa)
    assert io.read_bed(_bgzip(bed, tmp_path / "b.bed.gz")).equals(io.read_bed(bed))
    track = io.Track(_gzip(bg, tmp_path / "b.bedGraph.gz"))
    assert track.name == "b" and list(track.values("chr1", 3, 7)) == [1.5, 1.5, 2, 2]


@pytest.mark.parametrize("data, message", [
    (b"BZh91AY&SY\x00\x01", "is bzip2-compressed"),
    (b"\xfd7zXZ\x00\x00", "is xz-compressed"),
    (b"\x28\xb5\x2f\xfd\x00", "is zstd-compressed"),
    (b">s1\nAC\x00GT\n", "line 2: binary data"),
    (gzip.compress(b">s1\nACGT\n")[:-6], "gzip data is truncated or corrupt"),
])
def test_a_wrong_compression_is_named_and_no_binary_is_printed(tmp_path, capsys, data, message):
    fa = tmp_path / "pos.fa"
    fa.write_bytes(data)
    rc, err = seqfm(capsys, "prepare", "--positives", fa, "--negatives", "shuffle", "--out",
                    tmp_path / "p.tsv")
    one_line_failure(rc, err, "pos.fa", message)
    assert err.isascii() and "\x00" not in err


def test_samples_table_and_motif_database_name_a_wrong_compression(tmp_path):
    from seqfm.samples import read_samples

    table = tmp_path / "samples.tsv"
    table.write_bytes(b"BZh91AY&SY\x00\x01")
    with pytest.raises(InputError, match=r"samples.tsv: is bzip2-compressed"):
        read_samples(table)
    meme = tmp_path / "db.meme"
    meme.write_bytes(b"MEME version 4\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"db.meme line 2: byte 0xff .* not UTF-8"):
        io.read_meme(meme)
    meme.write_text("MEME version 4\nMOTIF m1 X\nletter-probability matrix: w= 1\n0.1 0.2 x 0.4\n")
    with pytest.raises(InputError, match=r"db.meme line 4: motif 'm1' row 1 holds a value that is no probability"):
        io.read_meme(meme)
