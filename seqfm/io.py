"""Readers and writers for the formats the field uses: FASTA, BED/narrowPeak, genome
FASTA (pyfaidx), bigWig (pyBigWig) and bedGraph.

Every reader validates as it reads and raises :class:`seqfm.errors.InputError`
with the file, the line or record, what is wrong and what would be right.
Coordinates are 0-based half-open.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .errors import InputError

#: FASTA header written by `bedtools getfasta`: chrom:start-end, optionally (+) or (-)
COORD_HEADER = re.compile(r"^(?P<chrom>[^\s:]+):(?P<start>\d+)-(?P<end>\d+)(?:\((?P<strand>[+.-])\))?$")


# --------------------------------------------------------------------------- FASTA
@dataclass
class FastaRecord:
    name: str
    sequence: str
    line: int  # line number of the header, for messages


def read_fasta(path: str | os.PathLike, what: str = "FASTA") -> list[FastaRecord]:
    """Read a FASTA file, checking it is well formed.

    Refused: text before the first header, a header with no name, a record with
    no sequence, duplicate names, characters that are no letters (digits,
    punctuation other than ``-``/``*``). Sequences keep their case.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    records: list[FastaRecord] = []
    name, chunks, header_line = None, [], 0
    seen: set[str] = set()

    def close() -> None:
        if name is None:
            return
        seq = "".join(chunks)
        if not seq:
            raise InputError(f"{path} line {header_line}: record '{name}' has no sequence")
        records.append(FastaRecord(name, seq, header_line))

    with open(path, "r", encoding="ascii", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                close()
                fields = line[1:].split()
                if not fields:
                    raise InputError(f"{path} line {lineno}: FASTA header has no name")
                name, chunks, header_line = fields[0], [], lineno
                if name in seen:
                    raise InputError(f"{path} line {lineno}: duplicate record name '{name}'")
                seen.add(name)
            elif name is None:
                raise InputError(f"{path} line {lineno}: not FASTA (expected a '>' header line, "
                                 f"found {line[:20]!r})")
            else:
                if not re.fullmatch(r"[A-Za-z*-]+", line):
                    bad = re.search(r"[^A-Za-z*-]", line).group(0)
                    raise InputError(f"{path} line {lineno}: record '{name}' holds {bad!r}, "
                                     f"which is no sequence letter")
                chunks.append(line)
    close()
    return records


def parse_coordinate_header(name: str) -> tuple[str, int, int, str] | None:
    """``chr1:100-300`` or ``chr1:100-300(-)`` -> (chrom, start, end, strand), else None."""
    m = COORD_HEADER.match(name)
    if not m or int(m["end"]) <= int(m["start"]):
        return None
    return m["chrom"], int(m["start"]), int(m["end"]), m["strand"] or "."


def write_fasta(records: Iterator[tuple[str, str]], path: str | os.PathLike, width: int = 60) -> None:
    """Write (name, sequence) pairs as FASTA, atomically."""
    with atomic_write(path) as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i:i + width] + "\n")


# --------------------------------------------------------------------------- BED
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand",
               "signal", "p", "q", "summit"]


def read_bed(path: str | os.PathLike, what: str = "BED") -> pd.DataFrame:
    """Read BED3+ or narrowPeak into a DataFrame.

    Columns: ``chrom start end name strand summit line`` where ``summit`` is the
    narrowPeak summit offset (-1 when absent) and ``line`` the 1-based line
    number. Header, track and browser lines and ``#`` comments are skipped.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    rows = []
    with open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) < 3:
                raise InputError(f"{path} line {lineno}: a BED line needs at least 3 tab-separated "
                                 f"columns (chrom, start, end), found {len(f)}")
            try:
                start, end = int(f[1]), int(f[2])
            except ValueError:
                raise InputError(f"{path} line {lineno}: start and end must be integers, "
                                 f"found {f[1]!r} and {f[2]!r}") from None
            if start < 0 or end <= start:
                raise InputError(f"{path} line {lineno}: interval {f[0]}:{start}-{end} is empty "
                                 f"or negative (need 0 <= start < end)")
            strand = f[5] if len(f) > 5 else "."
            if strand not in "+-.":
                raise InputError(f"{path} line {lineno}: strand must be +, - or ., found {strand!r}")
            summit = -1
            if len(f) >= 10:
                try:
                    summit = int(f[9])
                except ValueError:
                    raise InputError(f"{path} line {lineno}: narrowPeak summit (column 10) must be "
                                     f"an integer, found {f[9]!r}") from None
                if summit >= end - start:
                    raise InputError(f"{path} line {lineno}: summit offset {summit} lies outside "
                                     f"the peak of length {end - start}")
            name = f[3] if len(f) > 3 and f[3] not in ("", ".") else f"{f[0]}:{start}-{end}"
            rows.append((f[0], start, end, name, strand, summit, lineno))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "strand", "summit", "line"])


def write_bed(df: pd.DataFrame, path: str | os.PathLike, header: bool = False) -> None:
    """Write a DataFrame as tab-separated BED; with ``header`` a ``#``-prefixed column line."""
    with atomic_write(path) as handle:
        if header:
            handle.write("#" + "\t".join(map(str, df.columns)) + "\n")
        df.to_csv(handle, sep="\t", header=False, index=False)


# --------------------------------------------------------------------------- genome
class Genome:
    """A genome FASTA opened with pyfaidx; fetches intervals as uppercase-or-not strings."""

    def __init__(self, path: str | os.PathLike):
        import pyfaidx

        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: genome FASTA not found")
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                        rebuild=False, build_index=True)
        except (pyfaidx.FastaIndexingError, ValueError, OSError) as err:
            raise InputError(f"{self.path}: cannot index the genome FASTA ({err})") from None
        self.sizes = {name: len(rec) for name, rec in self._fasta.records.items()}

    def check(self, chrom: str, start: int, end: int, where: str) -> None:
        if chrom not in self.sizes:
            raise InputError(f"{where}: chromosome '{chrom}' is not in the genome {self.path} "
                             f"(it has {_few(self.sizes)})")
        if end > self.sizes[chrom]:
            raise InputError(f"{where}: interval {chrom}:{start}-{end} ends past the end of "
                             f"{chrom} (length {self.sizes[chrom]}) in {self.path}")

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``[start, end)``; positions outside the chromosome read as N."""
        size = self.sizes[chrom]
        left, right = max(0, -start), max(0, end - size)
        core = self._fasta[chrom][max(0, start):min(end, size)] if min(end, size) > max(0, start) else ""
        return "N" * left + core + "N" * right

    def chromosome(self, chrom: str) -> str:
        return self._fasta[chrom][:]


def _few(names, n: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


# --------------------------------------------------------------------------- tracks
class Track:
    """A per-base score track (bigWig or bedGraph) read over intervals.

    Missing values (no data) read as ``fill`` (default 0).
    """

    def __init__(self, path: str | os.PathLike, fill: float = 0.0):
        self.path = Path(path)
        self.fill = fill
        if not self.path.exists():
            raise InputError(f"{self.path}: conservation track not found")
        if self.path.suffix.lower() in (".bw", ".bigwig"):
            import pyBigWig

            try:
                self._bw = pyBigWig.open(str(self.path))
            except RuntimeError:
                self._bw = None
            if self._bw is None or not self._bw.isBigWig():
                raise InputError(f"{self.path}: not a readable bigWig file")
            self.sizes = dict(self._bw.chroms())
            self._bg = None
        else:
            self._bw = None
            self._bg = _read_bedgraph(self.path)
            self.sizes = {c: int(v[1][-1]) for c, v in self._bg.items()}

    @property
    def name(self) -> str:
        return re.sub(r"\.(bw|bigwig|bedgraph|bg|bdg)(\.gz)?$", "", self.path.name, flags=re.I)

    def values(self, chrom: str, start: int, end: int, where: str = "") -> np.ndarray:
        """Scores over ``[start, end)`` as float32 ``(end - start,)``; off-chromosome reads as fill."""
        if chrom not in self.sizes:
            raise InputError(f"{where + ': ' if where else ''}chromosome '{chrom}' is not in the "
                             f"conservation track {self.path} (it has {_few(self.sizes)})")
        out = np.full(end - start, self.fill, dtype=np.float32)
        lo, hi = max(0, start), min(end, self.sizes[chrom])
        if hi <= lo:
            return out
        if self._bw is not None:
            vals = np.asarray(self._bw.values(chrom, lo, hi, numpy=True), dtype=np.float32)
        else:
            starts, ends, scores = self._bg[chrom]
            pos = np.arange(lo, hi)
            idx = np.searchsorted(ends, pos, side="right")
            idx = np.minimum(idx, len(ends) - 1)
            vals = np.where((starts[idx] <= pos) & (pos < ends[idx]), scores[idx], np.nan)
        out[lo - start:hi - start] = np.where(np.isnan(vals), self.fill, vals)
        return out


def _read_bedgraph(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    skip = 0
    with open(path) as handle:  # leading track/browser/comment lines
        for line in handle:
            if not line.startswith(("track", "browser", "#")):
                break
            skip += 1
    try:
        df = pd.read_csv(path, sep="\t", header=None, skiprows=skip, usecols=[0, 1, 2, 3],
                         names=["chrom", "start", "end", "value"],
                         dtype={"chrom": str, "start": np.int64, "end": np.int64, "value": np.float32},
                         skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: not a bedGraph (chrom, start, end, value, tab-separated): "
                         f"{str(err).splitlines()[0]}") from None
    bad = df["end"] <= df["start"]
    if bad.any():
        row = df[bad].iloc[0]
        raise InputError(f"{path}: bedGraph interval {row.chrom}:{row.start}-{row.end} is empty")
    out = {}
    for chrom, g in df.groupby("chrom", sort=False):
        g = g.sort_values("start")
        out[chrom] = (g["start"].to_numpy(), g["end"].to_numpy(), g["value"].to_numpy())
    return out


# --------------------------------------------------------------------------- MEME
def read_meme(path: str | os.PathLike) -> tuple[str, list[tuple[str, str, np.ndarray]]]:
    """Read a MEME motif file (DNA or protein): the alphabet's letters and (id, name, probs ``(W, A)``).

    The letters come from the ``ALPHABET=`` line (``ACGT`` when absent); each motif's
    ``letter-probability matrix`` rows must have one value per letter.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: motif database not found")
    letters, motifs = "ACGT", []
    lines = path.read_text(errors="replace").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("ALPHABET="):
            letters = line.split("=", 1)[1].strip()
        elif line.startswith("MOTIF"):
            fields = line.split()
            if len(fields) < 2:
                raise InputError(f"{path} line {i + 1}: MOTIF line has no identifier")
            ident, name = fields[1], fields[2] if len(fields) > 2 else fields[1]
            while i < len(lines) and not lines[i].startswith("letter-probability"):
                i += 1
            m = re.search(r"w=\s*(\d+)", lines[i]) if i < len(lines) else None
            if m is None:
                raise InputError(f"{path}: motif '{ident}' has no 'letter-probability matrix' line with w=")
            width, rows = int(m.group(1)), []
            for k in range(width):
                i += 1
                values = lines[i].split() if i < len(lines) else []
                if len(values) != len(letters):
                    raise InputError(f"{path} line {i + 1}: motif '{ident}' row {k + 1} has "
                                     f"{len(values)} values; the alphabet {letters} needs {len(letters)}")
                rows.append([float(v) for v in values])
            probs = np.array(rows)
            motifs.append((ident, name, probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)))
        i += 1
    if not motifs:
        raise InputError(f"{path}: no motif in this MEME file")
    return letters, motifs


# --------------------------------------------------------------------------- atomic writes
@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file beside ``path``; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
