"""A genome's scan plan: every sequence of at least ``shard_bases`` is a shard alone, shorter
ones are packed in the genome's order (``seqfm scan-plan``; the workflow's checkpoint)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from .errors import InputError
from .io import atomic_write


SHARD_NAME_OK = re.compile(r"[^A-Za-z0-9._+-]")


def plan_shards(sizes: dict, chroms: Sequence[str], shard_bases: int) -> list[tuple[str, list[str]]]:
    """The shards of a genome scan, in the genome's order: every one of ``chroms`` of at least
    ``shard_bases`` bases alone, and the shorter ones packed, in order, into shards of at most
    ``shard_bases`` bases (an assembly's thousands of small scaffolds then make a few jobs, not
    thousands). A shard of one sequence is named after it, one of several
    ``<first sequence>+<how many more>``; characters other than letters, digits and ``._+-``
    become ``_``, and a name already taken gets ``_2``, ``_3``, ..."""
    if shard_bases < 1:
        raise InputError(f"scan shard_bases must be >= 1, got {shard_bases}")
    groups: list[list[str]] = []
    pack: list[str] = []
    bases = 0
    for c in chroms:
        n = int(sizes[c])
        if pack and (n >= shard_bases or bases + n > shard_bases):
            groups.append(pack)
            pack, bases = [], 0
        if n >= shard_bases:
            groups.append([c])
        else:
            pack.append(c)
            bases += n
    if pack:
        groups.append(pack)
    plan, taken = [], set()
    for g in groups:
        base = SHARD_NAME_OK.sub("_", g[0] if len(g) == 1 else f"{g[0]}+{len(g) - 1}")
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        plan.append((name, g))
    return plan


def write_shard_plan(plan: list[tuple[str, list[str]]], sizes: dict, folder: str | os.PathLike) -> None:
    """``folder/shards.tsv`` (shard, sequences, bases, first, last; in order) and one
    ``folder/<shard>.txt`` per shard with its sequence names, one per line (for
    ``seqfm scan --chroms-file``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, chroms in plan:
        with atomic_write(folder / f"{name}.txt") as handle:
            handle.write("".join(f"{c}\n" for c in chroms))
        rows.append((name, len(chroms), sum(int(sizes[c]) for c in chroms), chroms[0], chroms[-1]))
    with atomic_write(folder / "shards.tsv") as handle:
        handle.write("shard\tsequences\tbases\tfirst\tlast\n")
        handle.write("".join("\t".join(map(str, r)) + "\n" for r in rows))


def read_chroms_file(path: str | os.PathLike) -> list[str]:
    """Sequence names, one per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such chromosome list")
    names = [line.strip() for line in path.read_text().splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise InputError(f"{path}: the chromosome list names no sequence")
    return names
