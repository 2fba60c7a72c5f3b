"""`seqfm prepare`: positives and negatives -> fixed-length sequences, labels, intervals and a split.

The prepared table (``prepared.tsv``) has one row per sequence::

    name  chrom  start  end  strand  label  split  source  sequence

``chrom`` is empty when the sequence has no genome coordinates. ``source`` names the
positive a shuffled negative was made from (its conservation is taken from there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import io
from .alphabet import get as get_alphabet
from .errors import InputError
from .negatives import gc_fraction, gc_matched_background, shuffle_batch, track_means

log = logging.getLogger("seqfm.prepare")

COLUMNS = ["name", "chrom", "start", "end", "strand", "label", "split", "source", "sequence"]
BED_SUFFIXES = (".bed", ".narrowpeak", ".bed6", ".bed3")


@dataclass
class PrepareConfig:
    """Settings of `seqfm prepare` (config.yaml's ``prepare:`` section)."""

    alphabet: str = "dna"
    length: int = 200
    seed: int = 1
    test_chroms: list[str] = field(default_factory=list)
    valid_chroms: list[str] = field(default_factory=list)
    test_fraction: float = 0.1
    valid_fraction: float = 0.1
    negatives_per_positive: int = 1
    conservation: list[str] = field(default_factory=list)  # tracks that 'background' matches
    shuffle_order: int = 0  # letters kept per shuffle: 2 dinucleotide/dipeptide, 1 composition; 0 = 2 for DNA, 1 for protein


def is_bed(path: str) -> bool:
    name = str(path).lower().removesuffix(".gz")
    return name.endswith(BED_SUFFIXES)


def prepare(positives: str, negatives: str, genome: str | None, cfg: PrepareConfig) -> pd.DataFrame:
    """Build the prepared table for one sample (see module docstring for the columns)."""
    gen = io.Genome(genome) if genome else None
    pos = load_regions(positives, gen, cfg, "positives")
    if pos.empty:
        raise InputError(f"{positives}: the positive set is empty")
    _check_sequences(pos, positives, cfg)
    pos["label"], pos["source"] = 1, ""
    neg = make_negatives(negatives, pos, gen, cfg)
    neg["label"] = 0
    table = pd.concat([pos, neg], ignore_index=True)
    table["split"] = assign_split(table, cfg)
    log.info("prepared %d positives and %d negatives of %d bp; split %s", len(pos), len(neg),
             cfg.length, table["split"].value_counts().to_dict())
    return table[COLUMNS]


def _check_sequences(rows: pd.DataFrame, path: str, cfg: PrepareConfig) -> None:
    """Refuse a letter outside the alphabet, and a sequence made only of the unknown letter
    (N; X for protein): nothing to learn from it. Both name the file and the sequence."""
    alphabet = get_alphabet(cfg.alphabet)
    alphabet.encode_batch(list(rows["sequence"]), where=[f"{path}: sequence '{n}'" for n in rows["name"]])
    unknown = "N" if alphabet.name == "dna" else "X"
    blank = rows["sequence"].str.upper().str.strip(unknown + "-*") == ""
    if blank.any():
        name = rows["name"][blank].iloc[0]
        raise InputError(f"{path}: sequence '{name}' is all {unknown} within its {cfg.length}-letter "
                         f"window ({int(blank.sum())} such); remove it or fix its coordinates")


def load_regions(path: str, genome: io.Genome | None, cfg: PrepareConfig, what: str) -> pd.DataFrame:
    """Read FASTA or BED (+ genome) into fixed-length rows with coordinates where known."""
    if is_bed(path):
        if genome is None:
            raise InputError(f"{path}: {what} are intervals (BED) so the sample needs a 'genome' FASTA")
        return regions_from_bed(io.read_bed(path, what, unique_names=True), genome, cfg.length, path)
    return regions_from_fasta(io.read_fasta(path, what), cfg, path)


def regions_from_bed(bed: pd.DataFrame, genome: io.Genome, length: int, path: str) -> pd.DataFrame:
    """Resize intervals to ``length`` around the summit (narrowPeak) or centre and extract them.

    A window that would run off a chromosome end is shifted inside it; a chromosome
    shorter than ``length`` is padded with N.
    """
    rows = []
    for r in bed.itertuples(index=False):
        genome.check(r.chrom, r.start, r.end, f"{path} line {r.line}")
        centre = r.start + r.summit if r.summit >= 0 else (r.start + r.end) // 2
        start = centre - length // 2
        size = genome.sizes[r.chrom]
        start = max(0, min(start, size - length)) if size >= length else 0
        end = start + length
        seq = genome.fetch(r.chrom, start, end)
        if r.strand == "-":
            seq = _revcomp(seq)
        rows.append((r.name, r.chrom, start, min(end, size), r.strand, seq))
    return pd.DataFrame(rows, columns=["name", "chrom", "start", "end", "strand", "sequence"])


def regions_from_fasta(records: list[io.FastaRecord], cfg: PrepareConfig, path: str) -> pd.DataFrame:
    """Centre-crop or N-pad FASTA records to ``length``; ``chrom:start-end`` headers give coordinates."""
    alphabet = get_alphabet(cfg.alphabet)
    pad = "N" if alphabet.name == "dna" else "X"
    rows = []
    for rec in records:
        seq, n = rec.sequence, len(rec.sequence)
        coords = parse = io.parse_coordinate_header(rec.name) if alphabet.name == "dna" else None
        if parse and parse[2] - parse[1] != n:
            raise InputError(f"{path} line {rec.line}: header '{rec.name}' spans {parse[2] - parse[1]} "
                             f"bp but the record holds {n} letters")
        offset = (n - cfg.length) // 2
        if offset >= 0:
            seq = seq[offset:offset + cfg.length]
        else:
            left = -offset
            seq = pad * left + seq + pad * (cfg.length - n - left)
        if coords:
            chrom, start, end, strand = coords
            # the window in genome coordinates (minus-strand records count from the end)
            w_start = start + offset if strand != "-" else end - offset - cfg.length
            start, end = max(w_start, 0), w_start + cfg.length
        elif alphabet.name == "protein":
            # residue coordinates within the protein (start < 0 when the window was padded)
            chrom, start, end, strand = rec.name, offset, offset + cfg.length, "."
        else:
            chrom, start, end, strand = "", 0, 0, "."
        rows.append((rec.name, chrom, start, end, strand, seq))
    return pd.DataFrame(rows, columns=["name", "chrom", "start", "end", "strand", "sequence"])


def make_negatives(spec: str, pos: pd.DataFrame, genome: io.Genome | None,
                   cfg: PrepareConfig) -> pd.DataFrame:
    """Negatives from a FASTA/BED file, a dinucleotide ``shuffle`` or GC-matched ``background``."""
    if spec == "shuffle":
        alphabet = get_alphabet(cfg.alphabet)
        codes = alphabet.encode_batch(list(pos["sequence"]), where=list(pos["name"]))
        k = cfg.negatives_per_positive
        order = cfg.shuffle_order or (2 if alphabet.name == "dna" else 1)
        shuffled = shuffle_batch(np.repeat(codes, k, axis=0), cfg.seed, order)
        names = np.repeat(pos["name"].to_numpy(), k)
        return pd.DataFrame({
            "name": [f"shuffle_{i + 1:06d}_{n}" for i, n in enumerate(names)],
            "chrom": "", "start": 0, "end": 0, "strand": ".",
            "sequence": [alphabet.decode(row) for row in shuffled],
            "source": names,
        })
    if spec == "background":
        if genome is None:
            raise InputError("negatives 'background' needs the sample's 'genome' FASTA")
        if get_alphabet(cfg.alphabet).name != "dna":
            raise InputError("negatives 'background' is for DNA samples only")
        codes = get_alphabet("dna").encode_batch(list(pos["sequence"]), where=list(pos["name"]))
        tracks = [io.Track(p) for p in cfg.conservation if p]
        bg = gc_matched_background(genome, pos[pos["chrom"] != ""], cfg.length, gc_fraction(codes),
                                   cfg.seed, per_positive=cfg.negatives_per_positive,
                                   tracks=tracks)
        bg["sequence"] = [genome.fetch(c, s, e) for c, s, e in zip(bg["chrom"], bg["start"], bg["end"])]
        bg["source"] = ""
        if tracks:
            log.info("background matched on GC and %s: mean track over windows %.3f "
                     "(positives) vs %.3f (background)", ", ".join(t.name for t in tracks),
                     track_means(tracks, pos["chrom"], pos["start"], pos["end"]).mean(),
                     bg["track"].mean())
        return bg.drop(columns=[c for c in ("gc", "track") if c in bg])
    if not Path(spec).exists():
        raise InputError(f"negatives {spec!r}: no such file (give a FASTA or BED path, "
                         f"'shuffle' or 'background')")
    neg = load_regions(spec, genome, cfg, "negatives")
    if neg.empty:
        raise InputError(f"{spec}: the negative set is empty")
    clash = set(neg["name"]) & set(pos["name"])
    if clash:
        raise InputError(f"{spec}: negative record '{sorted(clash)[0]}' has the name of a positive; "
                         f"names must be unique across both sets")
    neg["source"] = ""
    return neg


def assign_split(table: pd.DataFrame, cfg: PrepareConfig) -> np.ndarray:
    """Chromosome hold-out where coordinates exist, else a seeded split stratified by label.

    Rows without coordinates that were made from a positive (shuffles) follow their
    source, so no test sequence is a shuffle of a training sequence.
    """
    # protein rows carry residue coordinates (chrom = protein), not genome ones: no hold-out
    has_coords = (table["chrom"] != "").to_numpy() & (cfg.alphabet == "dna")
    split = np.full(len(table), "train", dtype=object)
    n_chroms = table.loc[has_coords, "chrom"].nunique()
    if has_coords.any() and not (cfg.test_chroms or cfg.valid_chroms) and n_chroms < 3:
        log.warning("sequences lie on %d chromosome(s), too few to hold chromosomes out: "
                    "using a seeded stratified split instead", n_chroms)
        has_coords[:] = False
    if has_coords.any():
        test, valid = _holdout_chroms(table[has_coords], cfg)
        chrom = table["chrom"].to_numpy()
        split[has_coords & np.isin(chrom, test)] = "test"
        split[has_coords & np.isin(chrom, valid)] = "valid"
    free = ~has_coords & (table["source"].to_numpy() == "")
    rng = np.random.default_rng(cfg.seed)
    for label in (0, 1):
        idx = np.flatnonzero(free & (table["label"].to_numpy() == label))
        idx = idx[rng.permutation(len(idx))]
        n_test, n_valid = round(len(idx) * cfg.test_fraction), round(len(idx) * cfg.valid_fraction)
        split[idx[:n_test]] = "test"
        split[idx[n_test:n_test + n_valid]] = "valid"
    by_name = dict(zip(table["name"], split))
    derived = np.flatnonzero(table["source"].to_numpy() != "")
    split[derived] = [by_name[s] for s in table["source"].to_numpy()[derived]]
    return split


def _holdout_chroms(table: pd.DataFrame, cfg: PrepareConfig) -> tuple[list[str], list[str]]:
    """The configured hold-out chromosomes, or ones chosen so each split holds its fraction."""
    counts = table["chrom"].value_counts()
    missing = [c for c in cfg.test_chroms + cfg.valid_chroms if c not in counts.index]
    if missing:
        log.warning("hold-out chromosome(s) %s hold no sequence", ", ".join(missing))
    if cfg.test_chroms or cfg.valid_chroms:
        return list(cfg.test_chroms), list(cfg.valid_chroms)
    # smallest chromosomes first, so no single huge chromosome swallows a split
    order = counts.sort_values(kind="stable").index.tolist()
    test, valid, total = [], [], counts.sum()
    for chrom in order:
        if counts[test].sum() < cfg.test_fraction * total:
            test.append(chrom)
        elif counts[valid].sum() < cfg.valid_fraction * total:
            valid.append(chrom)
    return test, valid


_RC = str.maketrans("ACGTNacgtnRYSWKMBDHVrykmswbdhv", "TGCANtgcanYRSWMKVHDByrmkswvhdb")


def _revcomp(seq: str) -> str:
    return seq.translate(_RC)[::-1]


def write(table: pd.DataFrame, path: str | Path) -> None:
    """Write the prepared table atomically."""
    with io.atomic_write(path) as handle:
        table.to_csv(handle, sep="\t", index=False)


def read(path: str | Path) -> pd.DataFrame:
    """Read a prepared table (see the module docstring), checking that it is one.

    Refused with an :class:`InputError` naming the file and line: a missing, empty or
    binary file, missing columns (a FASTA or BED given in its place), a start, end or label
    that is no integer, a label other than 0/1, a split other than train/valid/test.
    """
    path = io.input_file(path, "prepared table")
    kind = io.compression(path)
    if kind not in (None, "gzip"):
        raise InputError(f"{path}: is {kind}-compressed; a prepared table is plain or gzip text")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, compression=kind)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: is empty; expected the table `seqfm prepare` writes") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, EOFError, OSError) as err:
        raise InputError(f"{path}: not a prepared table ({_first_line(err)})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path}: not a prepared table (no column {missing[0]!r}); its header "
                         f"must name {', '.join(COLUMNS)}, as `seqfm prepare` writes it")
    for col in ("start", "end", "label"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if col == "label":
            bad |= ~values.isin([0, 1])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path} line {i + 2}: column {col!r} is {df[col].iloc[i]!r}; "
                             f"expected {'0 or 1' if col == 'label' else 'an integer'}")
        df[col] = values.astype(np.int64)
    bad = ~df["split"].isin(["train", "valid", "test"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path} line {i + 2}: split {df['split'].iloc[i]!r} is not train, "
                         f"valid or test")
    src = df["source"].astype(str)
    orphan = (src != "") & ~src.isin(set(df["name"].astype(str)))
    if orphan.any():  # a shuffled negative takes its source's tracks
        i = int(np.flatnonzero(orphan.to_numpy())[0])
        raise InputError(f"{path} line {i + 2}: source {src.iloc[i]!r} of {df['name'].iloc[i]!r} "
                         f"is not a sequence of the table")
    return df


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
