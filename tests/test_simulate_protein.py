import re

import numpy as np
import pandas as pd

from seqfm import io
from seqfm.conservation import js_divergence, read_msa
from seqfm.simulate_protein import MOTIFS, simulate_protein

from conftest import run_cli


def prosite_regex(pattern):
    out = []
    for el in pattern.split("-"):
        letter, _, rep = el.partition("(")
        out.append(("." if letter == "x" else letter) + ("{" + rep.rstrip(")") + "}" if rep else ""))
    return "".join(out)


def test_planted_motifs_match_their_patterns_and_msas_are_conserved_there(tmp_path):
    simulate_protein(tmp_path, seed=2, n_positives=40, n_negatives=20)
    seqs = {r.name: r.sequence for r in io.read_fasta(tmp_path / "positives.fa")}
    truth = pd.read_csv(tmp_path / "truth.tsv", sep="\t")
    assert set(truth.motif) == set(MOTIFS) and set(truth.protein) == set(seqs)
    site_scores, other = [], []
    for r in truth.itertuples():
        inst = seqs[r.protein][r.start:r.end]
        assert inst == r.instance
        assert re.fullmatch(prosite_regex(r.pattern), inst)
        codes, query = read_msa(tmp_path / "msa" / f"{r.protein}.a3m", r.protein)
        assert query == seqs[r.protein]
        score = js_divergence(codes)
        site_scores.append(score[r.start:r.end].mean())
        other.append(np.delete(score, np.arange(r.start, r.end)).mean())
    assert np.mean(site_scores) > np.mean(other) + 0.15


def test_same_seed_same_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate_protein(a, seed=5, n_positives=10, n_negatives=10)
    simulate_protein(b, seed=5, n_positives=10, n_negatives=10)
    for name in ("positives.fa", "negatives.fa", "truth.tsv", "msa/prot_00003.a3m"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_impossible_lengths_are_one_clear_line(tmp_path):
    r = run_cli("simulate-protein", "--out", tmp_path / "p", "--min-length", "10")
    assert r.returncode == 2 and "need 60 <= min <= max" in r.stderr and "Traceback" not in r.stderr
