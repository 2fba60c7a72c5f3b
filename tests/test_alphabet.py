import numpy as np
import pytest
import torch

from seqfm.alphabet import DNA, PROTEIN, AlphabetError, one_hot, reverse_complement_codes, reverse_tracks


def test_dna_round_trip_and_soft_mask():
    seq = "ACGTacgtNNRYSWKMBDHV"
    codes = DNA.encode(seq)
    assert codes.dtype == np.uint8
    assert DNA.decode(codes) == seq.upper()
    x = one_hot(codes[None, :4])
    assert x.shape == (1, 4, 4)
    assert torch.equal(x[0], torch.eye(4))


def test_protein_round_trip_and_ambiguity():
    seq = "ACDEFGHIKLMNPQRSTVWYXBZJUO"
    codes = PROTEIN.encode(seq.lower())
    assert PROTEIN.decode(codes) == seq
    x = one_hot(codes[None], PROTEIN)
    assert x.shape == (1, 20, len(seq))
    assert torch.equal(x[0, :, :20], torch.eye(20))
    col = dict(zip(PROTEIN.letters, x[0, :, 21].tolist()))  # B = D or N
    assert col["D"] == col["N"] == 0.5 and sum(col.values()) == 1.0
    assert torch.allclose(x[0, :, 20], torch.full((20,), 0.05))  # X
    assert x[0, PROTEIN.letters.index("C"), 24] == 1.0  # U read as C


@pytest.mark.parametrize("policy,n_col,r_col", [
    ("uniform", [0.25] * 4, [0.5, 0, 0.5, 0]),
    ("zeros", [0.0] * 4, [0.0] * 4),
])
def test_ambiguity_policy(policy, n_col, r_col):
    x = one_hot(DNA.encode("NR", policy=policy)[None], DNA, policy)
    assert x[0, :, 0].tolist() == n_col
    assert x[0, :, 1].tolist() == r_col


def test_strict_policy_refuses_ambiguity_with_position():
    with pytest.raises(AlphabetError, match=r"'N' at position 3 .*strict"):
        DNA.encode("ACNT", policy="strict", where="x.fa record r1")
    with pytest.raises(AlphabetError, match="record 'b'.*'R' at position 2"):
        DNA.encode_batch(["ACGT", "ARGT"], policy="strict", where=["record 'a'", "record 'b'"])


def test_letters_outside_alphabet_are_refused():
    with pytest.raises(AlphabetError, match="'J' at position 2"):
        DNA.encode("AJGT")
    with pytest.raises(AlphabetError, match="'1'"):
        PROTEIN.encode("AC1")


def test_reverse_complement_codes_and_tracks():
    codes = DNA.encode_batch(["AACGTN", "GATTRY"])
    rc = reverse_complement_codes(codes)
    assert [DNA.decode(r) for r in rc] == ["NACGTT", "RYAATC"]
    assert np.array_equal(reverse_complement_codes(rc), codes)
    tracks = np.arange(12, dtype=np.float16).reshape(1, 2, 6)
    assert reverse_tracks(tracks)[0, 1].tolist() == [11, 10, 9, 8, 7, 6]
    # one-hot of the reverse complement is the one-hot flipped on both axes (ACGT order)
    x, xr = one_hot(codes[:1, :5]), one_hot(rc[:1, 1:])
    assert torch.equal(xr, x.flip(1).flip(2))


def test_protein_has_no_reverse_complement():
    with pytest.raises(AlphabetError, match="no reverse complement"):
        PROTEIN.complement_codes()


def test_one_hot_follows_device_and_dtype():
    codes = torch.from_numpy(DNA.encode_batch(["ACGT"] * 3))
    x = one_hot(codes, dtype=torch.float16)
    assert x.dtype == torch.float16 and x.device == codes.device and x.shape == (3, 4, 4)


def test_strings_to_one_hot_equals_codes_path_and_checks_letters():
    from seqfm.alphabet import strings_to_one_hot

    seqs = ["ACGTNRacgt", "TTTTGGGGCC"]
    assert torch.equal(strings_to_one_hot(seqs), one_hot(DNA.encode_batch(seqs)))
    buf = torch.full((2, 4, 10), 7.0)
    assert strings_to_one_hot(seqs, out=buf) is buf and torch.equal(buf, one_hot(DNA.encode_batch(seqs)))
    with pytest.raises(AlphabetError, match="sequence 2.*'N' at position 3"):
        strings_to_one_hot(["ACGT", "ACNT"], policy="strict")
    with pytest.raises(AlphabetError, match="'!' at position 1"):
        strings_to_one_hot(["!CGT"])
