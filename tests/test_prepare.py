import numpy as np
import pandas as pd
import pytest

from seqfm import dataset
from seqfm.prepare import PrepareConfig, assign_split, prepare

from conftest import random_dna


@pytest.fixture
def bed_sample(small_genome, tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for chrom, size in small_genome["sizes"].items():
        for s in rng.choice(np.arange(200, size - 600, 400), size=12, replace=False):
            rows.append(f"{chrom}\t{s}\t{s + 300}\tp_{chrom}_{s}\t0\t.\n")
    bed = tmp_path / "pos.bed"
    bed.write_text("".join(rows))
    return bed


def test_prepare_bed_background_with_chromosome_holdout(small_genome, bed_sample):
    cfg = PrepareConfig(length=100, test_chroms=["chr3"], valid_chroms=["chr2"])
    t = prepare(str(bed_sample), "background", str(small_genome["fasta"]), cfg)
    assert (t.label == 1).sum() == 36 and (t.label == 0).sum() == 36
    assert set(t.sequence.str.len()) == {100}
    assert (t[t.chrom == "chr3"].split == "test").all()
    assert (t[t.chrom == "chr2"].split == "valid").all()
    assert (t[t.chrom == "chr1"].split == "train").all()


def test_shuffled_negatives_follow_their_source_split(small_genome, bed_sample):
    cfg = PrepareConfig(length=100, test_chroms=["chr3"], valid_chroms=["chr2"], negatives_per_positive=2)
    t = prepare(str(bed_sample), "shuffle", str(small_genome["fasta"]), cfg)
    neg = t[t.label == 0]
    assert len(neg) == 72 and (neg.chrom == "").all()
    split_of = dict(zip(t.name, t.split))
    assert all(split_of[s] == sp for s, sp in zip(neg.source, neg.split))


def test_fasta_without_coordinates_gets_stratified_seeded_split(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("pos.fa", 100), ("neg.fa", 300)):
        (tmp_path / name).write_text("".join(f">{name}{i}\n{random_dna(rng, 60)}\n" for i in range(n)))
    cfg = PrepareConfig(length=50, test_fraction=0.2, valid_fraction=0.1, seed=4)
    t = prepare(str(tmp_path / "pos.fa"), str(tmp_path / "neg.fa"), None, cfg)
    counts = t.groupby(["label", "split"]).size()
    assert counts[(1, "test")] == 20 and counts[(0, "test")] == 60
    assert counts[(1, "valid")] == 10 and counts[(0, "valid")] == 30
    again = prepare(str(tmp_path / "pos.fa"), str(tmp_path / "neg.fa"), None, cfg)
    assert again.split.tolist() == t.split.tolist()


def test_encode_reads_tracks_at_sequence_coordinates(small_genome, bed_sample):
    cfg = PrepareConfig(length=100, test_chroms=["chr3"], valid_chroms=["chr2"])
    t = prepare(str(bed_sample), "shuffle", str(small_genome["fasta"]), cfg)
    data = dataset.encode(t, "dna", tracks=[str(small_genome["bigwig"])])
    assert data.codes.shape == (72, 100) and data.tracks.shape == (72, 1, 100)
    r = t.iloc[0]
    k = list(small_genome["sizes"]).index(r.chrom) + 1
    expect = (k * 1000 + np.arange(r.start, r.start + 100) / 1000).astype(np.float16)
    assert np.array_equal(data.tracks[0, 0], expect)
    # a shuffled negative carries its source's values in place (its sequence is shuffled)
    i = int(np.flatnonzero(t.source == r["name"])[0])
    assert np.array_equal(data.tracks[i, 0], data.tracks[0, 0])
    assert not np.array_equal(data.codes[i], data.codes[0])


def test_dataset_round_trip_is_memory_mapped(small_genome, bed_sample, tmp_path):
    t = prepare(str(bed_sample), "background", str(small_genome["fasta"]),
                PrepareConfig(length=64, test_chroms=["chr3"], valid_chroms=["chr2"]))
    data = dataset.encode(t, "dna", tracks=[str(small_genome["bigwig"])])
    dataset.write(data, tmp_path / "ds")
    back = dataset.read(tmp_path / "ds")
    assert isinstance(back.codes, np.memmap) and back.codes.dtype == np.uint8
    assert back.tracks.dtype == np.float16 and back.tracks.shape == (len(t), 1, 64)
    assert np.array_equal(back.codes, data.codes) and np.array_equal(back.labels, t.label)
    assert back.info["splits"]["test"] == (t.split == "test").sum()
    assert back.n_channels == 5 and back.track_names == ["cons"]
    assert back.meta.chrom.tolist() == t.chrom.tolist()


def test_automatic_holdout_chooses_whole_chromosomes():
    t = pd.DataFrame({"chrom": ["a"] * 80 + ["b"] * 10 + ["c"] * 10, "label": 1, "source": ""})
    t["name"] = [f"s{i}" for i in range(len(t))]
    split = assign_split(t, PrepareConfig())
    for chrom in "abc":
        assert len(set(split[t.chrom == chrom])) == 1
    assert sorted(set(split)) == ["test", "train", "valid"]
