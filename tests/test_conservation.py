import numpy as np
import pandas as pd
import pytest

from seqfm import dataset
from seqfm.alphabet import PROTEIN
from seqfm.conservation import BLOSUM62_BACKGROUND, check_query, js_divergence, protein_tracks, read_msa
from seqfm.errors import InputError

Q = BLOSUM62_BACKGROUND


def jsd(p):
    """Jensen-Shannon divergence (bits) of a column distribution against BLOSUM62, by its definition."""
    r = (p + Q) / 2
    nz = p > 0
    return 0.5 * np.sum(p[nz] * np.log2(p[nz] / r[nz])) + 0.5 * np.sum(Q * np.log2(Q / r))


def codes(*rows):
    return np.array([[20 if c == "-" else PROTEIN.letters.index(c) for c in row] for row in rows])


def test_js_divergence_matches_hand_computed_columns():
    # columns: fully conserved W | half gaps, rest A | variable A/L
    msa = codes("WAA", "WAA", "W-L", "W-L")
    got = js_divergence(msa, window=0, weights=np.ones(4), pseudocount=0)
    w = np.zeros(20); w[PROTEIN.letters.index("W")] = 1
    a = np.zeros(20); a[PROTEIN.letters.index("A")] = 1
    al = np.zeros(20); al[PROTEIN.letters.index("A")] = al[PROTEIN.letters.index("L")] = 0.5
    assert got[0] == pytest.approx(jsd(w), abs=1e-9)
    assert got[1] == pytest.approx(0.5 * jsd(a), abs=1e-9)  # gap penalty: half the column is gaps
    assert got[2] == pytest.approx(jsd(al), abs=1e-9)
    # closed form of the conserved column: 0.5 log2(2/(1+q)) + 0.5 (q log2(2q/(1+q)) + (1-q))
    q = Q[PROTEIN.letters.index("W")]
    assert got[0] == pytest.approx(0.5 * np.log2(2 / (1 + q)) + 0.5 * (q * np.log2(2 * q / (1 + q)) + 1 - q))
    assert got[0] > got[2] > 0


def test_window_smoothing_mixes_neighbours():
    msa = codes("WAAW", "WAAW", "W-LW", "W-LW")
    raw = js_divergence(msa, window=0, weights=np.ones(4), pseudocount=0)
    smooth = js_divergence(msa, window=1, weights=np.ones(4), pseudocount=0)
    assert smooth[1] == pytest.approx(0.5 * raw[1] + 0.5 * (raw[0] + raw[2]) / 2)
    assert smooth[0] == pytest.approx(0.5 * raw[0] + 0.5 * raw[1])


def test_a3m_insertions_are_dropped_and_query_matched(tmp_path):
    a3m = tmp_path / "P1.a3m"
    a3m.write_text(">P1\nMKV-W\n>h1\nMKVaaAW\n>h2\nM-VEW\n")
    mat, query = read_msa(a3m, "P1")
    assert query == "MKVW" and mat.shape == (3, 4)
    assert PROTEIN.decode(mat[1][mat[1] < 20]) == "MKVW"
    check_query(query, "XMKVW", -1, "P1", a3m)  # padded window
    with pytest.raises(InputError, match=r"P1.a3m.*protein 'P1' at residue 3 \(alignment has 'V', sequence has 'R'\)"):
        check_query(query, "MKRW", 0, "P1", a3m)


def test_stockholm_is_read(tmp_path):
    sto = tmp_path / "P2.sto"
    sto.write_text("# STOCKHOLM 1.0\nP2   MK-W\nh1   MKAW\n//\n")
    mat, query = read_msa(sto, "P2")
    assert query == "MKW" and mat.shape == (2, 3)


def test_protein_tracks_from_msa_folder_and_score_table(tmp_path):
    folder = tmp_path / "msa"
    folder.mkdir()
    (folder / "P1.fa").write_text(">P1\nMKVWC\n>h\nMKIWC\n>h2\nMRLWC\n")
    table = pd.DataFrame({"name": ["P1", "shuffle_1_P1"], "chrom": ["P1", ""], "start": [-1, 0],
                          "end": [6, 0], "strand": ".", "label": [1, 0], "split": "train",
                          "source": ["", "P1"], "sequence": ["XMKVWCX", "KMVWCXX"]})
    tracks, names = protein_tracks(table, str(folder), seed=1)
    assert names == ["msa_jsd"] and tracks.shape == (2, 1, 7)
    assert tracks[0, 0, 0] == 0 and tracks[0, 0, 6] == 0  # padding
    assert tracks[0, 0, 4] > tracks[0, 0, 3]  # conserved W beats variable V/I/L
    assert np.array_equal(np.sort(tracks[1, 0]), np.sort(tracks[0, 0]))
    scores = tmp_path / "scores.tsv"
    scores.write_text("protein\tposition\tscore\nP1\t1\t0.5\nP1\t5\t2.0\n")
    tracks, _ = protein_tracks(table.iloc[:1], str(scores), seed=1)
    assert tracks[0, 0].tolist() == [0, 0.5, 0, 0, 0, 2.0, 0]


def test_msa_query_mismatch_is_a_clear_error(tmp_path):
    folder = tmp_path / "msa"
    folder.mkdir()
    (folder / "P1.fa").write_text(">P1\nMKVWC\n>h\nMKIWC\n")
    table = pd.DataFrame({"name": ["P1"], "chrom": ["P1"], "start": [0], "end": [5], "strand": ".",
                          "label": [1], "split": "train", "source": [""], "sequence": ["MKVYC"]})
    with pytest.raises(InputError, match=r"P1.fa: the alignment's query row does not match protein 'P1' at residue 4"):
        dataset.encode(table, "protein", tracks=[str(folder)])
    (folder / "P1.fa").unlink()
    with pytest.raises(InputError, match="no alignment for protein 'P1'"):
        dataset.encode(table, "protein", tracks=[str(folder)])


def test_protein_prepare_uses_residue_coordinates_and_composition_shuffle(tmp_path):
    from seqfm.prepare import PrepareConfig, prepare

    rng = np.random.default_rng(0)
    fa = tmp_path / "p.fa"
    fa.write_text("".join(f">prot{i}\n{''.join(rng.choice(list(PROTEIN.letters), size=40 + i))}\n"
                          for i in range(30)))
    t = prepare(str(fa), "shuffle", None, PrepareConfig(alphabet="protein", length=50))
    pos, neg = t[t.label == 1], t[t.label == 0]
    lengths = np.arange(30) + 40
    assert (pos.chrom == pos.name).all() and (pos.start.to_numpy() == (lengths - 50) // 2).all()
    for (_, p), (_, n) in zip(pos.iterrows(), neg.iterrows()):
        assert sorted(p.sequence) == sorted(n.sequence)  # composition kept
    assert set(t.split) == {"train", "valid", "test"}
