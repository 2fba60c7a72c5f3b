#!/usr/bin/env python
"""Compare two results folders file by file, timestamps, timings and versions aside.

    python scripts/compare-results.py OLD NEW [--skip GLOB ...]

A refactoring that changes no behaviour leaves the workflow's outputs identical: run the
workflow, copy ``results/`` aside, change the code, run it again, then compare. Files equal
byte for byte pass at once; otherwise they are compared by what they hold:

- JSON: the parsed objects, without volatile keys (timings, dates, versions, paths of
  temporary files);
- text (TSV, BED, GFF3, MEME, HTML, SVG, ...): the lines, with ISO dates, times and version
  strings masked;
- NumPy ``.npz``: every array, exactly (the zip entries carry their writing time);
- PyTorch ``.pt``: every tensor (and every other value) of what it holds, exactly.

Absolute paths into either project (the results folder's parent) read alike, so runs in two
checkouts compare. Logs (``logs/``) and benchmark files are skipped. Exits 1 and lists the files that differ.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path

SKIP = ["logs/*", "*/logs/*", "*.log", "*/benchmarks/*", ".snakemake/*"]
#: JSON keys whose values change from run to run
VOLATILE_KEY = re.compile(r"(^|_)(seconds|second|time|timing|timings|date|created|elapsed|"
                          r"wall|version|versions|host|hostname|threads_used|per_s)(_|$)|^seqfm_version$")
VOLATILE_TEXT = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?UTC|Z|[+-]\d{2}:?\d{2})?"), "<date>"),
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|seconds|min)\b"), "<duration>"),
    (re.compile(r"(seqfm|torch|numpy|python|snakemake|matplotlib)[ =:/v]*\d+\.\d+[\w.+-]*", re.I),
     r"\1 <version>"),
    (re.compile(r"(url\(#|id=\"|href=\"#)[mp][0-9a-f]{10}\b"), r"\1<svg-id>"),  # matplotlib's ids
    # the report's scan speed, and the size of the JSON files that record timings
    (re.compile(r"<div class=\"v\">[\d,.]+</div>(\s*<div class=\"l\">bases per second)"),
     r"<div class=\"v\"><speed></div>\1"),
    (re.compile(r"(\.json</a> <span class=\"muted\">)[\d.]+ ?[KMG]?i?B"), r"\1<size>"),
]
TEXT = {".json", ".tsv", ".bed", ".gff3", ".meme", ".html", ".svg", ".as", ".xml", ".txt",
        ".csv", ".narrowPeak", ".bedGraph", ".yaml", ".md"}


def skipped(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) for p in patterns)


def scrub(obj):
    """A JSON object without its volatile keys."""
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items() if not VOLATILE_KEY.search(str(k))}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def mask(text: str) -> str:
    for pattern, repl in VOLATILE_TEXT:
        text = pattern.sub(repl, text)
    return text


def without_volatile_columns(text: str, suffix: str) -> str:
    """A table's text without the columns whose header names a timing."""
    sep = "," if suffix == ".csv" else "\t"
    rows = [line.split(sep) for line in text.splitlines()]
    if not rows:
        return text
    keep = [i for i, name in enumerate(rows[0]) if not VOLATILE_KEY.search(name.strip().lstrip("#"))]
    return "\n".join(sep.join(r[i] for i in keep if i < len(r)) for r in rows)


def same_npz(a: Path, b: Path) -> bool:
    import numpy as np

    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        return (sorted(x.files) == sorted(y.files)
                and all(np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f") for k in x.files))


def same_pt(a: Path, b: Path) -> bool:
    import torch

    def equal(x, y) -> bool:
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            return (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
                    and x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y))
        if isinstance(x, dict) and isinstance(y, dict):
            x, y = ({k: v for k, v in d.items() if not VOLATILE_KEY.search(str(k))} for d in (x, y))
            return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            return len(x) == len(y) and all(equal(u, v) for u, v in zip(x, y))
        if isinstance(x, str) and isinstance(y, str) and x[:1] in "{[":
            try:  # a JSON string (a checkpoint's training state)
                return scrub(json.loads(x)) == scrub(json.loads(y))
            except ValueError:
                pass
        return scrub(x) == scrub(y)

    return equal(*(torch.load(p, map_location="cpu", weights_only=True) for p in (a, b)))


def same(a: Path, b: Path, roots: tuple[str, str] = ("", "")) -> bool:
    """Whether two files hold the same; ``roots``: the two projects' folders, which absolute
    paths in JSON and text files may name (two checkouts run the same workflow)."""
    if a.read_bytes() == b.read_bytes():
        return True
    suffix = a.suffix

    def text(path: Path, root: str) -> str:
        t = path.read_text()
        return t.replace(root, "<project>") if root else t

    if suffix == ".json":
        try:
            return scrub(json.loads(text(a, roots[0]))) == scrub(json.loads(text(b, roots[1])))
        except (ValueError, UnicodeDecodeError):
            return False
    if suffix == ".npz":
        return same_npz(a, b)
    if suffix == ".pt":
        return same_pt(a, b)
    if suffix in TEXT:
        try:
            x, y = text(a, roots[0]), text(b, roots[1])
        except UnicodeDecodeError:
            return False
        if suffix in (".csv", ".tsv"):
            x, y = without_volatile_columns(x, suffix), without_volatile_columns(y, suffix)
        return mask(x) == mask(y)
    return False


def compare(old: Path, new: Path, skip: list[str]) -> list[str]:
    """The relative paths that differ (or exist on one side only), each with a reason."""
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                and not skipped(str(p.relative_to(root)), skip)}

    a, b = files(old), files(new)
    out = [f"{r}: only in {old}" for r in sorted(a - b)]
    out += [f"{r}: only in {new}" for r in sorted(b - a)]
    # a results folder's parent is its project: absolute paths into it may differ
    roots = tuple(str(d.resolve().parent) for d in (old, new))
    out += [f"{r}: differs" for r in sorted(a & b) if not same(old / r, new / r, roots)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--skip", action="append", default=[], metavar="GLOB",
                    help="relative paths to leave out (repeatable), beside logs and benchmarks")
    args = ap.parse_args(argv)
    for d in (args.old, args.new):
        if not d.is_dir():
            print(f"compare-results: {d}: no such folder", file=sys.stderr)
            return 2
    diffs = compare(args.old, args.new, SKIP + args.skip)
    for line in diffs:
        print(line)
    n = sum(1 for _ in args.old.rglob("*") if _.is_file())
    print(f"compare-results: {len(diffs)} difference(s) over {n} files of {args.old}", file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
