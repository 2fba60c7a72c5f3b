"""Files that genome browsers load: the calls' autoSql, bgzipped + tabix-indexed calls, a
bigBed, and an IGV session.

``sites.bed`` is BED6+6: six standard BED columns, then six seqfm columns (``detector``,
``cluster``, ``activation``, ``p``, ``q``, ``match_name``) described by the autoSql
:data:`SITES_AS`, written beside every ``sites.bed`` as ``sites.as``. A ``#chrom ...`` header
line names the columns (browsers and tabix read ``#`` lines as comments).

- IGV reads ``sites.bed`` (and ``sites.bed.gz`` with its ``.tbi``) as BED6: its BED parser
  stops at a column 7 that is not a number and keeps the first six.
- UCSC reads BED6+6 as a bigBed whose autoSql names the extra columns (a plain-text custom
  track may not carry text in columns 7-12, which UCSC reads as thickStart ... blockStarts).
  The genome-wide scan writes ``sites.bb`` (``bedToBigBed -type=bed6+6 -as=sites.as`` makes the
  same from any ``sites.bed``); :func:`check_bed` applies bedToBigBed's field rules.

Nothing here imports torch.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from xml.sax.saxutils import quoteattr

log = logging.getLogger("seqfm")

#: autoSql of ``sites.bed`` (BED6+6), as ``bedToBigBed -type=bed6+6 -as=sites.as`` reads it
SITES_AS = '''table seqfmSites
"seqfm binding-site calls: BED6 + 6 columns"
    (
    string chrom;      "Reference sequence (chromosome, scaffold or input sequence)"
    uint   chromStart; "Start of the site, 0-based"
    uint   chromEnd;   "End of the site, exclusive"
    string name;       "cluster (or detector) : sequence"
    uint   score;      "int(1000 * min(1, -log10(q) / 10))"
    char[1] strand;    "+ or - (the matched motif's orientation), . for protein"
    string detector;   "filter_<k> (a first-layer filter) or cam (class-activation map)"
    string cluster;    "motif cluster of the detector (. when none)"
    float  activation; "detector activation at the site"
    double p;          "p-value against the dinucleotide-shuffled null (tracks kept in place)"
    double q;          "Benjamini-Hochberg q-value"
    string matchName;  "best JASPAR match of the cluster (. when none)"
    )
'''

#: number of standard BED columns in ``sites.bed`` (``-type=bed6+6``)
DEFINED_FIELDS = 6

_AS_FIELD = re.compile(r'^\s*(\w+)(?:\[(\w+)\])?\s+(\w+)\s*;\s*"([^"]*)"')
_BIGBED_MAGIC = 0x8789F2EB
_DEFINED_FIELD_COUNT_OFFSET = 34  # bbi header: uint16 definedFieldCount, after uint16 fieldCount


def autosql_fields(autosql: str = SITES_AS) -> list[tuple[str, str]]:
    """``(type, name)`` of every field of an autoSql table (``char[1]`` as ``char``)."""
    fields = []
    for line in autosql.splitlines():
        m = _AS_FIELD.match(line)
        if m:
            fields.append((m.group(1), m.group(3)))
    return fields


def write_autosql(path: str | os.PathLike, autosql: str = SITES_AS) -> Path:
    """Write ``autosql`` to ``path`` (atomically)."""
    from .io import atomic_write

    with atomic_write(path) as handle:
        handle.write(autosql)
    return Path(path)


# ---------------------------------------------------------------------- UCSC's field rules
class BedError(ValueError):
    """A BED line that UCSC's loaders would reject (the message names the line)."""


_INT = re.compile(r"^-?\d+$")
_UINT = re.compile(r"^\d+$")


def _check_extra(kind: str, value: str, where: str, name: str) -> None:
    if kind in ("int", "short", "byte", "bigint"):
        ok = bool(_INT.match(value))
    elif kind in ("uint", "ushort", "ubyte"):
        ok = bool(_UINT.match(value))
    elif kind in ("float", "double"):
        try:
            float(value)
            ok = value.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")
        except ValueError:
            ok = False
    elif kind == "char":
        ok = len(value) == 1
    else:  # string, lstring
        ok = kind != "string" or len(value) <= 255
    if not ok:
        raise BedError(f"{where}: field {name!r} ({kind}) cannot be {value!r}")


def check_bed(path: str | os.PathLike, autosql: str | None = SITES_AS,
              sizes: Mapping[str, int] | None = None) -> int:
    """Check a BED file against the rules UCSC's loaders apply; return the number of records.

    With ``autosql`` the rules are ``bedToBigBed -type=bedN+M -as=...``'s: every line has the
    autoSql's number of tab-separated fields, the first ``N`` (here 6) are standard BED
    (``chromStart <= chromEnd`` unsigned, score 0-1000, strand ``+ - .``) and the rest parse as
    their autoSql types; records sorted by start within each chromosome, each chromosome in one
    block. With ``autosql=None`` the rules are those of a plain-text custom track, where
    columns 7-12 must be thickStart, thickEnd, itemRgb, blockCount, blockSizes, blockStarts.
    ``sizes`` (chromosome lengths), when given, bounds every end. Lines starting with ``#``,
    ``track`` or ``browser`` are skipped, as UCSC does.

    Raises
    ------
    BedError
        At the first line a UCSC loader would reject, naming it.
    """
    fields = autosql_fields(autosql) if autosql else None
    n_fields = len(fields) if fields else None
    seen: set[str] = set()
    last_chrom, last_start, n = None, -1, 0
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if not line or line.startswith("#") or line.split(maxsplit=1)[0] in ("track", "browser"):
                continue
            where = f"{path} line {i}"
            row = line.split("\t") if fields else line.split()
            if fields and len(row) != n_fields:
                raise BedError(f"{where}: expecting {n_fields} fields (autoSql), got {len(row)}")
            if not fields and not 3 <= len(row) <= 12:
                raise BedError(f"{where}: a BED custom track has 3 to 12 fields, got {len(row)}")
            chrom, start, end = row[0], row[1], row[2]
            if not chrom or any(c.isspace() for c in chrom):
                raise BedError(f"{where}: bad chromosome name {chrom!r}")
            if not (_UINT.match(start) and _UINT.match(end)):
                raise BedError(f"{where}: chromStart and chromEnd must be unsigned integers")
            s, e = int(start), int(end)
            if s > e:
                raise BedError(f"{where}: chromStart after chromEnd ({s} > {e})")
            if sizes is not None:
                if chrom not in sizes:
                    raise BedError(f"{where}: {chrom} is not in the chromosome sizes")
                if e > sizes[chrom]:
                    raise BedError(f"{where}: chromEnd past the end of {chrom} ({e} > {sizes[chrom]})")
            if chrom != last_chrom:
                if chrom in seen:
                    raise BedError(f"{where}: {chrom} is not sorted (sort -k1,1 -k2,2n)")
                seen.add(chrom)
                last_chrom, last_start = chrom, -1
            if s < last_start:
                raise BedError(f"{where}: not sorted by start within {chrom}")
            last_start = s
            defined = DEFINED_FIELDS if fields else len(row)
            if defined > 4 and len(row) > 4 and not (_UINT.match(row[4]) and int(row[4]) <= 1000):
                raise BedError(f"{where}: score must be an integer from 0 to 1000, not {row[4]!r}")
            if defined > 5 and len(row) > 5 and row[5] not in ("+", "-", "."):
                raise BedError(f"{where}: strand must be +, - or ., not {row[5]!r}")
            if fields:
                for (kind, name), value in zip(fields[DEFINED_FIELDS:], row[DEFINED_FIELDS:]):
                    _check_extra(kind, value, where, name)
            else:
                _check_bed12(row, s, e, where)
            n += 1
    return n


def _check_bed12(row: list[str], s: int, e: int, where: str) -> None:
    """Columns 7-12 of a plain-text BED as UCSC's custom-track loader reads them."""
    names = ["thickStart", "thickEnd", "itemRgb", "blockCount", "blockSizes", "blockStarts"]
    for k, value in enumerate(row[6:9]):
        if k == 2 and "," in value:
            parts = value.split(",")
            if len(parts) != 3 or not all(_UINT.match(p) and int(p) < 256 for p in parts):
                raise BedError(f"{where}: itemRgb must be r,g,b, not {value!r}")
        elif not _UINT.match(value):
            raise BedError(f"{where}: column {7 + k} ({names[k]}) must be an integer, not {value!r}")
    if len(row) > 7 and not s <= int(row[6]) <= int(row[7]) <= e:
        raise BedError(f"{where}: thickStart/thickEnd outside chromStart-chromEnd")
    if len(row) > 9:
        if not _UINT.match(row[9]):
            raise BedError(f"{where}: column 10 (blockCount) must be an integer, not {row[9]!r}")
        if len(row) != 12:
            raise BedError(f"{where}: blockCount needs blockSizes and blockStarts")
        count = int(row[9])
        sizes = [p for p in row[10].split(",") if p]
        starts = [p for p in row[11].split(",") if p]
        if len(sizes) != count or len(starts) != count or not all(
                _INT.match(p) for p in sizes + starts):
            raise BedError(f"{where}: expecting {count} integers in blockSizes and blockStarts")
        if count and (int(starts[0]) != 0 or s + int(starts[-1]) + int(sizes[-1]) != e):
            raise BedError(f"{where}: BED blocks must span chromStart to chromEnd")


# ---------------------------------------------------------------------- writers
@contextmanager
def _temporary_beside(path: Path):
    """A temporary name beside ``path`` (removed on failure, with any ``.tbi`` made for it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    except BaseException:
        for p in (tmp, tmp + ".tbi"):
            if os.path.exists(p):
                os.unlink(p)
        raise


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_tabix(bed: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """bgzip ``bed`` to ``out`` (default ``bed`` + ``.gz``) and index it with tabix
    (``out.tbi``, BED preset: 0-based starts, ``#`` lines kept as the header).

    The input must be sorted by chromosome blocks and start, as :func:`check_bed` checks.
    """
    import pysam

    bed = Path(bed)
    out = Path(out) if out else bed.with_name(bed.name + ".gz")
    with _temporary_beside(out) as tmp:
        pysam.tabix_compress(str(bed), str(tmp), force=True)
        pysam.tabix_index(str(tmp), preset="bed", force=True)
        for p in (tmp, Path(str(tmp) + ".tbi")):
            os.chmod(p, _umask_mode())
        os.replace(tmp, out)  # the data first: an index never older than its file
        os.replace(str(tmp) + ".tbi", str(out) + ".tbi")
    return out


def _bed_records(bed: Path) -> Iterable[tuple[str, int, int, str]]:
    with open(bed, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            chrom, start, end, rest = line.rstrip("\n").split("\t", 3)
            yield chrom, int(start), int(end), rest


def write_bigbed(bed: str | os.PathLike, sizes: Mapping[str, int], out: str | os.PathLike | None = None,
                 autosql: str = SITES_AS, defined_fields: int = DEFINED_FIELDS) -> Path | None:
    """Convert a sorted BED6+ file to bigBed (``out``, default ``bed`` with suffix ``.bb``)
    with ``autosql`` embedded, as ``bedToBigBed -type=bed{defined_fields}+M -as=...`` does.
    None (and no file) when the BED holds no record.

    Parameters
    ----------
    bed
        BED file (``#`` lines skipped), sorted as :func:`check_bed` checks.
    sizes
        Length of every chromosome (at least those with calls).
    """
    import pybigtools

    bed = Path(bed)
    out = Path(out) if out else bed.with_suffix(".bb")
    records = list(_bed_records(bed))
    if not records:  # a bigBed needs at least one item (pybigtools writes none without)
        log.info("%s: no calls, so no bigBed", bed)
        return None
    used = {r[0] for r in records}
    chroms = {c: int(n) for c, n in sizes.items()} if sizes else {}
    missing = used - set(chroms)
    if missing:
        raise ValueError(f"{bed}: no size for {sorted(missing)[0]}")
    with _temporary_beside(out) as tmp:
        writer = pybigtools.open(str(tmp), "w")
        writer.write(chroms, iter(records), autosql=autosql)
        # pybigtools declares every autoSql field a standard BED field; browsers read the
        # first `definedFieldCount` as BED, so set it to the BED6 of -type=bed6+6
        with open(tmp, "r+b") as handle:
            head = handle.read(4)
            if int.from_bytes(head, "little") != _BIGBED_MAGIC:
                raise RuntimeError(f"{tmp}: pybigtools did not write a bigBed")
            handle.seek(_DEFINED_FIELD_COUNT_OFFSET)
            handle.write(int(defined_fields).to_bytes(2, "little"))
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, out)
    return out


def _rel(target: str | os.PathLike, start: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), start.resolve())).as_posix()


def write_igv_session(path: str | os.PathLike, genome: str | os.PathLike,
                      tracks: Sequence[str | os.PathLike] = (), calls: str | os.PathLike | None = None,
                      locus: str | None = None) -> Path:
    """Write an IGV desktop session (XML): the genome FASTA, bigWig ``tracks`` and the
    ``calls`` (``.bed.gz`` with its ``.tbi``, or any BED/bigBed), every path relative to the
    session file's folder, so the folder can be moved or shared as a whole.

    IGV needs the FASTA's ``.fai`` beside it (seqfm's genome reader writes one).
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    res = []
    for t in tracks:
        res.append(f'        <Resource path={quoteattr(_rel(t, folder))} name={quoteattr(Path(t).stem)} '
                   f'type="bigwig" relativePath="true"/>')
    if calls is not None:
        calls = Path(calls)
        index = Path(str(calls) + ".tbi")
        extra = f' index={quoteattr(_rel(index, folder))}' if index.is_file() else ""
        kind = "bigbed" if calls.suffix == ".bb" else "bed"
        res.append(f'        <Resource path={quoteattr(_rel(calls, folder))} name="seqfm sites"'
                   f'{extra} type="{kind}" relativePath="true"/>')
    locus_attr = f" locus={quoteattr(locus)}" if locus else ""
    text = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            f'<Session genome={quoteattr(_rel(genome, folder))} hasGeneTrack="false" '
            f'hasSequenceTrack="true"{locus_attr} relativePath="true" version="8">\n'
            "    <Resources>\n" + "\n".join(res) + "\n    </Resources>\n</Session>\n")
    from .io import atomic_write

    with atomic_write(path) as handle:
        handle.write(text)
    return path


def _first_locus(bed: Path, pad: int = 500) -> str | None:
    for chrom, start, end, _ in _bed_records(bed):
        return f"{chrom}:{max(1, start + 1 - pad)}-{end + pad}"
    return None


def write_scan_files(out: str | os.PathLike, sizes: Mapping[str, int] | None,
                     genome: str | os.PathLike | None = None,
                     tracks: Sequence[str | os.PathLike] = ()) -> dict:
    """The browser files of a genome-wide scan folder holding ``sites.bed``: ``sites.as``,
    ``sites.bed.gz`` + ``.tbi``, ``sites.bb`` (with ``sizes``) and, with the ``genome``,
    ``igv_session.xml`` (genome, ``tracks``, calls). Returns their paths by kind."""
    out = Path(out)
    bed = out / "sites.bed"
    files = {"autosql": str(write_autosql(out / "sites.as"))}
    gz = write_tabix(bed)
    files.update(sites_bed_gz=str(gz), sites_tbi=str(gz) + ".tbi")
    bb = write_bigbed(bed, sizes, out / "sites.bb") if sizes else None
    if bb is not None:
        files["sites_bb"] = str(bb)
    if genome:
        session = write_igv_session(out / "igv_session.xml", genome,
                                    [t for t in tracks if Path(t).is_file()], gz,
                                    locus=_first_locus(bed))
        files["igv_session"] = str(session)
    else:
        log.info("%s: no genome path recorded, so no IGV session was written", out)
    return files
