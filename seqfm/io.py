"""Readers and writers for the formats the field uses: FASTA, BED/narrowPeak, genome
FASTA (pyfaidx), bigWig (pyBigWig), bedGraph, MEME motifs, JSON and CSV, and the atomic
writes every output goes through.

Every reader validates as it reads and raises :class:`seqfm.errors.InputError`
with the file, the line or record, what is wrong and what would be right.
Coordinates are 0-based half-open.

Longer than most modules (about 800 lines) because it is the one home of every file format:
a format's reader, writer and checks sit together, and nothing else in seqfm opens a temporary
name and renames it into place.
"""

from __future__ import annotations

import csv
import errno
import gzip
import json
import os
import re
import secrets
import shutil
import socket
import stat
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol
import zlib

import numpy as np

from .alphabet import Alphabet, get as get_alphabet
from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: FASTA header written by `bedtools getfasta`: chrom:start-end, optionally (+) or (-)
COORD_HEADER = re.compile(r"^(?P<chrom>[^\s:]+):(?P<start>\d+)-(?P<end>\d+)(?:\((?P<strand>[+.-])\))?$")


# --------------------------------------------------------------------------- opening inputs
#: leading bytes of compressed files; gzip (and bgzip, which is gzip) is read transparently
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
          b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip"}


def input_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` if it is an existing file, else an :class:`InputError` naming it."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, but the {what} must be a file")
    return path


def compression(path: str | os.PathLike) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zstd"``, ``"zip"`` from the file's first bytes, else None."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


@contextmanager
def open_text(path: str | os.PathLike, what: str):
    """Open a text input, plain or gzip/bgzip-compressed, and yield its lines (``str``).

    Other compressions, binary data and bytes that are not UTF-8 are refused with an
    :class:`InputError` naming the file and line; the offending bytes are never printed.
    """
    path = input_file(path, what)
    kind = compression(path)
    if kind not in (None, "gzip"):
        raise InputError(f"{path}: is {kind}-compressed; the {what} must be plain text or "
                         f"gzip/bgzip-compressed")
    with (gzip.open(path, "rb") if kind else open(path, "rb")) as raw:
        yield _decoded_lines(raw, path, what)


def _decoded_lines(raw, path: Path, what: str) -> Iterator[str]:
    lineno = 0
    try:
        for lineno, line in enumerate(raw, start=1):
            if b"\0" in line:
                raise InputError(f"{path} line {lineno}: binary data (a NUL byte), not {what} text")
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"{path} line {lineno}: byte 0x{line[err.start]:02x} (column "
                                 f"{err.start + 1}) is not UTF-8 text; the {what} must be "
                                 f"plain text") from None
    except (EOFError, OSError, zlib.error) as err:  # truncated or corrupt gzip stream
        raise InputError(f"{path} line {lineno + 1}: the gzip data is truncated or corrupt "
                         f"({err})") from None


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

    with open_text(path, what) as lines:
        for lineno, line in enumerate(lines, start=1):
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


#: letters per FASTA line seqfm writes
FASTA_WIDTH = 60


def write_fasta(records: Iterable[tuple[str, str]], path: str | os.PathLike,
                width: int = FASTA_WIDTH) -> None:
    """Write (name, sequence) pairs as FASTA, ``width`` letters a line, atomically."""
    with atomic_write(path) as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i:i + width] + "\n")


class FastaWriter:
    """FASTA written record by record and piece by piece, 60 letters a line, and its .fai.

    For sequences too long to hold as strings (a genome): ``start(name)`` opens a record,
    ``write(letters)`` appends ASCII letters (uint8 array, any number; the lines run on across
    calls and are cut with numpy, not letter by letter), ``close()`` ends the last record and
    writes ``path.fai``. It writes ``path`` itself: stage it (:func:`staged_files`) to make the
    pair appear at once.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "wb")
        self._pos = 0
        self._fai: list[str] = []
        self._name: str | None = None
        self._first = self._length = self._col = 0

    def start(self, name: str) -> None:
        self._end_record()
        head = f">{name}\n".encode()
        self._fh.write(head)
        self._pos += len(head)
        self._name, self._first, self._length, self._col = name, self._pos, 0, 0

    def write(self, letters: np.ndarray) -> None:
        """Append ``letters``, uint8 ASCII codes ``(n,)``, to the open record."""
        width = FASTA_WIDTH
        data, parts = letters, []
        if self._col:  # finish the open line
            k = min(width - self._col, data.size)
            parts.append(data[:k].tobytes())
            self._col += k
            data = data[k:]
            if self._col == width:
                parts.append(b"\n")
                self._col = 0
        full = data.size // width
        if full:
            lines = np.empty((full, width + 1), dtype=np.uint8)
            lines[:, :width] = data[: full * width].reshape(full, width)
            lines[:, width] = ord("\n")
            parts.append(lines.tobytes())
        tail = data[full * width:]
        if tail.size:
            parts.append(tail.tobytes())
            self._col = tail.size
        body = b"".join(parts)
        self._fh.write(body)
        self._pos += len(body)
        self._length += letters.size

    def _end_record(self) -> None:
        if self._name is None:
            return
        if self._col:
            self._fh.write(b"\n")
            self._pos += 1
            self._col = 0
        self._fai.append(f"{self._name}\t{self._length}\t{self._first}\t{FASTA_WIDTH}\t"
                         f"{FASTA_WIDTH + 1}\n")
        self._name = None

    def close(self) -> None:
        if self._fh.closed:
            return
        self._end_record()
        self._fh.close()
        Path(f"{self.path}.fai").write_text("".join(self._fai))


# --------------------------------------------------------------------------- BED
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand",
               "signal", "p", "q", "summit"]


def read_bed(path: str | os.PathLike, what: str = "BED", unique_names: bool = False) -> pd.DataFrame:
    """Read BED3+ or narrowPeak into a DataFrame.

    Columns: ``chrom start end name strand summit line`` where ``summit`` is the
    narrowPeak summit offset (-1 when absent) and ``line`` the 1-based line
    number. Header, track and browser lines and ``#`` comments are skipped. With
    ``unique_names`` (sequences to prepare, which names key downstream) the names (column 4,
    else ``chrom:start-end``) must be unique.
    """
    import pandas as pd  # 0.3-0.7 s to import: `seqfm simulate` writes through io without it

    path = Path(path)
    rows, first_line = [], {}
    with open_text(path, what) as lines:
        for lineno, line in enumerate(lines, start=1):
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
                if summit >= end - start or summit < -1:
                    raise InputError(f"{path} line {lineno}: summit offset {summit} lies outside "
                                     f"the peak of length {end - start} (need -1 for none, or "
                                     f"0 to {end - start - 1})")
            name = f[3] if len(f) > 3 and f[3] not in ("", ".") else f"{f[0]}:{start}-{end}"
            if unique_names and name in first_line:
                raise InputError(f"{path} line {lineno}: duplicate name '{name}' (first on line "
                                 f"{first_line[name]}); BED names (column 4) must be unique")
            first_line[name] = lineno
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

        self.path = input_file(path, "genome FASTA")
        _check_indexable(self.path)
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                        rebuild=False, build_index=True)
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError,
                OSError, UnicodeDecodeError, ImportError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise InputError(f"{self.path}: cannot index the genome FASTA ({first})") from None
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


def _check_indexable(path: Path) -> None:
    """Refuse a genome pyfaidx cannot index: only plain or bgzip-compressed FASTA can be."""
    kind = compression(path)
    if kind not in (None, "gzip"):
        raise InputError(f"{path}: is {kind}-compressed; a genome FASTA must be plain or "
                         f"bgzip-compressed (bgzip -d, then bgzip)")
    if kind == "gzip" and not _is_bgzf(path):
        raise InputError(f"{path}: is gzip-compressed but not with bgzip, so it cannot be "
                         f"indexed; recompress it with bgzip (gunzip {path.name} && bgzip "
                         f"{path.name.removesuffix('.gz')})")


def _is_bgzf(path: Path) -> bool:
    """A BGZF (bgzip) file: gzip whose first member carries the ``BC`` extra field."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) == 18 and head[3] & 4 and head[12:14] == b"BC"


def _few(names, n: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


# --------------------------------------------------------------------------- tracks
#: the largest magnitude a float16 track value can hold
F16_MAX = float(np.finfo(np.float16).max)

class Track:
    """A per-base score track (bigWig or bedGraph) read over intervals.

    Missing values (no data) read as ``fill`` (default 0).
    """

    def __init__(self, path: str | os.PathLike, fill: float = 0.0):
        self.path = input_file(path, "conservation track")
        if not np.isfinite(fill) or abs(fill) > F16_MAX:
            raise InputError(f"track fill value {fill} must be a finite number within "
                             f"±{F16_MAX:g} (tracks are stored as float16)")
        self.fill = fill
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
        big = np.abs(vals) > F16_MAX  # NaN (no data) compares False
        if big.any():
            at = lo + int(np.argmax(big))
            raise InputError(f"{self.path}: {chrom}:{at}-{at + 1} holds {vals[big][0]}, beyond "
                             f"what a track stores (finite, within ±{F16_MAX:g}, as float16)")
        out[lo - start:hi - start] = np.where(np.isnan(vals), self.fill, vals)
        return out


def _read_bedgraph(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    import pandas as pd  # imported on use, as in read_bed

    skip = 0
    with open_text(path, "bedGraph") as lines:  # leading track/browser/comment lines
        for line in lines:
            if not line.startswith(("track", "browser", "#")):
                break
            skip += 1
    try:
        df = pd.read_csv(path, sep="\t", header=None, skiprows=skip, usecols=[0, 1, 2, 3],
                         names=["chrom", "start", "end", "value"], compression=compression(path),
                         dtype=str, skip_blank_lines=True, na_filter=False)
    except (EOFError, OSError, zlib.error) as err:  # a truncated or corrupt gzip stream
        raise InputError(f"{path}: the gzip data is truncated or corrupt ({err})") from None
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as err:
        raise InputError(f"{path}: not a bedGraph (chrom, start, end, value, tab-separated): "
                         f"{(str(err).splitlines() or [type(err).__name__])[0][:200]}") from None
    df["line"] = np.arange(len(df)) + skip + 1
    _bedgraph_numbers(df, path)
    _check_bedgraph_rows(df, path)
    out = {}
    for chrom, g in df.groupby("chrom", sort=False):
        g = g.sort_values("start", kind="stable")
        starts, ends = g["start"].to_numpy(), g["end"].to_numpy()
        over = np.flatnonzero(starts[1:] < ends[:-1])
        if len(over):
            a, b = g.iloc[over[0]], g.iloc[over[0] + 1]
            raise InputError(f"{path} line {b.line}: bedGraph interval {chrom}:{b.start}-{b.end} "
                             f"overlaps {chrom}:{a.start}-{a.end} (line {a.line}); intervals must "
                             f"not overlap")
        out[chrom] = (starts, ends, g["value"].to_numpy(np.float32))
    return out


def _bedgraph_numbers(df: pd.DataFrame, path: Path) -> None:
    """Columns start, end (integers) and value (a number) parsed in place, naming the first bad line."""
    import pandas as pd  # imported on use, as in read_bed

    for col, integer in (("start", True), ("end", True), ("value", False)):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & (df[col].str.strip().str.lower() != "nan") if not integer else \
            values.isna() | (values != values.round()) | (values.abs() > 2**62)
        if bad.any():
            row = df[bad].iloc[0]
            raise InputError(f"{path} line {row.line}: bedGraph column {col} is {row[col]!r}; "
                             f"expected {'an integer' if integer else 'a number'}")
        df[col] = values.astype(np.int64) if integer else values.astype(np.float64)


def _check_bedgraph_rows(df: pd.DataFrame, path: Path) -> None:
    """Refuse empty or negative intervals and values a float16 track cannot hold."""
    checks = [(df["start"] < 0, "starts before 0"),
              (df["end"] <= df["start"], "is empty (need start < end)"),
              (~np.isfinite(df["value"]) | (df["value"].abs() > F16_MAX),
               f"has a value that is not a finite number within ±{F16_MAX:g} (float16)")]
    for bad, what in checks:
        if bad.any():
            row = df[bad].iloc[0]
            raise InputError(f"{path} line {row.line}: bedGraph interval "
                             f"{row.chrom}:{row.start}-{row.end} {what}")


# --------------------------------------------------------------------------- MEME
def read_meme(path: str | os.PathLike) -> tuple[str, list[tuple[str, str, np.ndarray]]]:
    """Read a MEME motif file (DNA or protein): the alphabet's letters and (id, name, probs ``(W, A)``).

    The letters come from the ``ALPHABET=`` line (``ACGT`` when absent); each motif's
    ``letter-probability matrix`` rows must have one value per letter.
    """
    path = Path(path)
    letters, motifs = "ACGT", []
    with open_text(path, "motif database") as text:
        lines = [line.rstrip("\r\n") for line in text]
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
                try:
                    row = [float(v) for v in values]
                except ValueError:
                    row = [-1.0]
                if not all(0 <= v < np.inf for v in row):
                    raise InputError(f"{path} line {i + 1}: motif '{ident}' row {k + 1} holds a "
                                     f"value that is no probability (need numbers >= 0)")
                rows.append(row)
            probs = np.array(rows)
            motifs.append((ident, name, probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)))
        i += 1
    if not motifs:
        raise InputError(f"{path}: no motif in this MEME file")
    return letters, motifs


class MemeMotif(Protocol):
    """What :func:`write_meme` reads of a motif (a :class:`seqfm.pwm.PWM` is one)."""

    name: str
    altname: str
    n_sites: int

    @property
    def probs(self) -> np.ndarray: ...


def write_meme(motifs: Sequence[MemeMotif], path: str | os.PathLike, alphabet: str | Alphabet = "dna",
               background: Sequence[float] | None = None) -> None:
    """Write motifs in MEME motif format version 4 (atomically).

    Parameters
    ----------
    motifs : sequence of records with ``name``, ``altname`` (free text, may be empty),
        ``n_sites`` and ``probs`` (``(W, A)`` letter probabilities in alphabet order)
    path : path
    alphabet : str or Alphabet
        DNA files say ``strands: + -``.
    background : sequence of float, optional
        Letter frequencies ``(A,)``; uniform by default.

    Readable by MEME tools, memelite's ``read_meme``, Biopython's
    ``Bio.motifs.parse(handle, "minimal")`` and :func:`read_meme`.
    """
    alpha = get_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    bg = np.full(alpha.size, 1.0 / alpha.size) if background is None else np.asarray(background)
    lines = ["MEME version 4", "", f"ALPHABET= {alpha.letters}", ""]
    if alpha.complement is not None:
        lines += ["strands: + -", ""]
    lines += ["Background letter frequencies",
              " ".join(f"{a} {b:.4f}" for a, b in zip(alpha.letters, bg)), ""]
    for m in motifs:
        probs = m.probs
        alt = re.sub(r"\s+", "_", m.altname.strip()) if m.altname else ""
        lines.append(f"MOTIF {m.name}" + (f" {alt}" if alt else ""))
        lines.append(f"letter-probability matrix: alength= {alpha.size} w= {len(probs)} "
                     f"nsites= {max(int(m.n_sites), 1)} E= 0")
        for row in probs:
            lines.append(" ".join(f"{v:.6f}" for v in row))
        lines.append("")
    with atomic_write(path) as handle:
        handle.write("\n".join(lines))


# --------------------------------------------------------------------------- JSON, CSV
def save_json(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON, atomically (numpy scalars and arrays as numbers and lists)."""
    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    with atomic_write(path) as handle:
        handle.write(text)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(rows: Iterable[dict], path: str | os.PathLike, columns: Sequence[str]) -> None:
    """Write dicts as CSV with a header of ``columns`` (missing or None values empty), atomically."""
    with atomic_write(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})


# --------------------------------------------------------------------------- atomic writes
#: temporaries are named ``.{name}.tmp-{host}-{pid}-{token}``: a later run on the same host
#: recognises those of a killed process (its pid is gone) and removes them
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(FileNotFoundError):
            path.unlink()


def sweep_stale(path: str | os.PathLike) -> None:
    """Remove the temporaries of ``path`` that a killed seqfm process on this host left behind."""
    path = Path(path)
    stale = re.compile(rf"\.{re.escape(path.name)}\.tmp-{_HOST}-(\d+)-[0-9a-f]{{8}}")
    with suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            m = stale.fullmatch(entry.name)
            if m and not _alive(int(m[1])):
                _remove(Path(entry.path))


def _output_path(path: str | os.PathLike, folder: bool, what: str) -> Path:
    """``path`` made absolute, with its parent folders, after checking it is the right kind."""
    path = Path(os.path.abspath(path))
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)  # one look: another writer may swap it
    except (FileNotFoundError, NotADirectoryError):
        is_dir = None
    if folder and is_dir is False:
        raise InputError(f"{path}: is a file, but {what} is a folder; give a folder path")
    if not folder and is_dir:
        raise InputError(f"{path}: is a folder, but {what} is a file; give a file path")
    if folder and path == Path.cwd():
        raise InputError(f"{path}: is the current folder; give {what} a folder of its own")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{parent}: is a file, so {path} cannot be written beneath it")
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, folder: bool = False,
                ours: Callable[[Path], bool] | None = None, what: str = "the output"):
    """Yield a temporary path beside ``path`` and rename it into place on success.

    The one way seqfm writes an output. The temporary is created like any new file
    (``0o666``) or folder (``0o777``), so the user's umask gives it the usual modes (0644 and
    0755 under umask 022) and the rest of a lab can read it. On any error it is removed and
    ``path`` keeps what it had.

    Parameters
    ----------
    path : path
        The output file or folder.
    folder : bool
        Yield an empty folder instead of an empty file.
    ours : callable, optional
        For a folder: whether an existing, non-empty ``path`` is a folder this writer made
        (and may replace). Without it, or when it says no, such a folder is refused with an
        :class:`InputError` before anything is written and never deleted.
    what : str
        What the output is, for messages.
    """
    path = _output_path(path, folder, what)
    if folder:
        _check_replaceable(path, ours, what)
    sweep_stale(path)
    tmp = _temp_beside(path)
    if folder:
        os.mkdir(tmp, 0o777)
    else:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        if folder:
            _swap_folder(tmp, path, ours, what)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def staged_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder inside ``folder`` whose entries are renamed into it on success.

    For outputs of several files that appear together (the simulated example): each entry
    replaces the one of its name in ``folder``, in name order. On any error the temporary
    folder is removed and ``folder`` keeps what it had; a killed run's is removed by the next.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale(folder / "staged")
    tmp = _temp_beside(folder / "staged")
    os.mkdir(tmp, 0o777)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    for path in sorted(tmp.iterdir()):
        os.replace(path, folder / path.name)
    tmp.rmdir()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", fsync: bool = False, **open_kw):
    """Open a file beside ``path`` (see :func:`atomic_path`); it replaces ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kw) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())


def _check_replaceable(path: Path, ours, what: str) -> None:
    """Refuse a non-empty folder ``path`` that ``ours`` does not recognise."""
    for _ in range(1000):
        try:
            inode = os.stat(path).st_ino
            if not any(True for _ in os.scandir(path)) or (ours and ours(path)):
                return
            if os.stat(path).st_ino != inode:
                continue  # another writer swapped it while we looked: look again
        except (FileNotFoundError, NotADirectoryError):
            return
        raise InputError(f"{path}: already holds files that are not {what}; seqfm never "
                         f"deletes what it did not write: give a new or empty folder")


def _swap_folder(tmp: Path, path: Path, ours, what: str) -> None:
    """Rename folder ``tmp`` to ``path``, moving an old ``path`` (one of ours) aside first.

    Another writer of the same folder may swap in between: the last one to rename wins.
    """
    for _ in range(1000):
        try:
            os.rename(tmp, path)  # succeeds when path is absent or an empty folder
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        _check_replaceable(path, ours, what)
        old = _temp_beside(path)
        try:
            os.rename(path, old)
        except FileNotFoundError:
            continue  # another writer moved it first
        shutil.rmtree(old, ignore_errors=True)
    raise InputError(f"{path}: could not be replaced; is another process rewriting it?")
