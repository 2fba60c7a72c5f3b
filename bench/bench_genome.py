"""Genome-scale scan: a simulated 300 Mb genome scanned through the workflow's own shard jobs (`snakemake --cores 2`), wall time, peak memory of any job, calls per Mb and the extrapolation to hg38.

The genome: `seqfm simulate` with the embedded example's parameters (seed, composition,
soft-masked share, motifs, region lengths, share of two-motif regions) and its densities
scaled to ``--size``: positive regions with planted sites and decoy regions with conserved
elements but no motif at the example's 800 per Mb each (config simulate: 2,400 in 3 Mb), N
runs at its 1 per Mb; ``--chroms`` chromosomes of falling lengths; the conservation bigWig
at base resolution. The simulation is timed and its peak memory measured (a child process).

The scan: a project folder holding config/ only, as a deployed workflow has it (the
repository's config.yaml, with one sample: the simulated genome and its conservation), the
demo's trained model copied in as the workflow would have left it (results/<sample>/model.pt,
model.json, interpret/filters.tsv, motifs.tsv and interpret/motifs.meme: the clusters and
PWMs the gather names calls with), then

    snakemake --cores 2 -s <repo>/workflow/Snakefile -d <project> \\
        --allowed-rules scan_plan scan_null scan_shard scan  results/<sample>/scan/...

(``--allowed-rules``: the model is taken as given, nothing is retrained). The workflow plans the
shards (config scan.shard_bases: a chromosome that long alone, shorter ones packed), builds the
null once (scan.null_bases of dinucleotide-shuffled windows, tracks in place), scans every
shard, and gathers the calls (genome-wide q-values) and the merged CAM bigWig. The jobs run the
package of this checkout (PYTHONPATH). numba's kernels are compiled beforehand (`seqfm
warm-up`, timed apart), as after installing.

Measured: the wall time of snakemake; each job's wall time, CPU time and peak resident memory
(psutil, polled every 0.2 s: the job's processes summed), and the largest resident set of any process
of the run (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only snakemake,
exact); calls per Mb, their share on planted sites, on the decoys' conserved elements
(conserved DNA without a motif) and elsewhere, and the planted sites' recall.

Extrapolation to 3.1 Gb: the plan and the null do not grow with the genome (scan.null_bases of
windows whatever its size; the whole genome only when it is shorter), the rest does (shard
jobs, the gather's calls and bigWig, Snakemake's bookkeeping between jobs), so
``t(3.1 Gb) = t_fixed + (wall - t_fixed) * 3.1 Gb / size`` with ``t_fixed`` the plan's and the
null's jobs. More bases per shard at hg38 (50 Mb shards) only lowers the per-job start-up share,
so this is an upper bound as far as shards go. The same split of the jobs' CPU time, spread over
the cores, is printed beside it: the wall time a machine with nothing else running would need if
the jobs kept every core busy (a lower bound; on a shared machine the wall time says more about
the neighbours than about seqfm, the CPU time does not).

Run:  python bench/bench_genome.py [--size 300000000] [--chroms 10] [--cores 2]
          [--shard-bases N] [--model-dir results/dna_example] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "results" / "dna_example"
SAMPLE = "simulated"
HG38 = 3.1e9
TARGETS = {"peak_job_mib": 2048.0, "hg38_minutes": 20.0}
#: the example's N runs: `seqfm simulate`'s default, 3 in the demo's 3 Mb
EXAMPLE_GAPS_PER_BP = 3 / 3_000_000


def _repo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def simulate_options(size: int, chroms: int) -> dict:
    """``seqfm simulate`` options: the example's, with its densities scaled to ``size``."""
    sim = _repo_config()["simulate"]
    per_bp = sim["n_positives"] / sim["genome_size"]
    return {"seed": sim["seed"], "genome_size": int(size), "n_chroms": int(chroms),
            "n_positives": int(round(per_bp * size)),
            "n_gaps": max(1, int(round(EXAMPLE_GAPS_PER_BP * size)))}


def _env() -> dict:
    env = dict(os.environ)
    venv_bin = Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    # the jobs run this checkout's package
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


WRAPPER = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:]); "
           "print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
           "time.perf_counter() - t]))")


def simulate_genome(dest: Path, opts: dict) -> dict:
    """Simulate the genome into ``dest`` (reusing one made there with the same options):
    wall time and peak RSS of ``seqfm simulate``."""
    info = dest / "simulate.json"
    if info.is_file():
        made = json.loads(info.read_text())["parameters"]
        if all(made.get(k) == v for k, v in opts.items()):
            stats = dest / "bench_simulate.json"
            old = json.loads(stats.read_text()) if stats.is_file() else {}
            return {**old, "reused": True}
    cmd = [str(Path(sys.executable).parent / "seqfm"), "simulate", "--out", str(dest)]
    cmd += [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]
    log = dest.parent / "simulate.log"
    with open(log, "w") as fh:
        p = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], env=_env(), stdout=subprocess.PIPE,
                           stderr=fh, text=True)
    rc, kb, secs = json.loads(p.stdout.strip().splitlines()[-1])
    if rc:
        raise RuntimeError(f"seqfm simulate failed: {log.read_text()[-1500:]}")
    res = {"seconds": secs, "peak_rss_mb": kb / 1024, "reused": False,
           "command": "seqfm simulate " + " ".join(cmd[4:])}
    (dest / "bench_simulate.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


def make_project(project: Path, genome_dir: Path, model_dir: Path, shard_bases: int | None,
                 threads: int) -> dict:
    """config/ (config.yaml + samples.tsv) and the trained model's files in ``project``."""
    cfg = _repo_config()
    cfg["samples"] = "config/samples.tsv"
    cfg["sites"]["truth"] = {}
    cfg["motifs"]["databases"] = {}
    if shard_bases:
        cfg["scan"]["shard_bases"] = int(shard_bases)
    cfg["scan"]["threads"] = int(threads)
    (project / "config").mkdir(parents=True, exist_ok=True)
    (project / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    g = genome_dir.resolve()
    (project / "config" / "samples.tsv").write_text(
        "sample\talphabet\tpositives\tnegatives\tgenome\tconservation\n"
        f"{SAMPLE}\tdna\t{g / 'positives.bed'}\tbackground\t{g / 'genome.fa'}\t{g / 'conservation.bw'}\n")
    res = project / "results" / SAMPLE
    (res / "interpret").mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "model.json"):
        shutil.copy2(model_dir / name, res / name)
    # the clusters the gather labels calls with, and the PWMs it names them by (seqfm.labels)
    for name in ("interpret/filters.tsv", "motifs.tsv", "interpret/motifs.meme"):
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, res / name)
    return cfg["scan"]


def _job_of(cmd: list[str]) -> str | None:
    """The workflow job a process belongs to, from its command line."""
    line = " ".join(cmd)
    if "seqfm scan" not in line or any("snakemake" in Path(w).name for w in cmd[:2]):
        return None
    if "scan-plan" in line:
        return "scan_plan"
    if "scan-null" in line:
        return "scan_null"
    if "scan-merge" in line:
        return "scan (gather)"
    if "--chroms-file" in line:
        words = line.split()
        path = words[words.index("--chroms-file") + 1]
        return f"scan_shard {Path(path).stem}"
    return None


class JobMonitor(threading.Thread):
    """Polls the process tree under ``pid``: per job, first and last time seen and the peak of
    its processes' summed RSS; and the peak RSS of the whole tree."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.jobs: dict[str, dict] = {}
        self.tree_peak = 0
        self._cpu: dict[str, dict[int, float]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        t0 = time.perf_counter()
        while not self._halt.is_set():
            now = time.perf_counter() - t0
            sums: dict[str, int] = {}
            total = 0
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    cpu = p.cpu_times()
                    key = _job_of(p.cmdline())
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                total += rss
                if key:
                    sums[key] = sums.get(key, 0) + rss
                    self._cpu.setdefault(key, {})[p.pid] = cpu.user + cpu.system
            self.tree_peak = max(self.tree_peak, total)
            for key, rss in sums.items():
                j = self.jobs.setdefault(key, {"first_s": now, "last_s": now, "peak_rss_mb": 0.0})
                j["last_s"] = now
                j["peak_rss_mb"] = max(j["peak_rss_mb"], rss / 2**20)
                j["cpu_s"] = sum(self._cpu[key].values())  # each process's own CPU time, last seen
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_workflow(project: Path, cores: int, timeout: float) -> dict:
    """The scan part of the workflow in ``project``, measured."""
    venv_bin = Path(sys.executable).parent
    targets = [f"results/{SAMPLE}/scan/{f}" for f in ("sites.bed", "sites.gff3", "cam.bw", "summary.json")]
    cmd = [str(venv_bin / "snakemake"), "--cores", str(cores), "-s", str(ROOT / "workflow" / "Snakefile"),
           "-d", str(project), "--allowed-rules", "scan_plan", "scan_null", "scan_shard", "scan",
           "--", *targets]
    log_path = project / "snakemake.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        p = subprocess.Popen([sys.executable, "-c", WRAPPER, *cmd], cwd=project, env=_env(),
                             stdout=subprocess.PIPE, stderr=log, text=True)
        mon = JobMonitor(p.pid)
        mon.start()
        try:
            out, _ = p.communicate(timeout=timeout)
        finally:
            mon.stop()
    wall = time.perf_counter() - t0
    rc, kb, _ = json.loads(out.strip().splitlines()[-1])
    for j in mon.jobs.values():
        j["seconds"] = j["last_s"] - j["first_s"]
    res = {"returncode": rc, "wall_s": wall, "peak_rss_any_process_mb": kb / 1024,
           "peak_rss_tree_mb": mon.tree_peak / 2**20, "jobs": mon.jobs,
           "command": "snakemake " + " ".join(cmd[1:]).replace(str(project), "<project>")
                                                       .replace(str(ROOT), "<repo>")}
    if rc:
        res["log_tail"] = log_path.read_text(errors="replace")[-3000:]
    return res


def _read_bed(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", low_memory=False)
    return df.rename(columns={df.columns[0]: "chrom"})


def _overlaps(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """For each interval of ``a``: does it overlap an interval of ``b``? (per chromosome,
    sorted starts and the running maximum of the ends)"""
    hit = np.zeros(len(a), dtype=bool)
    for chrom, ia in a.groupby("chrom", sort=False).indices.items():
        sb = b[b.chrom == chrom]
        if not len(sb):
            continue
        order = np.argsort(sb.start.to_numpy(), kind="stable")
        bs, be = sb.start.to_numpy()[order], np.maximum.accumulate(sb.end.to_numpy()[order])
        k = np.searchsorted(bs, a.end.to_numpy()[ia], side="left")  # b's starting before a's end
        ok = k > 0
        hit[ia[ok]] = be[k[ok] - 1] > a.start.to_numpy()[ia[ok]]
    return hit


def score_calls(calls: pd.DataFrame, genome_dir: Path) -> dict:
    """Calls on planted sites, on conserved decoy elements (and no site), elsewhere; recall."""
    truth = _read_bed(genome_dir / "truth.bed")
    decoys = _read_bed(genome_dir / "decoy_elements.bed")
    out = {"planted_sites": int(len(truth)), "decoy_elements": int(len(decoys))}
    if not len(calls):
        return {**out, "site": 0.0, "decoy": 0.0, "other": 0.0, "recall": 0.0, "decoy_hit": 0.0}
    on_site = _overlaps(calls, truth)
    on_decoy = _overlaps(calls, decoys) & ~on_site
    out.update(site=float(on_site.mean()), decoy=float(on_decoy.mean()),
               other=float((~on_site & ~on_decoy).mean()),
               recall=float(_overlaps(truth, calls).mean()),
               decoy_hit=float(_overlaps(decoys, calls).mean()))
    for det, name in (("filter", "filter"), ("cam", "cam")):
        sel = (calls.detector == "cam") if det == "cam" else (calls.detector != "cam")
        if sel.any():
            out[f"{name}_site"] = float(on_site[sel.to_numpy()].mean())
            out[f"{name}_decoy"] = float(on_decoy[sel.to_numpy()].mean())
    return out


def run(size: int = 300_000_000, chroms: int = 10, cores: int = 2, shard_bases: int | None = None,
        model_dir: str | os.PathLike | None = None, work: str | os.PathLike | None = None,
        keep: bool = False, timeout: float = 4 * 3600.0) -> dict:
    model_dir = Path(model_dir) if model_dir else MODEL_DIR
    if not ((model_dir / "model.pt").is_file() and (model_dir / "model.json").is_file()):
        return {"skipped": f"no trained model in {model_dir} (run the demo first, `make demo`, "
                           "or give --model-dir)"}
    base = Path(work) if work else Path(tempfile.mkdtemp(prefix="seqfm_bench_genome_"))
    base.mkdir(parents=True, exist_ok=True)
    genome_dir = base / f"genome_{size}_{chroms}"
    project = base / "project"
    try:
        opts = simulate_options(size, chroms)
        sim = simulate_genome(genome_dir, opts)
        info = json.loads((genome_dir / "simulate.json").read_text())
        disk = {n: (genome_dir / n).stat().st_size / 2**20 for n in ("genome.fa", "conservation.bw")}
        t0 = time.perf_counter()
        w = subprocess.run([str(Path(sys.executable).parent / "seqfm"), "warm-up"], env=_env(),
                           capture_output=True, text=True)
        warm = {"seconds": time.perf_counter() - t0, "returncode": w.returncode}
        if project.exists():
            shutil.rmtree(project)
        scan_cfg = make_project(project, genome_dir, model_dir, shard_bases, cores)
        wf = run_workflow(project, cores, timeout)
        res = {"setup": {"size": size, "chroms": info["chromosomes"], "simulate_options": opts,
                         "counts": info["counts"], "gc": info["gc_fraction"],
                         "cpg_oe": info["cpg_observed_expected"], "disk_mb": disk, "cores": cores,
                         "model": str(model_dir), "scan_config": scan_cfg},
               "simulate": sim, "warm_up": warm, "workflow": wf, "targets": TARGETS}
        rdir = project / "results" / SAMPLE
        plan = pd.read_csv(rdir / "scan_plan" / "shards.tsv", sep="\t") if (rdir / "scan_plan" / "shards.tsv").is_file() else None
        if plan is not None:
            res["shards"] = plan[["shard", "sequences", "bases"]].to_dict("records")
        if wf["returncode"] == 0:
            summary = json.loads((rdir / "scan" / "summary.json").read_text())
            bases = summary["bases"]
            calls = _read_bed(rdir / "scan" / "sites.bed")
            res["scan"] = {k: summary.get(k) for k in ("bases", "n_calls", "n_filter_calls", "n_cam_calls",
                                                      "n_candidates", "scan_seconds", "bases_per_s")}
            res["calls_per_mb"] = summary["n_calls"] / (bases / 1e6)
            res["truth"] = score_calls(calls, genome_dir)
            null_log = (rdir / "logs" / "scan_null.log")
            res["null_log"] = [l for l in null_log.read_text().splitlines() if "null:" in l][-1:] if null_log.is_file() else []
            jobs = wf["jobs"]
            fixed = sum(j["seconds"] for k, j in jobs.items() if k in ("scan_plan", "scan_null"))
            shard_s = sum(j["seconds"] for k, j in jobs.items() if k.startswith("scan_shard"))
            res["fixed_s"] = fixed
            res["shards_s"] = shard_s
            res["shard_mb_per_s"] = bases / 1e6 / shard_s if shard_s else None
            res["per_gb_s"] = (wf["wall_s"] - fixed) / (bases / 1e9)
            res["hg38_s"] = fixed + (wf["wall_s"] - fixed) * HG38 / bases
            cpu = {k: j.get("cpu_s", 0.0) for k, j in jobs.items()}
            cpu_fixed = sum(v for k, v in cpu.items() if k in ("scan_plan", "scan_null"))
            cpu_rest = sum(cpu.values()) - cpu_fixed
            res["cpu"] = {"fixed_s": cpu_fixed, "rest_s": cpu_rest, "total_s": sum(cpu.values()),
                          "per_gb_s": cpu_rest / (bases / 1e9),
                          "hg38_cpu_s": cpu_fixed + cpu_rest * HG38 / bases}
            res["cpu"]["hg38_wall_if_busy_s"] = res["cpu"]["hg38_cpu_s"] / cores
            res["peak_job_mb"] = max(j["peak_rss_mb"] for j in jobs.values())
            res["peak_job"] = max(jobs, key=lambda k: jobs[k]["peak_rss_mb"])
            res["passed"] = {"peak_job": res["peak_job_mb"] < TARGETS["peak_job_mib"],
                             "hg38": res["hg38_s"] / 60 < TARGETS["hg38_minutes"]}
            res["outputs_mb"] = {f: (rdir / "scan" / f).stat().st_size / 2**20
                                 for f in ("sites.bed", "sites.gff3", "cam.bw")}
        res["folder"] = str(base) if (keep or work) else None
        return res
    finally:
        if not (keep or work):
            shutil.rmtree(base, ignore_errors=True)


def report(res: dict) -> str:
    if "skipped" in res:
        return f"skipped: {res['skipped']}"
    s, sim, wf = res["setup"], res["simulate"], res["workflow"]
    sizes = list(s["chroms"].values())
    c = s["counts"]
    lines = [f"simulated genome: {s['size'] / 1e6:.0f} Mb in {len(sizes)} chromosomes "
             f"({max(sizes) / 1e6:.1f}-{min(sizes) / 1e6:.1f} Mb), the example's composition "
             f"(GC {s['gc']:.3f}, CpG o/e {s['cpg_oe']:.3f}) and densities: {c['positives']:,} positive "
             f"regions with {c['sites']:,} planted sites, {c['decoys']:,} decoys with "
             f"{c['decoy_conserved_elements']:,} conserved elements, conservation bigWig "
             f"({s['disk_mb']['genome.fa']:.0f} MiB FASTA, {s['disk_mb']['conservation.bw']:.0f} MiB bigWig)"]
    if sim.get("reused"):
        lines.append("  `seqfm simulate`: genome reused from an earlier run"
                     + (f" (then {sim['seconds']:.0f} s, peak {sim['peak_rss_mb']:.0f} MiB)" if "seconds" in sim else ""))
    else:
        lines.append(f"  `seqfm simulate`: {sim['seconds']:.0f} s, peak memory {sim['peak_rss_mb']:.0f} MiB "
                     f"({sim['seconds'] / (s['size'] / 1e6):.2f} s per Mb)")
    lines.append(f"  numba kernels compiled beforehand (`seqfm warm-up`): {res['warm_up']['seconds']:.0f} s")
    sc = s["scan_config"]
    lines.append(f"workflow scan on {s['cores']} cores: `{wf['command']}`")
    lines.append(f"  config: shard_bases {sc['shard_bases'] / 1e6:g} Mb, null_bases {sc['null_bases'] / 1e6:g} Mb, "
                 f"tile {sc['tile']}, batch {sc['batch_size']}, bin {sc['bin']}, threads: null "
                 f"{sc['threads']}, each shard {sc.get('shard_threads', sc['threads'])}; "
                 f"model {s['model']}")
    lines.append(f"  exit status {wf['returncode']}; wall time {wf['wall_s']:.0f} s "
                 f"({s['size'] / 1e6 / wf['wall_s']:.2f} Mb/s end to end)")
    if wf.get("log_tail"):
        lines.append("  log tail:\n" + "\n".join("    " + l for l in wf["log_tail"].splitlines()[-15:]))
        return "\n".join(lines)
    shard_bases = {r["shard"]: r["bases"] for r in res.get("shards", [])}
    lines.append("  jobs (wall time, CPU time and peak resident memory, polled):")
    order = sorted(wf["jobs"].items(), key=lambda kv: kv[1]["first_s"])
    for name, j in order:
        extra = ""
        shard = name.split(" ", 1)[1] if name.startswith("scan_shard") else None
        if shard in shard_bases:
            extra = f"  {shard_bases[shard] / 1e6:6.1f} Mb, {shard_bases[shard] / 1e6 / max(j['seconds'], 1e-9):.2f} Mb/s"
        lines.append(f"    {name:28s} {j['seconds']:7.1f} s  CPU {j.get('cpu_s', 0):7.1f} s  "
                     f"{j['peak_rss_mb']:6.0f} MiB{extra}")
    lines.append(f"  peak memory of any job {res['peak_job_mb']:.0f} MiB ({res['peak_job']}; target < "
                 f"{TARGETS['peak_job_mib']:.0f} MiB: {'met' if res['passed']['peak_job'] else 'NOT met'}); "
                 f"any process of the run (exact, getrusage) {wf['peak_rss_any_process_mb']:.0f} MiB; "
                 f"the whole process tree at once {wf['peak_rss_tree_mb']:.0f} MiB")
    sc_ = res["scan"]
    t = res["truth"]
    lines.append(f"  calls: {sc_['n_calls']:,} ({sc_['n_filter_calls']:,} filter, {sc_['n_cam_calls']:,} CAM), "
                 f"{res['calls_per_mb']:.0f} per Mb; on planted sites {t['site']:.3f}, on conserved decoy "
                 f"elements {t['decoy']:.3f}, elsewhere {t['other']:.3f}; planted sites recalled "
                 f"{t['recall']:.3f}, decoy elements hit {t['decoy_hit']:.3f}")
    lines.append(f"  outputs: sites.bed {res['outputs_mb']['sites.bed']:.0f} MiB, sites.gff3 "
                 f"{res['outputs_mb']['sites.gff3']:.0f} MiB, cam.bw {res['outputs_mb']['cam.bw']:.0f} MiB")
    lines.append(f"  shard jobs: {res['shards_s']:.0f} s for {s['size'] / 1e6:.0f} Mb ({res['shard_mb_per_s']:.2f} Mb/s "
                 f"per job on {s['cores']} cores); fixed (plan + null, independent of the genome's size) "
                 f"{res['fixed_s']:.0f} s; the rest {res['per_gb_s']:.0f} s per Gb")
    lines.append(f"  extrapolation to hg38 (3.1 Gb, conservation included): {res['fixed_s']:.0f} s + "
                 f"{res['per_gb_s']:.0f} s/Gb x 3.1 Gb = {res['hg38_s'] / 60:.1f} min (target < "
                 f"{TARGETS['hg38_minutes']:.0f} min: {'met' if res['passed']['hg38'] else 'NOT met'})")
    c = res["cpu"]
    lines.append(f"  the same from the jobs' CPU time: {c['fixed_s']:.0f} s + {c['per_gb_s']:.0f} CPU s/Gb x 3.1 Gb "
                 f"= {c['hg38_cpu_s'] / 60:.1f} CPU min, {c['hg38_wall_if_busy_s'] / 60:.1f} min on {s['cores']} "
                 f"cores kept busy (the wall time of a quiet machine is at least this)")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=300_000_000, help="genome length in bases")
    ap.add_argument("--chroms", type=int, default=10, help="number of chromosomes")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--shard-bases", type=int, default=None,
                    help="config scan.shard_bases (default: the repository's config)")
    ap.add_argument("--model-dir", default=None, help="trained model folder (default results/dna_example)")
    ap.add_argument("--work", default=None,
                    help="folder to work in and keep (a genome simulated there before with the same "
                         "options is reused); default: a temporary folder, removed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
    a = ap.parse_args()
    r = run(a.size, a.chroms, a.cores, a.shard_bases, a.model_dir, a.work, a.keep)
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2, default=str) + "\n")
    print(report(r))
