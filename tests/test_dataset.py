"""The encoded dataset (seqfm.dataset): the folder `seqfm encode` writes and every later stage reads.

What a user relies on: a dataset read back holds exactly what was written, in the documented
dtypes and shapes (uint8 codes, float16 tracks, uint8 labels, meta.tsv, dataset.json); a folder
that is not a dataset, or whose files disagree, is refused with one line naming it.
"""

import json

import numpy as np
import pandas as pd
import pytest

from seqfm import dataset
from seqfm.alphabet import DNA
from seqfm.errors import InputError

from conftest import random_dna


def small(n=12, length=20, tracks=2, seed=0) -> dataset.Dataset:
    """A seeded DNA dataset: half positive, a train/valid/test split, genome coordinates."""
    rng = np.random.default_rng(seed)
    seqs = [random_dna(rng, length) for _ in range(n)]
    labels = np.tile([1, 0], n // 2).astype(np.uint8)
    meta = pd.DataFrame({"name": [f"peak {i}" for i in range(n)], "chrom": ["chr2"] * n,
                         "start": 100 * np.arange(n), "end": 100 * np.arange(n) + length,
                         "strand": ["+", "-"] * (n // 2), "label": labels,
                         "split": (["train"] * 4 + ["valid", "test"]) * (n // 6)})
    return dataset.Dataset(DNA.encode_batch(seqs), rng.random((n, tracks, length)).astype(np.float16),
                           labels, meta, {"alphabet": "dna", "policy": "uniform",
                                          "tracks": [f"cons{t}" for t in range(tracks)]})


def assert_same(a: dataset.Dataset, b: dataset.Dataset) -> None:
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.tracks, b.tracks)
    np.testing.assert_array_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.meta[dataset.META_COLUMNS].reset_index(drop=True),
                                  b.meta[dataset.META_COLUMNS].reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("mmap", [True, False])
def test_written_then_read_is_the_same_dataset(tmp_path, mmap):
    ds = small()
    dataset.write(ds, tmp_path / "ds")
    back = dataset.read(tmp_path / "ds", mmap=mmap)
    assert_same(ds, back)
    assert (back.codes.dtype, back.tracks.dtype, back.labels.dtype) == (np.uint8, np.float16, np.uint8)
    assert isinstance(back.codes, np.memmap) == mmap
    assert back.alphabet is DNA and back.track_names == ["cons0", "cons1"] and back.n_channels == 6
    assert back.meta["name"].iloc[3] == "peak 3" and back.meta["chrom"].iloc[0] == "chr2"


def test_dataset_json_records_the_counts(tmp_path):
    dataset.write(small(), tmp_path / "ds")
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert (info["n"], info["length"], info["n_positive"], info["n_tracks"]) == (12, 20, 6, 2)
    assert info["splits"] == {"train": 8, "valid": 2, "test": 2}
    assert info["alphabet"] == "dna" and "seqfm_version" in info
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == sorted(dataset.FILES)


def test_a_dataset_without_tracks_round_trips(tmp_path):
    ds = small(tracks=0)
    dataset.write(ds, tmp_path / "ds")
    back = dataset.read(tmp_path / "ds")
    assert back.tracks.shape == (12, 0, 20) and back.n_channels == 4
    assert_same(ds, back)


def test_splits_and_subsets_select_rows(tmp_path):
    ds = small()
    test_rows = ds.split_index("test")
    assert test_rows.tolist() == [5, 11]
    part = ds.subset(test_rows)
    assert len(part) == 2 and part.meta["name"].tolist() == ["peak 5", "peak 11"]
    np.testing.assert_array_equal(part.codes, ds.codes[[5, 11]])
    np.testing.assert_array_equal(part.tracks, ds.tracks[[5, 11]])


def test_tracks_that_do_not_fit_the_codes_are_not_written(tmp_path):
    ds = small()
    ds.tracks = ds.tracks[:, :, :-1]
    with pytest.raises(ValueError, match="do not fit codes"):
        dataset.write(ds, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_a_folder_of_other_files_is_never_replaced(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"weights")
    with pytest.raises(InputError, match="results"):
        dataset.write(small(), folder)
    assert [p.name for p in folder.iterdir()] == ["model.pt"]
    assert not dataset.is_dataset(folder)


@pytest.mark.parametrize("missing", dataset.FILES)
def test_a_folder_missing_a_file_is_not_a_dataset(tmp_path, missing):
    dataset.write(small(), tmp_path / "ds")
    (tmp_path / "ds" / missing).unlink()
    with pytest.raises(InputError) as err:
        dataset.read(tmp_path / "ds")
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "ds"))
    assert f"no {missing}" in message and "seqfm encode" in message


def test_files_that_disagree_are_one_line_from_seqfm_train(tmp_path, capsys):
    from seqfm.cli import main

    folder = tmp_path / "ds"
    dataset.write(small(), folder)
    np.save(folder / "labels.npy", np.ones(7, np.uint8))  # 7 labels for 12 sequences
    capsys.readouterr()
    rc = main(["train", "--dataset", str(folder), "--out", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    error = [line for line in err.splitlines() if "error" in line]
    assert len(error) == 1 and str(folder) in error[0], err
    assert "arrays disagree" in error[0] and "labels (7,)" in error[0]
    assert not (tmp_path / "out" / "model.pt").exists()


def test_encode_makes_codes_labels_and_meta_from_a_prepared_table():
    table = pd.DataFrame({"name": ["a", "b"], "chrom": ["chr1", "chr1"], "start": [0, 10],
                          "end": [6, 16], "strand": ["+", "-"], "label": [1, 0],
                          "split": ["train", "test"], "sequence": ["ACGTNA", "acgtac"]})
    ds = dataset.encode(table, "dna")
    np.testing.assert_array_equal(ds.codes, DNA.encode_batch(["ACGTNA", "ACGTAC"]))
    assert ds.codes.dtype == np.uint8 and ds.tracks.shape == (2, 0, 6)
    assert ds.labels.tolist() == [1, 0] and ds.meta["split"].tolist() == ["train", "test"]
    assert ds.info["alphabet"] == "dna" and ds.info["tracks"] == []


def test_encode_names_the_sequence_with_a_bad_letter():
    table = pd.DataFrame({"name": ["ok", "odd one"], "chrom": "", "start": 0, "end": 4, "strand": "+",
                          "label": [1, 0], "split": "train", "sequence": ["ACGT", "AC!T"]})
    with pytest.raises(InputError, match=r"prepared\.tsv: sequence 'odd one': letter '!' at position 3"):
        dataset.encode(table, "dna", source="prepared.tsv")
    with pytest.raises(InputError, match="prepared.tsv: no sequence to encode"):
        dataset.encode(table.iloc[:0], "dna", source="prepared.tsv")
