"""Property-based tests (Hypothesis) over the readers and the verbs' input checks.

Valid FASTA, BED/narrowPeak, bedGraph, samples and prepared tables are mutated at random
(truncation, stray bytes, wrong types, swapped columns, huge values, empty fields, duplicate
keys). Whatever the input, a reader returns data or raises one ``InputError`` line naming the
file; a verb ends with exit 0 and a valid output, or exit 2 and one line naming the file, an
output that was there before left untouched, and never a traceback or a temporary left behind.

The profile is derandomized (the same examples every run) with bounded examples, so CI
sees the same cases and the whole file takes well under a minute.
"""

import contextlib
import gzip
import io as pyio
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from seqfm import dataset, io, prepare  # noqa: E402
from seqfm.cli import main  # noqa: E402
from seqfm.errors import InputError  # noqa: E402
from seqfm.samples import read_samples  # noqa: E402

settings.register_profile("seqfm", derandomize=True, deadline=None, database=None,
                          max_examples=40, print_blob=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile("seqfm")

# ---------------------------------------------------------------------- inputs and mutations
GENOME = {"chr1": "ACGTTGCAAGCTTAGGCATCGATCGGATCCTAGCTAGGCTAACGTTAGCCGATCGATTAGC" * 4,
          "chr2": "TTAGGCATCGACGTACGGATTCAGCTAGGACTTACGATCGACTAGCTAGGCTAGCAAATC" * 3,
          "chr3": "GGCATTACGATCGACTAGCATCGACTGGATCAGCTAGCATCGGACTACGACTTAGCATGA" * 3}

FASTA = "".join(f">s{i} note\nACGTTGCAAGCT{'ACGT'[i % 4] * 6}GGCATC\nTTAGG\n" for i in range(8))
BED = "".join(f"{c}\t{s}\t{s + 30}\tpeak{i}\t0\t{'+-.'[i % 3]}\t2.5\t-1\t-1\t{i * 3}\n"
              for i, (c, s) in enumerate([("chr1", 10), ("chr1", 80), ("chr2", 20), ("chr2", 100),
                                          ("chr3", 40), ("chr3", 120), ("chr1", 170), ("chr2", 140)]))
BEDGRAPH = "track type=bedGraph\n" + "".join(
    f"{c}\t{s}\t{s + 30}\t{(s % 7) / 3:.3f}\n" for c in GENOME for s in range(0, 180, 30))
SAMPLES = ("sample\talphabet\tpositives\tnegatives\tgenome\tconservation\n"
           "a\tdna\tpos.fa\tshuffle\t\t\nb\tdna\tpeaks.bed\tbackground\tg.fa\tcons.bw\n"
           "c\tprotein\tprot.fa\tshuffle\t\t\n")

#: values that break a field: empty, negative, not a number, huge, NaN/inf, stray bytes
BAD_VALUES = ["", "-1", "-7", "abc", "1e400", "99999999999999999999", "nan", "inf", "1.5",
              ".", "chrUn", "\xff", "\x00", "N" * 40, "peak1", "s1", ">", "track"]


@st.composite
def mutated(draw, text: str, sep: str = "\t") -> bytes:
    """``text`` after 1-4 random mutations, as bytes (may be gzip-compressed)."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["field", "field", "swap", "drop", "dup", "cut", "bytes", "space"]))
        fields = lines[i].rstrip("\n").split(sep)
        if kind == "field":
            fields[draw(st.integers(0, len(fields) - 1))] = draw(st.sampled_from(BAD_VALUES))
            lines[i] = sep.join(fields) + "\n"
        elif kind == "swap" and len(fields) > 1:
            a, b = draw(st.lists(st.integers(0, len(fields) - 1), min_size=2, max_size=2, unique=True))
            fields[a], fields[b] = fields[b], fields[a]
            lines[i] = sep.join(fields) + "\n"
        elif kind == "drop":
            del lines[i]
        elif kind == "dup":
            lines.insert(i, lines[i])
        elif kind == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif kind == "space":
            lines[i] = lines[i].replace(sep, " ", 1)
        else:
            raw = draw(st.binary(min_size=1, max_size=6))
            lines[i] = lines[i] + raw.decode("latin-1")
    data = "".join(lines).encode("latin-1")
    if draw(st.integers(0, 5)) == 0:  # some inputs arrive gzipped, some of those truncated
        data = gzip.compress(data)
        data = data[:draw(st.integers(10, len(data)))]
    return data


@contextlib.contextmanager
def folder():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def check_refusal(err: InputError, *files: Path) -> None:
    msg = str(err)
    assert "\n" not in msg.strip(), msg
    assert any(f.name in msg for f in files), msg


def run(*args) -> tuple[int, str]:
    """A verb in process: (exit status, stderr). An exception other than those the CLI turns
    into one line escapes and fails the test with its traceback."""
    err = pyio.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()


def check_verb(rc: int, err: str, out: Path, before: bytes | None, *files: Path) -> None:
    """Exit 0 (caller checks the output) or exit 2, one line naming a file, output untouched."""
    hypothesis.event(f"exit {rc}")
    assert "Traceback" not in err
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp-")]
    if rc == 0:
        return
    assert rc == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and "error:" in lines[0], err
    assert any(f.name in lines[0] for f in files), err
    if before is None:
        assert not out.exists()
    elif out.is_file():
        assert out.read_bytes() == before


# ---------------------------------------------------------------------- readers
@settings(PROFILE, max_examples=200)
@given(mutated(FASTA, sep=" "))
def test_fasta_reader_returns_records_or_one_line(data):
    with folder() as tmp:
        path = tmp / "x.fa"
        path.write_bytes(data)
        try:
            records = io.read_fasta(path)
        except InputError as err:
            check_refusal(err, path)
            return
        names = [r.name for r in records]
        assert len(set(names)) == len(names) and all(r.sequence for r in records)


@settings(PROFILE, max_examples=200)
@given(mutated(BED))
def test_bed_reader_returns_intervals_or_one_line(data):
    with folder() as tmp:
        path = tmp / "x.narrowPeak"
        path.write_bytes(data)
        try:
            bed = io.read_bed(path, unique_names=True)
        except InputError as err:
            check_refusal(err, path)
            return
        assert (bed.start >= 0).all() and (bed.end > bed.start).all()
        assert bed.name.is_unique and ((bed.summit >= -1) & (bed.summit < bed.end - bed.start)).all()


@settings(PROFILE, max_examples=200)
@given(mutated(BEDGRAPH))
def test_bedgraph_reader_returns_finite_float16_values_or_one_line(data):
    with folder() as tmp:
        path = tmp / "x.bedGraph"
        path.write_bytes(data)
        try:
            track = io.Track(path)
            values = [track.values(c, 0, len(s), where="w") for c, s in GENOME.items()
                      if c in track.sizes]
        except InputError as err:
            check_refusal(err, path)
            return
        for v in values:
            assert np.isfinite(v.astype(np.float16)).all()


@settings(PROFILE, max_examples=150)
@given(mutated(SAMPLES))
def test_samples_table_is_read_or_refused_in_one_line(data):
    with folder() as tmp:
        path = tmp / "samples.tsv"
        path.write_bytes(data)
        try:
            df = read_samples(path)
        except InputError as err:
            check_refusal(err, path)
            return
        assert df["sample"].is_unique and not df["sample"].isin([".", ".."]).any()


MEME = ("MEME version 4\n\nALPHABET= ACGT\n\n" + "".join(
    f"MOTIF m{k} NAME{k}\nletter-probability matrix: alength= 4 w= 3\n"
    "0.1 0.2 0.3 0.4\n0.25 0.25 0.25 0.25\n0.7 0.1 0.1 0.1\n\n" for k in range(3)))


@settings(PROFILE, max_examples=150)
@given(mutated(MEME, sep=" "))
def test_meme_reader_returns_normalised_motifs_or_one_line(data):
    with folder() as tmp:
        path = tmp / "db.meme"
        path.write_bytes(data)
        try:
            letters, motifs = io.read_meme(path)
        except InputError as err:
            check_refusal(err, path)
            return
        for _, _, probs in motifs:
            assert probs.shape[1] == len(letters) and np.isfinite(probs).all() and (probs >= 0).all()


# ---------------------------------------------------------------------- verbs
def _genome(tmp: Path) -> Path:
    path = tmp / "g.fa"
    path.write_text("".join(f">{c}\n{s}\n" for c, s in GENOME.items()))
    return path


@settings(PROFILE, max_examples=100)
@given(mutated(FASTA, sep=" "), st.booleans())
def test_prepare_on_a_mutated_fasta(data, existing):
    with folder() as tmp:
        pos, out = tmp / "pos.fa", tmp / "prepared.tsv"
        pos.write_bytes(data)
        before = b"earlier output\n" if existing else None
        if existing:
            out.write_bytes(before)
        rc, err = run("prepare", "--positives", pos, "--negatives", "shuffle", "--length", 16,
                      "--out", out)
        check_verb(rc, err, out, before, pos)
        if rc == 0:
            assert len(prepare.read(out)) > 0


@settings(PROFILE, max_examples=100)
@given(mutated(BED), st.booleans())
def test_prepare_on_a_mutated_narrowpeak(data, existing):
    with folder() as tmp:
        pos, out = tmp / "peaks.narrowPeak", tmp / "prepared.tsv"
        pos.write_bytes(data)
        genome = _genome(tmp)
        before = b"earlier output\n" if existing else None
        if existing:
            out.write_bytes(before)
        rc, err = run("prepare", "--positives", pos, "--negatives", "shuffle", "--genome", genome,
                      "--length", 16, "--out", out)
        check_verb(rc, err, out, before, pos, genome)
        if rc == 0:
            table = prepare.read(out)
            assert (table.sequence.str.len() == 16).all()


@pytest.fixture(scope="module")
def prepared_text():
    with folder() as tmp:
        pos = tmp / "pos.fa"
        pos.write_text("".join(f">chr{1 + i % 3}:{10 * i}-{10 * i + 16}\nACGTTGCA{'ACGT'[i % 4] * 8}\n"
                               for i in range(9)))
        rc, err = run("prepare", "--positives", pos, "--negatives", "shuffle", "--length", 16,
                      "--out", tmp / "p.tsv")
        assert rc == 0, err
        return (tmp / "p.tsv").read_text()


@settings(PROFILE, max_examples=100, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_encode_on_a_mutated_table_and_track(prepared_text, data):
    table_bytes = data.draw(st.one_of(st.just(prepared_text.encode()), mutated(prepared_text)))
    track_bytes = data.draw(st.one_of(st.just(BEDGRAPH.encode()), mutated(BEDGRAPH)))
    with folder() as tmp:
        table, track, out = tmp / "prepared.tsv", tmp / "cons.bedGraph", tmp / "ds"
        table.write_bytes(table_bytes)
        track.write_bytes(track_bytes)
        rc, err = run("encode", "--prepared", table, "--conservation", track, "--out", out)
        check_verb(rc, err, out, None, table, track)
        if rc == 0:
            ds = dataset.read(out)
            assert ds.codes.shape[0] == len(ds.labels) == len(ds.meta) > 0
            assert np.isfinite(np.asarray(ds.tracks)).all()
