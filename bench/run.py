"""Run every benchmark in bench/ on this machine and write BENCHMARKS.md.

Each ``bench/bench_*.py`` module offers ``run() -> dict`` (its peers measured in the same
run, on the same data) and ``report(dict) -> str`` (a readable summary with the ratios).
This script runs them one after the other, prints each report as it comes and writes
BENCHMARKS.md: the machine, the versions, the command, and every report.

Run:  python bench/run.py [--only encode,train] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> list[str]:
    import torch

    import seqfm

    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    versions = {"python": platform.python_version(), "seqfm": seqfm.__version__, "torch": torch.__version__}
    for name in ("numpy", "numba", "memelite", "tangermeme", "snakemake"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = "not installed"
    return [f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- machine: {platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"{mem:.0f} GiB memory, GPU: {gpu}",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def merge_sections(old_text: str, new: list[str]) -> list[str]:
    """Sections (``## name`` blocks) of ``old_text`` with those in ``new`` replaced or added."""
    def split(lines):
        blocks, name = {}, None
        for line in lines:
            if line.startswith("## "):
                name = line[3:].strip()
                blocks[name] = []
            if name is not None:
                blocks[name].append(line)
        return blocks

    merged = split(old_text.splitlines())
    for name, block in split(new).items():
        merged[name] = block + ([""] if block[-1] != "" else [])
    return [line for block in merged.values() for line in block]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated benchmark names (e.g. encode,train)")
    ap.add_argument("--out", default=str(HERE.parent / "BENCHMARKS.md"))
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    only = {s for s in args.only.split(",") if s}
    paths = sorted(p for p in HERE.glob("bench_*.py") if not only or p.stem[6:] in only)
    sections, raw = [], {}
    for path in paths:
        mod = load(path)
        if not hasattr(mod, "run"):
            continue
        print(f"== {path.stem}", flush=True)
        t0 = time.perf_counter()
        res = mod.run()
        took = time.perf_counter() - t0
        text = mod.report(res) if hasattr(mod, "report") else json.dumps(res, indent=2, default=str)
        print(text, flush=True)
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else path.stem
        sections += [f"## {path.stem[6:]}", "", doc, "", f"Command: `python bench/{path.name}`  "
                     f"(took {took:.0f} s in this run)", "", "```", text, "```", ""]
        raw[path.stem] = res
    lines = ["# Benchmarks", "", "Measured by `python bench/run.py` on this machine; every ratio "
             "compares seqfm with a peer measured in the same run on the same data.", ""]
    if only and Path(args.out).exists():
        # a partial run replaces its own sections and keeps the others of the last full run
        sections = merge_sections(Path(args.out).read_text(), sections)
    lines += machine() + [""] + sections
    Path(args.out).write_text("\n".join(lines) + "\n")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "benchmarks.json").write_text(json.dumps(raw, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
