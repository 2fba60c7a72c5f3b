"""End-to-end demo: wall time and peak memory of the whole workflow on the embedded example, from a fresh copy.

The workflow (Snakefile, workflow/, config/) is copied into a temporary folder and run there
with the command a user types:

    snakemake --cores 2 --workflow-profile workflow/profiles/default

from simulating the example genome to results/index.html: prepare, encode, train, motifs,
sites, the genome-wide scan (one job per chromosome and the gather job) and the report.
"After set-up" means the environment exists (the virtual environment, numba's compiled
kernels cached); nothing of a previous run is reused. Wall time is measured around the
snakemake process; peak memory is the largest resident set of any process of the run
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only snakemake); the
jobs run are counted from snakemake's log.

Run:  python bench/bench_demo.py [--cores 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY = ["Snakefile", "workflow", "config", "seqfm/schemas"]  # the workflow reads the package's schemas
TARGET_S = 300.0


def fresh_copy(dest: Path) -> Path:
    """The workflow's files (no results, no resources/example) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".snakemake"))
        else:
            shutil.copy2(src, dest / name)
    res = ROOT / "resources"
    if res.is_dir():  # shipped inputs only; the example is simulated by the run itself
        shutil.copytree(res, dest / "resources", ignore=shutil.ignore_patterns("example"))
    return dest


def run(cores: int = 2, keep: bool = False, timeout: float = 3600.0) -> dict:
    work = Path(tempfile.mkdtemp(prefix="seqfm_bench_demo_"))
    fresh_copy(work)
    env = dict(os.environ)
    venv_bin = Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    cmd = [str(venv_bin / "snakemake"), "--cores", str(cores), "--workflow-profile",
           "workflow/profiles/default"]
    wrapper = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:]); "
               "print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
               "time.perf_counter() - t]))")
    log_path = work / "demo.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        p = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=work, env=env, stdout=subprocess.PIPE,
                           stderr=log, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    rc, kb, inner = json.loads(p.stdout.strip().splitlines()[-1])
    text = log_path.read_text(errors="replace")
    jobs = re.findall(r"^(?:local)?rule (\w+):", text, flags=re.M)
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j] = counts.get(j, 0) + 1
    sample = "dna_example"
    outputs = {name: (work / "results" / sample / name).is_file()
               for name in ("model.pt", "sites.bed", "motifs.tsv", "report.html", "scan/sites.bed",
                            "scan/sites.gff3", "scan/cam.bw", "scan/summary.json")}
    outputs["index.html"] = (work / "results" / "index.html").is_file()
    scan_summary = {}
    f = work / "results" / sample / "scan" / "summary.json"
    if f.is_file():
        s = json.loads(f.read_text())
        scan_summary = {k: s.get(k) for k in ("bases", "n_calls", "n_filter_calls", "n_cam_calls",
                                              "scan_seconds", "bases_per_s")}
    report_links_scan = False
    rep = work / "results" / sample / "report.html"
    if rep.is_file():
        html = rep.read_text(errors="replace")
        report_links_scan = "scan/cam.bw" in html
    res = {"returncode": rc, "wall_s": wall, "snakemake_s": inner, "peak_rss_mb": kb / 1024,
           "jobs": counts, "outputs": outputs, "scan": scan_summary,
           "report_links_scan_tracks": report_links_scan, "target_s": TARGET_S,
           "passed": bool(rc == 0 and wall < TARGET_S), "command": " ".join(["snakemake"] + cmd[1:]),
           "cores": cores, "folder": str(work) if keep else None}
    if rc:
        res["log_tail"] = text[-3000:]
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def report(res: dict) -> str:
    lines = [f"the whole demo from a fresh copy: `{res['command']}` ({res['cores']} cores)",
             f"  exit status {res['returncode']}; wall time {res['wall_s']:.0f} s "
             f"(target < {res['target_s']:.0f} s: {'met' if res['passed'] else 'NOT met'}); "
             f"peak memory of any process {res['peak_rss_mb']:.0f} MiB",
             "  jobs: " + ", ".join(f"{k} x{v}" if v > 1 else k for k, v in res["jobs"].items())]
    missing = [k for k, v in res["outputs"].items() if not v]
    lines.append("  outputs: " + ("all present" if not missing else "missing " + ", ".join(missing)))
    if res.get("scan"):
        s = res["scan"]
        lines.append(f"  genome-wide scan: {s['bases'] / 1e6:.1f} Mb, {s['n_calls']} calls "
                     f"({s['n_filter_calls']} filter, {s['n_cam_calls']} CAM), "
                     f"{(s['bases_per_s'] or 0) / 1e6:.2f} Mb/s per shard job")
    lines.append(f"  report.html links the genome-wide tracks (scan/cam.bw): "
                 f"{'yes' if res['report_links_scan_tracks'] else 'no'}")
    if res.get("log_tail"):
        lines.append("  log tail:\n" + "\n".join("    " + l for l in res["log_tail"].splitlines()[-15:]))
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args()
    print(report(run(a.cores, a.keep)))
