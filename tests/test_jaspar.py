"""JASPAR through pyjaspar (kept on disk once read) and a user's MEME motif database (protein
motifs have no JASPAR), the targets of the annotation."""

import numpy as np
import pytest

from seqfm import jaspar
from seqfm.alphabet import DNA, PROTEIN
from seqfm.errors import InputError
from seqfm.io import read_meme
from seqfm.jaspar import Database, load_meme_database
from seqfm.annotation import annotate
from seqfm.simulate_protein import MOTIFS, pattern_matrix, write_protein_meme


def test_protein_meme_round_trip(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    letters, motifs = read_meme(path)
    assert letters == PROTEIN.letters
    assert [m[0] for m in motifs] == ["Walker_A", "C2H2_zinc_finger"]
    walker = motifs[0][2]
    assert walker.shape == (8, 20) and np.allclose(walker, pattern_matrix(MOTIFS["Walker_A"]), atol=1e-4)
    assert walker[6, PROTEIN.letters.index("K")] == pytest.approx(1.0)


def test_database_alphabet_must_be_the_samples(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    with pytest.raises(InputError, match="not the sample's dna alphabet"):
        load_meme_database(path, DNA)
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF x\nletter-probability matrix: w= 2\n0.5 0.5 0 0\n1 0\n")
    with pytest.raises(InputError, match="bad.meme line 8: motif 'x' row 2 has 2 values"):
        read_meme(bad)


@pytest.mark.slow  # TomTom compiles with numba on a machine's first call
def test_protein_filter_pwm_is_annotated_and_random_pwms_are_not(tmp_path):
    path = tmp_path / "m.meme"
    write_protein_meme(path, MOTIFS)
    db = load_meme_database(path, PROTEIN)
    rng = np.random.default_rng(0)
    # a learned-looking Walker A: the pattern with noise and flanks
    walker = pattern_matrix(MOTIFS["Walker_A"]) * 0.9 + 0.1 / 20
    query = np.vstack([rng.dirichlet(np.ones(20), 2), walker, rng.dirichlet(np.ones(20), 1)])
    randoms = [rng.dirichlet(np.full(20, 0.3), 10) for _ in range(40)]
    res = annotate([query] + randoms, db, reverse_complement=False)
    assert res["significant"][0] and db.names[int(res["target"][0])] == "Walker_A"
    assert res["significant"][1:].mean() < 0.05


def test_jaspar_loads_ctcf_with_its_width_as_probabilities():
    db = jaspar.load_jaspar()
    assert db.label == f"{jaspar.JASPAR_RELEASE} CORE vertebrates" and len(db) > 500
    ctcf = db.index("MA0139")  # unversioned: the release's version
    assert db.ids[ctcf] == "MA0139.2" and db.names[ctcf] == "CTCF"
    assert db.probs[ctcf].shape == (15, 4)
    np.testing.assert_allclose(db.probs[ctcf].sum(axis=1), 1.0)
    assert "zinc finger" in db.classes[ctcf] and jaspar.load_jaspar() is db  # read once per process
    name, counts = jaspar.matrix_counts(["MA0139.2"])[0]
    assert name == "CTCF" and np.array_equal(counts / counts.sum(axis=1, keepdims=True), db.probs[ctcf])
    assert jaspar.matrix_counts(["MA9999.1"]) == [None]


def test_unknown_release_is_refused_with_the_shipped_ones():
    assert jaspar.releases()[0] == jaspar.JASPAR_RELEASE
    with pytest.raises(InputError, match="JASPAR1999.*not shipped with pyjaspar; use one of JASPAR2026"):
        jaspar.load_jaspar("JASPAR1999")


def test_database_families_and_ids():
    db = Database(["X.1", "Y.1", "Z.2"], ["X", "Y::X", "Z"], [np.full((3, 4), 0.25)] * 3,
                  families=["f", "g", "f; h"], classes=["c"] * 3)
    assert db.same_family(0, 0) and db.index("X.2") == 0 and db.index("Z") == 2
    assert db.same_family(0, 1)  # a dimer partner
    assert db.same_family(0, 2) and not db.same_family(1, 2)  # a shared family
    with pytest.raises(KeyError):
        db.index("W.1")


def test_jaspar_selection_is_kept_on_disk_with_the_same_numbers(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(jaspar, "_JASPAR_CACHE", {})
    read = jaspar.load_jaspar(tax_group="insects")  # from pyjaspar's database
    kept = list((tmp_path / "seqfm" / "jaspar").glob("JASPAR2026_*.npz"))
    assert len(kept) == 1
    monkeypatch.setattr(jaspar, "_JASPAR_CACHE", {})
    again = jaspar.load_jaspar(tax_group="insects")  # from the copy
    assert again is not read and len(again) == len(read) > 0
    for field in ("ids", "names", "families", "classes", "label"):
        assert getattr(again, field) == getattr(read, field)
    assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(again.probs, read.probs))
    kept[0].write_bytes(b"not a numpy file")  # a damaged copy is read past, and replaced
    monkeypatch.setattr(jaspar, "_JASPAR_CACHE", {})
    assert jaspar.load_jaspar(tax_group="insects").ids == read.ids
    assert np.load(kept[0])["widths"].sum() == sum(len(p) for p in read.probs)


def test_command_line_defaults_are_the_release():
    """`seqfm --help` loads no library module, so the verbs spell the release out: the same one."""
    from seqfm.cli import build_parser

    parser = build_parser()
    sim = parser.parse_args(["simulate", "--out", "x"])
    mot = parser.parse_args(["motifs", "--model", "m", "--model-json", "j", "--dataset", "d",
                             "--out", "o"])
    assert sim.jaspar_release == mot.jaspar_release == jaspar.JASPAR_RELEASE
