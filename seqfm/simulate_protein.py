"""Simulated protein example: proteins with planted PROSITE-style motifs and their MSAs.

``simulate_protein(out_dir, seed=1, ...)`` writes into ``out_dir``:

``positives.fa`` / ``negatives.fa``
    proteins of 120-240 residues drawn from natural amino-acid frequencies (BLOSUM62
    background). Every positive carries a planted motif instance, a share of them two:
    the P-loop Walker A ``[AG]x4GK[ST]`` or the C2H2 zinc finger
    ``C-x(2,4)-C-x(3)-[LIVMFYWC]-x(8)-H-x(3,5)-H``, each sampled with variation (the
    alternatives and spacer lengths drawn at random; ``x`` from the background).
    Negatives carry none.
``msa/{protein}.a3m``
    a simulated alignment per protein, query first: homologs mutate background residues
    often and planted sites rarely; every protein (negatives too) also has one conserved
    decoy segment, so conservation alone cannot tell positives from negatives. Homologs
    carry a few deletions (``-``) and insertions (lowercase, A3M style).
``truth.tsv``
    every planted residue range: ``protein start end motif pattern instance``
    (0-based, half-open residue coordinates).
``motifs.meme``
    the two planted motifs as probability matrices (MEME format, protein alphabet; the zinc
    finger at its middle spacing C-x3-C-x3-L-x8-H-x4-H), a motif database to annotate with.
``simulate.json``
    parameters, seed and counts.

The same seed gives identical files; files are renamed into place only when all are written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from . import __version__
from .alphabet import PROTEIN
from .conservation import BLOSUM62_BACKGROUND
from .errors import InputError
from .io import staged_files, write_fasta

log = logging.getLogger("seqfm")

LETTERS = np.frombuffer(PROTEIN.letters.encode(), dtype=np.uint8)
MOTIFS = {
    "Walker_A": "[AG]-x(4)-G-K-[ST]",
    "C2H2_zinc_finger": "C-x(2,4)-C-x(3)-[LIVMFYWC]-x(8)-H-x(3,5)-H",
}


def sample_pattern(pattern: str, rng: np.random.Generator) -> str:
    """One instance of a PROSITE-style pattern: ``[..]`` one of, ``x(a,b)`` a-b background residues."""
    out = []
    for element in pattern.split("-"):
        letter, _, rep = element.partition("(")
        lo, _, hi = rep.rstrip(")").partition(",")
        n = int(rng.integers(int(lo), int(hi or lo) + 1)) if rep else 1
        for _ in range(n):
            if letter == "x":
                out.append(chr(LETTERS[rng.choice(20, p=BLOSUM62_BACKGROUND)]))
            elif letter.startswith("["):
                out.append(str(rng.choice(list(letter.strip("[]")))))
            else:
                out.append(letter)
    return "".join(out)


def pattern_matrix(pattern: str, spacing: dict[int, int] | None = None) -> np.ndarray:
    """Probability matrix ``(W, 20)`` of a PROSITE-style pattern: alternatives share the mass,
    ``x`` is the background; a ``x(a,b)`` element takes ``spacing[k]`` (default its middle) residues."""
    rows = []
    for k, element in enumerate(pattern.split("-")):
        letter, _, rep = element.partition("(")
        lo, _, hi = rep.rstrip(")").partition(",")
        n = (spacing or {}).get(k, (int(lo) + int(hi or lo)) // 2) if rep else 1
        for _ in range(n):
            row = np.zeros(20)
            if letter == "x":
                row[:] = BLOSUM62_BACKGROUND
            else:
                for c in letter.strip("[]"):
                    row[PROTEIN.letters.index(c)] = 1.0
            rows.append(row / row.sum())
    return np.array(rows)


def write_protein_meme(path: Path, motifs: dict[str, str]) -> None:
    """The patterns as a MEME motif file with the protein alphabet."""
    out = ["MEME version 4", "", f"ALPHABET= {PROTEIN.letters}", "", "Background letter frequencies",
           " ".join(f"{a} {f:.4f}" for a, f in zip(PROTEIN.letters, BLOSUM62_BACKGROUND)), ""]
    for name, pattern in motifs.items():
        m = pattern_matrix(pattern)
        out += [f"MOTIF {name} {name}", f"letter-probability matrix: alength= 20 w= {len(m)} nsites= 20 E= 0"]
        out += [" ".join(f"{v:.4f}" for v in row) for row in m] + [""]
    path.write_text("\n".join(out) + "\n")


def random_protein(length: int, rng: np.random.Generator) -> np.ndarray:
    return LETTERS[rng.choice(20, size=length, p=BLOSUM62_BACKGROUND)]


def homologs(query: np.ndarray, conserved: np.ndarray, rng: np.random.Generator, n: int = 24,
             rate: float = 0.55, conserved_rate: float = 0.04) -> list[str]:
    """A3M rows of ``n`` simulated homologs of ``query`` (uint8 letters, length M).

    Each residue is replaced by a background draw with probability ``rate``
    (``conserved_rate`` where ``conserved``); a few short deletions and insertions.
    """
    m = len(query)
    p = np.where(conserved, conserved_rate, rate)
    rows = []
    for _ in range(n):
        row = query.copy()
        hit = rng.random(m) < p
        row[hit] = random_protein(int(hit.sum()), rng)
        letters = np.array(list(row.tobytes().decode()), dtype=object)
        for _ in range(rng.poisson(1.0)):  # deletions, kept off conserved residues
            a = int(rng.integers(0, m))
            b = min(m, a + int(rng.integers(1, 6)))
            if not conserved[a:b].any():
                letters[a:b] = "-"
        for _ in range(rng.poisson(0.5)):  # insertions: lowercase after a residue
            a = int(rng.integers(0, m))
            letters[a] = letters[a] + random_protein(int(rng.integers(1, 4)), rng).tobytes().decode().lower()
        rows.append("".join(letters))
    return rows


def simulate_protein(out_dir: str | os.PathLike, seed: int = 1, n_positives: int = 400,
                     n_negatives: int = 400, min_length: int = 120, max_length: int = 240,
                     two_motif_fraction: float = 0.2, n_homologs: int = 24) -> dict:
    """Write the protein example into ``out_dir`` (see the module docstring); returns the summary."""
    if not 60 <= min_length <= max_length:
        raise InputError(f"protein lengths {min_length}-{max_length}: need 60 <= min <= max")
    if n_positives < 10 or n_negatives < 10:
        raise InputError("the protein example needs at least 10 positives and 10 negatives")
    rng = np.random.default_rng(seed)
    names, motif_names = [], list(MOTIFS)
    pos_records, neg_records, truth, msas = [], [], [], {}
    for label, n in ((1, n_positives), (0, n_negatives)):
        for i in range(n):
            name = f"{'prot' if label else 'ctrl'}_{i + 1:05d}"
            length = int(rng.integers(min_length, max_length + 1))
            seq = random_protein(length, rng)
            conserved = np.zeros(length, dtype=bool)
            # a conserved decoy segment in every protein
            w = int(rng.integers(8, 25))
            a = int(rng.integers(0, length - w))
            conserved[a:a + w] = True
            if label:
                k = 2 if rng.random() < two_motif_fraction else 1
                chosen = rng.choice(len(motif_names), size=k, replace=False)
                start = int(rng.integers(10, length // 2 - 30))
                for motif_i in chosen:  # one after the other, never overlapping
                    motif = motif_names[motif_i]
                    inst = sample_pattern(MOTIFS[motif], rng)
                    seq[start:start + len(inst)] = np.frombuffer(inst.encode(), dtype=np.uint8)
                    conserved[start:start + len(inst)] = True
                    truth.append((name, start, start + len(inst), motif, MOTIFS[motif], inst))
                    start += len(inst) + int(rng.integers(5, 30))
            text = seq.tobytes().decode()
            (pos_records if label else neg_records).append((name, text))
            msas[name] = [text] + homologs(seq, conserved, rng, n_homologs)
            names.append(name)
    out = Path(out_dir)
    with staged_files(out) as tmp:
        write_fasta(pos_records, tmp / "positives.fa")
        write_fasta(neg_records, tmp / "negatives.fa")
        (tmp / "msa").mkdir()
        for name, rows in msas.items():
            (tmp / "msa" / f"{name}.a3m").write_text(
                f">{name}\n{rows[0]}\n" + "".join(f">{name}_h{j + 1}\n{r}\n" for j, r in enumerate(rows[1:])))
        write_protein_meme(tmp / "motifs.meme", MOTIFS)
        (tmp / "truth.tsv").write_text("protein\tstart\tend\tmotif\tpattern\tinstance\n" +
                                       "".join("\t".join(map(str, t)) + "\n" for t in truth))
        summary = {"seed": seed, "n_positives": n_positives, "n_negatives": n_negatives,
                   "lengths": [min_length, max_length], "two_motif_fraction": two_motif_fraction,
                   "n_homologs": n_homologs, "motifs": MOTIFS, "sites": len(truth),
                   "sites_per_motif": {m: sum(t[3] == m for t in truth) for m in MOTIFS},
                   "seqfm_version": __version__}
        (tmp / "simulate.json").write_text(json.dumps(summary, indent=2) + "\n")
        if (out / "msa").exists():
            if any(p.suffix != ".a3m" for p in (out / "msa").iterdir()):  # not ours: keep it
                raise InputError(f"{out / 'msa'}: holds files that are not simulated alignments; "
                                 f"seqfm never deletes what it did not write: give another --out")
            shutil.rmtree(out / "msa")
    log.info("simulated %d + %d proteins with %d planted sites -> %s", n_positives, n_negatives,
             len(truth), out)
    return summary

