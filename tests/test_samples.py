"""The samples table (seqfm.samples.read_samples): what a user writes in config/samples.tsv.

A good table comes back indexed by sample with the optional columns present; every mistake is
one line naming the file (and the line and column where there is one) and what would be right.
"""

import gzip

import pytest

from seqfm.errors import InputError
from seqfm.samples import OPTIONAL, REQUIRED, read_samples

HEADER = "sample\talphabet\tpositives\tnegatives"


def write(tmp_path, text, name="samples.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(path, *fragments):
    """The one-line InputError read_samples raises on ``path``; each fragment is in it."""
    with pytest.raises(InputError) as err:
        read_samples(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_a_good_table_is_indexed_by_sample_with_every_column(tmp_path):
    path = write(tmp_path, f"{HEADER}\tgenome\n"
                           "ctcf_1\tdna\tpeaks.narrowPeak.gz\tbackground\t hg38.fa \n"
                           "kinases\tprotein\tpos.fa\tshuffle\t\n")
    df = read_samples(path)
    assert list(df.index) == ["ctcf_1", "kinases"]
    assert set(REQUIRED + OPTIONAL) <= set(df.columns)
    assert df.loc["ctcf_1", "genome"] == "hg38.fa"  # cells are stripped
    assert df.loc["kinases", "genome"] == "" and df.loc["kinases", "conservation"] == ""


def test_a_gzipped_table_reads_like_a_plain_one(tmp_path):
    text = f"{HEADER}\ns1\tdna\tpos.fa\tshuffle\n"
    packed = tmp_path / "samples.tsv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    assert read_samples(packed).equals(read_samples(write(tmp_path, text)))


def test_a_missing_required_column_names_the_columns_expected(tmp_path):
    path = write(tmp_path, "sample\talphabet\tpositives\ns1\tdna\tpos.fa\n")
    refused(path, "missing column(s) negatives", "sample, alphabet, positives, negatives",
            "tab-separated")


def test_a_comma_separated_table_is_not_mistaken_for_one_column(tmp_path):
    path = write(tmp_path, "sample,alphabet,positives,negatives\ns1,dna,pos.fa,shuffle\n")
    refused(path, "missing column(s)")


@pytest.mark.parametrize("name", ["my sample", "a/b", "..", "ünï", "x;rm"])
def test_a_sample_name_that_cannot_be_a_folder_is_refused(tmp_path, name):
    path = write(tmp_path, f"{HEADER}\ngood\tdna\tpos.fa\tshuffle\n{name}\tdna\tpos.fa\tshuffle\n")
    refused(path, "line 3", f"sample name {name!r}", "^[A-Za-z0-9._-]+$")


def test_an_unknown_alphabet_lists_the_choices(tmp_path):
    path = write(tmp_path, f"{HEADER}\ns1\trna\tpos.fa\tshuffle\n")
    refused(path, "line 2", "column 'alphabet' is 'rna'", "dna, protein")


def test_an_empty_required_cell_names_its_column(tmp_path):
    path = write(tmp_path, f"{HEADER}\ns1\tdna\t\tshuffle\n")
    refused(path, "line 2", "column 'positives' is empty")


@pytest.mark.parametrize("positives", ["peaks.bed", "peaks.narrowPeak", "PEAKS.BED.gz"])
def test_bed_positives_need_a_genome(tmp_path, positives):
    path = write(tmp_path, f"{HEADER}\tgenome\ns1\tdna\t{positives}\tshuffle\t\n")
    refused(path, "line 2", f"positives {positives} are BED intervals", "'genome' needs a genome FASTA")
    with_genome = write(tmp_path, f"{HEADER}\tgenome\ns1\tdna\t{positives}\tshuffle\tgenome.fa\n", "ok.tsv")
    assert read_samples(with_genome).loc["s1", "genome"] == "genome.fa"


def test_background_negatives_need_a_genome(tmp_path):
    path = write(tmp_path, f"{HEADER}\ns1\tdna\tpos.fa\tbackground\n")
    refused(path, "line 2", "negatives 'background' needs column 'genome'")


def test_a_sample_named_twice_is_refused(tmp_path):
    path = write(tmp_path, f"{HEADER}\ns1\tdna\ta.fa\tshuffle\ns1\tdna\tb.fa\tshuffle\n")
    refused(path, "sample 's1' appears more than once")


def test_a_header_without_rows_is_refused(tmp_path):
    refused(write(tmp_path, HEADER + "\n"), "no sample rows under the header")


def test_a_missing_or_compressed_table_is_one_line(tmp_path):
    refused(tmp_path / "nope.tsv", "samples table file not found")
    bz = tmp_path / "samples.tsv.bz2"
    bz.write_bytes(b"BZh91AY&SY" + bytes(20))
    refused(bz, "bzip2-compressed", "plain text")
