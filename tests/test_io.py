import numpy as np
import pyBigWig
import pyfaidx
import pytest

from seqfm import io
from seqfm.alphabet import PROTEIN
from seqfm.errors import InputError
from seqfm.pwm import PWM
from seqfm.prepare import PrepareConfig, regions_from_bed, regions_from_fasta


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,message", [
    ("ACGT\n>a\nACGT\n", r"line 1: not FASTA"),
    (">a\nACGT\n>\nACGT\n", r"line 3: FASTA header has no name"),
    (">a\n>b\nACGT\n", r"line 1: record 'a' has no sequence"),
    (">a\nACGT\n>a\nACGT\n", r"line 3: duplicate record name 'a'"),
    (">a\nAC1GT\n", r"line 2: record 'a' holds '1'"),
])
def test_malformed_fasta_is_named(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        io.read_fasta(write(tmp_path / "x.fa", text))


def test_fasta_reads_multiline_and_coordinates(tmp_path):
    recs = io.read_fasta(write(tmp_path / "x.fa", ">chr1:10-18 extra words\nACGT\nacgt\n>plain\nAC\n"))
    assert [(r.name, r.sequence) for r in recs] == [("chr1:10-18", "ACGTacgt"), ("plain", "AC")]
    assert io.parse_coordinate_header("chr1:10-18") == ("chr1", 10, 18, ".")
    assert io.parse_coordinate_header("chrX:5-9(-)") == ("chrX", 5, 9, "-")
    assert io.parse_coordinate_header("plain") is None


@pytest.mark.parametrize("line,message", [
    ("chr1\t100\n", "at least 3"),
    ("chr1\tx\t200\n", "must be integers"),
    ("chr1\t200\t100\n", "empty or negative"),
    ("chr1\t100\t200\tp\t0\t*\n", "strand must be"),
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t500\n", "summit offset 500"),
])
def test_malformed_bed_is_named(tmp_path, line, message):
    with pytest.raises(InputError, match=f"line 2: .*{message}"):
        io.read_bed(write(tmp_path / "x.bed", "track name=x\n" + line))


def test_bed_extraction_equals_pyfaidx_including_chromosome_ends(small_genome, tmp_path):
    fa = pyfaidx.Fasta(str(small_genome["fasta"]), as_raw=True)
    bed = write(tmp_path / "p.bed", "chr1\t1000\t1100\tmid\n"
                                    "chr1\t0\t50\tleft\n"
                                    "chr3\t9950\t10000\tright\n"
                                    "chr2\t500\t700\tminus\t0\t-\n")
    genome = io.Genome(small_genome["fasta"])
    out = regions_from_bed(io.read_bed(bed), genome, 200, str(bed)).set_index("name")
    assert out.loc["mid", "sequence"] == fa["chr1"][950:1150]
    assert (out.loc["left", "start"], out.loc["left", "sequence"]) == (0, fa["chr1"][0:200])
    assert (out.loc["right", "end"], out.loc["right", "sequence"]) == (10000, fa["chr3"][9800:10000])
    minus = fa["chr2"][500:700]
    assert out.loc["minus", "sequence"] == minus.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def test_narrowpeak_summit_centres_the_window(small_genome, tmp_path):
    bed = write(tmp_path / "p.narrowPeak", "chr1\t1000\t3000\tp1\t0\t.\t5\t5\t5\t300\n")
    out = regions_from_bed(io.read_bed(bed), io.Genome(small_genome["fasta"]), 100, str(bed))
    assert (out.start[0], out.end[0]) == (1250, 1350)


def test_interval_past_chromosome_end_and_missing_chromosome(small_genome, tmp_path):
    genome = io.Genome(small_genome["fasta"])
    bed = write(tmp_path / "p.bed", "chr1\t100\t200\nchr3\t9990\t10010\n")
    with pytest.raises(InputError, match=r"p.bed line 2: interval chr3:9990-10010 ends past the end of chr3 \(length 10000\)"):
        regions_from_bed(io.read_bed(bed), genome, 50, str(bed))
    bed = write(tmp_path / "q.bed", "chr9\t100\t200\n")
    with pytest.raises(InputError, match=r"q.bed line 1: chromosome 'chr9' is not in the genome"):
        regions_from_bed(io.read_bed(bed), genome, 50, str(bed))


def test_fasta_records_are_centred_cropped_or_padded(tmp_path):
    recs = io.read_fasta(write(tmp_path / "x.fa", ">long\nAAAACCGGTTTT\n>short\nCG\n>chr2:100-112(-)\nAAAACCGGTTTT\n"))
    out = regions_from_fasta(recs, PrepareConfig(length=4), "x.fa").set_index("name")
    assert out.loc["long", "sequence"] == "CCGG"
    assert out.loc["short", "sequence"] == "NCGN"
    r = out.loc["chr2:100-112(-)"]
    # a minus-strand record's window is counted from the interval's end
    assert (r.chrom, r.start, r.end, r.strand) == ("chr2", 104, 108, "-")


def test_header_span_must_match_length(tmp_path):
    recs = io.read_fasta(write(tmp_path / "x.fa", ">chr1:100-110\nACGT\n"))
    with pytest.raises(InputError, match="spans 10 bp but the record holds 4"):
        regions_from_fasta(recs, PrepareConfig(length=4), "x.fa")


def test_bigwig_values_land_on_the_right_positions(small_genome):
    track = io.Track(small_genome["bigwig"])
    bw = pyBigWig.open(str(small_genome["bigwig"]))
    got = track.values("chr2", 14990, 15010)  # runs 10 bp past the chromosome end
    assert np.allclose(got[:10], bw.values("chr2", 14990, 15000))
    assert np.allclose(got[:10], 2000 + np.arange(14990, 15000) / 1000)
    assert np.all(got[10:] == 0)
    with pytest.raises(InputError, match="chromosome 'chrZ' is not in the conservation track"):
        track.values("chrZ", 0, 10, where="sequence 's1'")


def test_bedgraph_reads_like_bigwig(tmp_path):
    bg = write(tmp_path / "c.bedGraph", "track type=bedGraph\nchr1\t0\t5\t1.5\nchr1\t7\t10\t-2\n")
    assert io.Track(bg).values("chr1", 3, 10).tolist() == [1.5, 1.5, 0, 0, -2, -2, -2]
    bad = write(tmp_path / "d.bedGraph", "chr1\t0\tfive\t1\n")
    with pytest.raises(InputError, match="d.bedGraph line 1: bedGraph column end is 'five'"):
        io.Track(bad)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with io.atomic_write(target) as h:
            h.write("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- FASTA writers, staged files
def test_streamed_fasta_equals_the_string_writer_and_pyfaidx_reads_its_index(tmp_path):
    rng = np.random.default_rng(5)
    seqs = {"chr1": "".join(rng.choice(list("ACGTacgtN"), 137)), "chr2": "ACGT" * 30, "chr3": "A"}
    io.write_fasta(seqs.items(), tmp_path / "plain.fa")
    fasta = io.FastaWriter(tmp_path / "streamed.fa")
    for name, seq in seqs.items():
        fasta.start(name)
        letters = np.frombuffer(seq.encode(), dtype=np.uint8)
        for lo in range(0, len(letters), 37):  # pieces that end mid-line
            fasta.write(letters[lo:lo + 37])
    fasta.close()
    assert (tmp_path / "streamed.fa").read_bytes() == (tmp_path / "plain.fa").read_bytes()
    index = pyfaidx.Fasta(str(tmp_path / "streamed.fa"), rebuild=False, as_raw=True)
    assert {name: index[name][:] for name in seqs} == seqs
    assert (tmp_path / "streamed.fa.fai").read_text().splitlines()[1] == "chr2\t120\t152\t60\t61"


def test_staged_files_appear_together_or_not_at_all(tmp_path):
    out = tmp_path / "example"
    with io.staged_files(out) as tmp:
        (tmp / "a.bed").write_text("a")
        (tmp / "b.bed").write_text("b")
        assert not (out / "a.bed").exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.bed", "b.bed"]
    with pytest.raises(RuntimeError, match="boom"), io.staged_files(out) as tmp:
        (tmp / "a.bed").write_text("new")
        raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["a.bed", "b.bed"]
    assert (out / "a.bed").read_text() == "a"


def test_json_and_csv_writers(tmp_path):
    io.save_json({"a": np.float32(0.5), "b": [np.int64(1)], "c": None}, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text() == '{\n  "a": 0.5,\n  "b": [\n    1\n  ],\n  "c": null\n}\n'
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        io.save_json({"a": object()}, tmp_path / "y.json")
    assert not (tmp_path / "y.json").exists()
    io.write_csv([{"a": 1, "b": None, "extra": 3}, {"a": 2}], tmp_path / "x.csv", ["a", "b"])
    assert (tmp_path / "x.csv").read_bytes() == b"a,b\r\n1,\r\n2,\r\n"


# ---------------------------------------------------------------------- MEME
def test_meme_is_read_back_by_biopython_and_memelite(tmp_path):
    from Bio import motifs as bio_motifs
    from memelite.io import read_meme as ml_read_meme

    rng = np.random.default_rng(4)
    pwms = [PWM(f"filter_{i}", rng.integers(0, 30, size=(w, 4)).astype(float), 30, "dna", 0.5,
                altname="a b") for i, w in enumerate((6, 11))]
    path = tmp_path / "filters.meme"
    io.write_meme(pwms, path)
    with open(path) as handle:
        record = bio_motifs.parse(handle, "minimal")
    assert [m.name for m in record] == ["filter_0", "filter_1"]
    for m, p in zip(record, pwms):
        assert len(m) == p.width and m.alphabet == "ACGT"
        # Biopython rebuilds whole counts from nsites: probabilities agree to 1 / nsites
        got = np.array([m.pwm[b] for b in "ACGT"]).T
        np.testing.assert_allclose(got, p.probs, atol=1.0 / p.n_sites)
    letters, ours = io.read_meme(path)
    assert letters == "ACGT" and [m[:2] for m in ours] == [("filter_0", "a_b"), ("filter_1", "a_b")]
    np.testing.assert_allclose(ours[1][2], pwms[1].probs, atol=2e-6)
    theirs = ml_read_meme(str(path))
    assert len(theirs) == 2
    text = path.read_text()
    assert text.startswith("MEME version 4") and "strands: + -" in text
    assert "Background letter frequencies" in text


def test_protein_meme_has_no_strands(tmp_path):
    p = PWM("filter_0", np.ones((4, 20)), 12, "protein")
    io.write_meme([p], tmp_path / "p.meme", "protein")
    text = (tmp_path / "p.meme").read_text()
    assert f"ALPHABET= {PROTEIN.letters}" in text and "strands" not in text
    letters, ours = io.read_meme(tmp_path / "p.meme")
    assert letters == PROTEIN.letters and ours[0][2].shape == (4, 20)
