import itertools

import numpy as np
import pandas as pd
import pytest

from seqfm import labels as L
from seqfm import scan_calls
from seqfm.alphabet import DNA, reverse_complement_codes
from seqfm.io import write_meme
from seqfm.pwm import PWM

GATA = "AGATAAGG"
EBOX = "GTCACGTGAC"


def probs_of(consensus: str, strength: float = 0.85) -> np.ndarray:
    p = np.full((len(consensus), 4), (1 - strength) / 3)
    for i, letter in enumerate(consensus):
        p[i, "ACGT".index(letter)] = strength
    return p


def test_score_tail_is_exact():
    """The upper tail of the integer score equals a count over every sequence of the width."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=3)
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    s, tail = L.score_tail(np.log2(probs / bg), bg)
    dist = {}
    for seq in itertools.product(range(4), repeat=3):
        score = sum(s[k, a] for k, a in enumerate(seq))
        dist[score] = dist.get(score, 0.0) + np.prod(bg[list(seq)])
    for v in range(len(tail)):
        assert tail[v] == pytest.approx(sum(p for x, p in dist.items() if x >= v), abs=1e-12)


def test_window_p_finds_the_motif_on_either_strand():
    rng = np.random.default_rng(1)
    bg = np.full(4, 0.25)
    windows = rng.integers(0, 4, (3, 40)).astype(np.uint8)
    windows[1, 10:18] = DNA.encode(GATA)
    windows[2, 20:28] = reverse_complement_codes(DNA.encode(GATA))
    lengths = np.array([40, 40, 40])
    table = L.score_tail(L.log_odds(probs_of(GATA), bg, 4), bg)
    p, rev = L.window_p(*table, windows, lengths, DNA)
    assert p[1] < 5e-3 and p[2] < 5e-3 and p[0] > 10 * p[1]
    assert rev.tolist()[1:] == [False, True]
    # a window shorter than the motif has no placement; padding is never read
    p, _ = L.window_p(*table, windows[:, 10:18], np.array([5, 8, 8]), DNA)
    assert p[0] == 1.0 and p[1] < 1e-4


def test_a_call_takes_the_cluster_its_sequence_matches(monkeypatch):
    """A call made by a CTCF-cluster filter on a GATA site is named GATA; a call of a cluster
    that is no candidate keeps its name unless a candidate's evidence is strong."""
    rng = np.random.default_rng(2)
    n = L.MotifNamer(["motif_1", "motif_2"], ["GATA1", "USF1"], np.array([False, True]),
                     [probs_of(GATA), probs_of(EBOX)], DNA)
    windows = rng.integers(0, 4, (3, 30)).astype(np.uint8)
    windows[0, 5:13] = DNA.encode(GATA)
    windows[1, 5:15] = DNA.encode(EBOX)
    take, k, rev = L.choose(n, windows, np.full(3, 30), np.full(4, 0.25),
                            np.array(["motif_2", "motif_1", "motif_9"], dtype=object))
    monkeypatch.setattr(L, "CHUNK", 2)  # scored in pieces: the same answer
    assert all(np.array_equal(a, b) for a, b in zip(
        (take, k, rev), L.choose(n, windows, np.full(3, 30), np.full(4, 0.25),
                                 np.array(["motif_2", "motif_1", "motif_9"], dtype=object))))
    assert take.tolist() == [True, True, False]
    assert k[:2].tolist() == [0, 1]
    # the E-box is its own reverse complement: the strand is that of USF1's match (minus)
    assert rev[1]


def test_candidates_are_named_or_influential_motifs(tmp_path):
    (tmp_path / "interpret").mkdir()
    pwms = [PWM(f"motif_{i}", probs_of(c) * 100, 100, "dna") for i, c in
            enumerate([GATA, EBOX, "TTTGTTTAC", "CCCCGGGG"], start=1)]
    write_meme(pwms, tmp_path / "interpret" / "motifs.meme", "dna")
    pd.DataFrame({"cluster": ["motif_1", "motif_2", "motif_3", "motif_4"],
                  "influence": [1.0, 0.3, 0.01, 0.5], "kind": ["motif", "motif", "motif", "track-only"],
                  "match_name": ["GATA1", "", "", ""], "match_strand": ["-", "", "", ""]}
                 ).to_csv(tmp_path / "motifs.tsv", sep="\t", index=False)
    n = L.load(tmp_path, DNA)
    # motif_2: unnamed but 16% of the influence; motif_3: unnamed and minor; motif_4: track-only
    assert n.clusters == ["motif_1", "motif_2"] and n.match_names == ["GATA1", "."]
    assert n.match_minus.tolist() == [True, False]
    assert L.load(tmp_path / "nowhere", DNA) is None


def test_genome_calls_are_renamed_after_the_motif_under_them(tmp_path):
    """Wiring of seqfm scan: filter_0 sits in the E-box cluster but its call lies on a GATA
    site; the call is named after the GATA cluster, on the strand of the site."""
    from seqfm import calls

    rng = np.random.default_rng(3)
    seq = DNA.decode(rng.integers(0, 4, 400).astype(np.uint8))
    site = DNA.decode(reverse_complement_codes(DNA.encode(GATA)))
    seq = seq[:200] + site + seq[208:]
    (tmp_path / "genome.fa").write_text(f">chr1\n{seq}\n")
    (tmp_path / "interpret").mkdir()
    write_meme([PWM("motif_1", probs_of(EBOX) * 100, 100, "dna"),
                PWM("motif_2", probs_of(GATA) * 100, 100, "dna")],
               tmp_path / "interpret" / "motifs.meme", "dna")
    pd.DataFrame({"cluster": ["motif_1", "motif_2"], "influence": [1.0, 1.0], "kind": "motif",
                  "match_name": ["USF1", "GATA1"], "match_strand": ["+", "+"],
                  "filters": ["filter_0", "filter_1"]}).to_csv(tmp_path / "motifs.tsv", sep="\t", index=False)
    (tmp_path / "interpret" / "filters.tsv").write_text("filter\tcluster\nfilter_0\tmotif_1\nfilter_1\tmotif_2\n")
    labels = calls.read_filter_labels(tmp_path / "interpret" / "filters.tsv", 2, DNA)
    table = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [202, 300], "end": [206, 310],
                          "name": ["motif_1:chr1", "cam:chr1"], "score": [500, 500],
                          "strand": ["+", "+"], "detector": ["filter_0", "cam"],
                          "cluster": ["motif_1", "."], "activation": [1.0, 1.0], "p": [1e-6, 1e-6],
                          "q": [1e-3, 1e-3], "match_name": ["USF1", "."]})
    out = scan_calls.name_calls(table, labels, tmp_path / "genome.fa")
    call = out[out["detector"] == "filter_0"].iloc[0]
    assert (call["cluster"], call["match_name"], call["name"], call["strand"]) == \
        ("motif_2", "GATA1", "motif_2:chr1", "-")
    assert out[out["detector"] == "cam"]["cluster"].tolist() == ["."]  # the CAM names nothing
    # without the motif files the labels are the clusters' own
    assert calls.read_filter_labels(tmp_path / "interpret" / "filters.tsv", 2).namer is None


def test_call_windows_read_in_blocks_equal_the_calls_read_one_by_one(tmp_path, monkeypatch):
    """The genome is read once per block of nearby calls; the windows (±FLANK) and the flank
    letter counts (±BG_FLANK) are those of each call read by itself, blocks or not."""
    from seqfm.io import Genome

    rng = np.random.default_rng(3)
    chroms = {"chr1": 5000, "chr2": 3000}
    seqs = {c: "".join(rng.choice(list("ACGTN"), n, p=[.24, .26, .25, .24, .01])) for c, n in chroms.items()}
    (tmp_path / "g.fa").write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    chrom = rng.choice(list(chroms), 60)
    start = np.array([rng.integers(0, chroms[c] - 20) for c in chrom])
    calls = pd.DataFrame({"chrom": chrom, "start": start, "end": start + rng.integers(5, 20, 60)})
    monkeypatch.setattr(scan_calls, "NAME_BLOCK", 700)  # many blocks, calls on their edges
    windows, lengths, counts = scan_calls._call_windows(Genome(tmp_path / "g.fa"), calls, DNA)
    one_by_one, around = [], []
    for c, s, e in zip(calls["chrom"], calls["start"], calls["end"]):
        n = chroms[c]
        one_by_one.append(DNA.encode(seqs[c][max(0, s - L.FLANK):min(n, e + L.FLANK)]))
        around.append(DNA.encode(seqs[c][max(0, s - L.BG_FLANK):min(n, e + L.BG_FLANK)]))
    want, want_len = L.pad(one_by_one, 255)
    np.testing.assert_array_equal(windows, want)
    np.testing.assert_array_equal(lengths, want_len)
    np.testing.assert_array_equal(L.frequencies(counts),
                                  L.composition(np.concatenate(around), DNA.size))
