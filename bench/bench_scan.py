"""Genome-wide scanning: seqfm scan (model + calls + tracks) against memelite's FIMO, and peak memory for two chromosome lengths.

Throughput, in bases per second over the same sequence (the example genome's chr1, or a
seeded random sequence when the example has not been built):
  - seqfm scan of one chromosome, three ways (the null is built once per genome beforehand;
    its time is reported on its own line):
      file to file: `seqfm scan --chrom chr1` from the FASTA to sites.bed, sites.gff3,
        candidates.npz and the CAM bigWig with zoom levels (tiles read with pyfaidx, both
        strands, p- and q-values, merged calls);
      a workflow shard (`--shard`): candidates with p-values and the bigWig without zoom
        levels (the gather job makes the calls, genome-wide, and writes their text once);
      calls in memory: the file-to-file scan's work up to the merged calls with q-values, in
        memory like FIMO's data frames (its bigWig included);
  - the same scan's compiled kernel alone on the sequence in memory (every filter on both
    strands, the CAM, window maxima and test counts; nothing returned), to show what the
    outputs around it cost;
  - seqfm scan without the conservation channel (the same letter weights), like for like with
    FIMO, which reads sequence only;
  - memelite FIMO with as many PWMs as the model has filters, of the filter width (the model's
    own filters as probability matrices, softmax over letters per column), both strands,
    p < 1e-4: given the one-hot sequence ready in memory (hits as data frames), and from the
    FASTA to a TSV of its hits (FIMO's own reading, as its command line runs it);
  - the PyTorch peer, what a tangermeme or gReLU user writes for the same model: the
    chromosome read with pyfaidx and its conservation with pyBigWig, one-hot encoded
    (tangermeme's ``one_hot_encode``) with the track as the fifth channel, cut into the same
    tiles as seqfm's (``tile`` window starts each, plus the filter width), run through
    ``tangermeme.predict.predict`` with batches of the same size on a module whose forward is
    the model's class-activation map (both strands, ``SeqCNN.class_activation_map``) minus the
    map of ``SeqCNN.reference_input`` (what seqfm's CAM is, for a model with tracks), windows
    holding N dropped, averaged over the same bins and written to a bigWig with zoom levels by
    pyBigWig: only the CAM track, no calls. Its bigWig is compared with seqfm's ``cam.bw``
    (correlation and largest difference over the bins both hold), so that both compute the
    same thing.
Median of ``repeat`` runs, interleaved, after one warm-up run each (numba compilation).

Memory: `seqfm scan` on seeded random chromosomes of two lengths 10x apart (with N runs) in
separate processes, as the workflow runs a shard (bigWig without zoom levels: libBigWig builds
those in memory, about 14 bytes per base, so the gather job adds them to the merged file); peak RSS from ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a
wrapper process that runs just that one scan.

Run:  python bench/bench_scan.py [--repeat 3] [--short 1000000] [--model-dir DIR] [--example DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "results" / "dna_example"
GENOME = ROOT / "resources" / "example" / "genome.fa"
TRACK = ROOT / "resources" / "example" / "conservation.bw"


def _random_genome(path: Path, sizes: dict, seed: int = 0, n_runs: int = 3) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "w") as f:
        for name, n in sizes.items():
            seq = letters[rng.integers(0, 4, n)]
            for _ in range(n_runs):  # assembly gaps
                a = int(rng.integers(0, max(1, n - 5000)))
                seq[a:a + 5000] = ord("N")
            f.write(f">{name}\n")
            step = 60 * 16_000  # whole lines per block, so every line but the last has 60 letters
            for i in range(0, n, step):
                block = seq[i:i + step].tobytes().decode()
                f.write("\n".join(block[j:j + 60] for j in range(0, len(block), 60)) + "\n")


def _models(tmp: Path):
    """(model.pt, model.json, tracks, what) for the trained example model, or a seeded
    untrained one; and the same letter weights without tracks."""
    import torch

    from seqfm.model import SeqCNN, load, save

    if (MODEL_DIR / "model.pt").is_file() and (MODEL_DIR / "model.json").is_file():
        model, info = load(MODEL_DIR / "model.pt", MODEL_DIR / "model.json")
        shown = MODEL_DIR.relative_to(ROOT) if MODEL_DIR.is_relative_to(ROOT) else MODEL_DIR
        what = f"trained example model ({shown})"
        pt, js = MODEL_DIR / "model.pt", MODEL_DIR / "model.json"
        tracks = [str(TRACK)] if model.arch["n_tracks"] == 1 and TRACK.is_file() else []
        if model.arch["n_tracks"] != len(tracks):
            pt = js = None
    else:
        torch.manual_seed(0)
        model = SeqCNN({"n_filters": 64, "filter_width": 19, "dropout": 0.0}).eval()
        what, tracks, pt, js = "seeded untrained model, 64 filters of width 19", [], None, None
        pt, js = save(model, tmp / "model")
    arch = {k: v for k, v in model.arch.items()}
    arch["n_tracks"] = 0
    seq_only = SeqCNN(arch).eval()
    with torch.no_grad():
        # a gated first layer's track kernels go with the tracks
        sd = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("gate.")}
        sd["conv1.weight"] = sd["conv1.weight"][:, :4].contiguous()
        seq_only.load_state_dict(sd)
    pt0, js0 = save(seq_only, tmp / "seq_only")
    return (pt, js, tracks, what), (pt0, js0), model


def _pwms(model) -> dict:
    """The model's filters as probability matrices (softmax over letters per column)."""
    w = model.conv1.weight.detach().cpu().numpy()[:, :4].astype(np.float64)
    e = np.exp(w - w.max(axis=1, keepdims=True))
    return {f"filter_{i}": e[i] / e[i].sum(axis=0, keepdims=True) for i in range(len(w))}


def _scan_once(pt, js, genome, chrom, tracks, null, out, threads, shard: bool) -> dict:
    from seqfm import scan

    t0 = time.perf_counter()
    res = scan.run(pt, js, genome, out, chroms=[chrom], conservation=tracks, null_path=null,
                   threads=threads, shard=shard)
    return {"seconds": time.perf_counter() - t0, "n_calls": res["n_calls"], "bases": res["bases"],
            "in_memory": res["timing"]["calls_in_memory"]}


def _median(xs):
    return float(np.median(xs)), float(max(xs) - min(xs))


def _peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and wall time of ``cmd`` run alone under a wrapper process."""
    wrapper = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(r.stderr[-2000:] if r.returncode else ''); "
               "print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
               "time.perf_counter() - t]))")
    r = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    rc, kb, secs = json.loads(r.stdout.strip().splitlines()[-1])
    if rc:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-500:]}")
    return kb / 1024, secs


def _torch_peer(pt, js, genome: Path, chrom: str, tracks: list, out: Path, tile: int,
                batch_size: int, bin_: int, device: str) -> dict:
    """The CAM of one chromosome to a bigWig as a tangermeme user computes it (module docstring):
    seconds, bases."""
    import pyBigWig
    import pyfaidx
    import torch
    from tangermeme.predict import predict
    from tangermeme.utils import one_hot_encode

    from seqfm.model import load

    t0 = time.perf_counter()
    model, _ = load(pt, js)

    class CAM(torch.nn.Module):
        """The model's class-activation map, relative to its reference input with tracks."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            cam = self.m.class_activation_map(x)
            if self.m.arch["n_tracks"]:
                cam = cam - self.m.class_activation_map(self.m.reference_input(x))
            return cam

    fa = pyfaidx.Fasta(str(genome))
    sizes = {name: len(fa[name]) for name in fa.keys()}
    seq = str(fa[chrom][:]).upper()
    length, width = len(seq), model.filter_width
    x = one_hot_encode(seq).float()  # (4, L); N (and anything else) -> zeros
    if tracks:
        bw = pyBigWig.open(str(tracks[0]))
        cons = np.nan_to_num(bw.values(chrom, 0, length, numpy=True).astype(np.float32))
        bw.close()
        x = torch.cat([x, torch.from_numpy(cons)[None]])
    n_win = length - width + 1
    n_tiles = -(-n_win // tile)
    x = torch.nn.functional.pad(x, (0, n_tiles * tile + width - 1 - length))
    X = torch.stack([x[:, a:a + tile + width - 1] for a in range(0, n_tiles * tile, tile)])
    with torch.no_grad():
        cam = predict(CAM(model).eval(), X, batch_size=batch_size, device=device)
    cam = cam.reshape(-1)[:n_win].numpy().astype(np.float64)
    n_in = np.concatenate([[0], np.cumsum(np.frombuffer(seq.encode(), np.uint8) == ord("N"))])
    cam[n_in[width:] - n_in[:n_win] > 0] = np.nan  # windows holding N
    track = np.full(-(-length // bin_) * bin_, np.nan)
    track[width // 2: width // 2 + n_win] = cam  # a window's value at its centre base
    track = track.reshape(-1, bin_)
    ok = np.isfinite(track)
    with np.errstate(invalid="ignore"):
        means = np.where(ok, track, 0.0).sum(1) / ok.sum(1)
    bw = pyBigWig.open(str(out), "w")
    bw.addHeader(list(sizes.items()))
    fin = np.isfinite(means)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], fin, [False]]).astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2]):
        bw.addEntries(chrom, int(a * bin_), values=means[a:b], span=bin_, step=bin_)
    bw.close()
    return {"seconds": time.perf_counter() - t0, "bases": length}


def _compare_tracks(a: Path, b: Path, chrom: str, bin_: int) -> dict:
    """Bin values of two bigWigs on ``chrom``: correlation and largest difference where both
    hold a value, and the bins only one of them holds."""
    import pyBigWig

    vals = []
    for path in (a, b):
        bw = pyBigWig.open(str(path))
        vals.append(np.asarray(bw.values(chrom, 0, bw.chroms(chrom), numpy=True), np.float64)[::bin_])
        bw.close()
    va, vb = vals
    both = np.isfinite(va) & np.isfinite(vb)
    diff = np.abs(va[both] - vb[both])
    return {"bins": int(both.sum()), "only_one": int((np.isfinite(va) != np.isfinite(vb)).sum()),
            "r": float(np.corrcoef(va[both], vb[both])[0, 1]) if both.sum() > 1 else float("nan"),
            "max_abs_diff": float(diff.max()) if diff.size else float("nan"),
            "scale": float(np.abs(va[both]).max()) if both.any() else float("nan")}


def run(repeat: int = 3, short: int = 1_000_000, threads: int = 0, fimo_p: float = 1e-4) -> dict:
    from memelite import fimo

    from seqfm import scan, scanner
    from seqfm.alphabet import DNA, one_hot
    from seqfm.device import pick_device, set_threads
    from seqfm.io import Genome

    n_threads = set_threads(threads)
    tmp = Path(tempfile.mkdtemp(prefix="seqfm_bench_scan_"))
    (pt, js, tracks, what), (pt0, js0), model = _models(tmp)
    genome = GENOME
    if not genome.is_file():
        genome = tmp / "genome.fa"
        _random_genome(genome, {"chr1": 900_000, "chr2": 300_000})
        tracks, pt = [], None
    chrom = "chr1"
    g = Genome(genome)
    length = g.sizes[chrom]
    res = {"setup": {"model": what, "genome": str(genome.relative_to(ROOT) if genome.is_relative_to(ROOT)
                                                     else genome), "chrom": chrom, "bases": length,
                     "filters": int(model.conv1.weight.shape[0]), "width": model.filter_width,
                     "threads": n_threads, "repeat": repeat, "fimo_p": fimo_p,
                     "tracks": tracks, "device": str(pick_device("auto"))}}

    # nulls, once per genome (not part of a shard's time)
    variants = [("seqfm_seq_only", pt0, js0, [])]
    if pt is not None:
        variants.insert(0, ("seqfm", pt, js, tracks))
    nulls = {}
    for key, p, j, tr in variants:
        t0 = time.perf_counter()
        scan.make_null(p, j, genome, tmp / f"{key}_null.npz", conservation=tr, threads=threads)
        nulls[key] = tmp / f"{key}_null.npz"
        res[f"{key}_null_seconds"] = time.perf_counter() - t0

    # FIMO's input: the one-hot sequence (N -> zero columns)
    seq = g.fetch(chrom, 0, length)
    chrom_fa = tmp / f"{chrom}.fa"
    chrom_fa.write_text(f">{chrom}\n" + "\n".join(seq[i:i + 60] for i in range(0, length, 60)) + "\n")
    codes = DNA.encode(seq.upper())
    x = one_hot(codes[None], DNA, "zeros").numpy().astype(np.float32)
    pwms = _pwms(model)
    fimo(pwms, x[:, :, :5000], threshold=fimo_p)  # compile
    for key, p, j, tr in variants:
        _scan_once(p, j, genome, chrom, tr, nulls[key], tmp / f"{key}_warm", threads, False)
    times = {f"{k}{suffix}": [] for k, *_ in variants for suffix in ("", "_shard", "_in_memory")}
    times["fimo"] = []
    times["fimo_fasta"] = []
    calls = {}
    # the PyTorch peer on the first variant's model (the trained one with its tracks)
    peer_key, peer_pt, peer_js, peer_tracks = variants[0]
    cfg = scanner.ScanConfig()
    device = str(pick_device("auto"))

    def peer(out):
        return _torch_peer(peer_pt, peer_js, genome, chrom, peer_tracks, out, cfg.tile,
                           cfg.batch_size, cfg.bin, device)

    peer(tmp / "peer_warm.bw")
    times["torch_peer"] = []
    for r in range(repeat):
        for key, p, j, tr in variants:
            out = _scan_once(p, j, genome, chrom, tr, nulls[key], tmp / f"{key}_{r}", threads, False)
            times[key].append(out["seconds"])
            times[f"{key}_in_memory"].append(out["in_memory"])
            calls[key] = calls[f"{key}_in_memory"] = out["n_calls"]
            out = _scan_once(p, j, genome, chrom, tr, nulls[key], tmp / f"{key}_s{r}", threads, True)
            times[f"{key}_shard"].append(out["seconds"])
            calls[f"{key}_shard"] = None  # a shard leaves the calls to the merge
        t0 = time.perf_counter()
        hits = fimo(pwms, x, threshold=fimo_p)
        times["fimo"].append(time.perf_counter() - t0)
        calls["fimo"] = int(sum(len(h) for h in hits))
        t0 = time.perf_counter()
        hits = fimo(pwms, str(chrom_fa), threshold=fimo_p)
        pd.concat(hits).to_csv(tmp / "fimo.tsv", sep="\t", index=False)
        times["fimo_fasta"].append(time.perf_counter() - t0)
        calls["fimo_fasta"] = int(sum(len(h) for h in hits))
        times["torch_peer"].append(peer(tmp / f"peer_{r}.bw")["seconds"])
        calls["torch_peer"] = None
    res["torch_peer_model"] = peer_key
    res["torch_peer_agreement"] = _compare_tracks(tmp / "peer_0.bw", tmp / f"{peer_key}_0" / "cam.bw",
                                                  chrom, cfg.bin)
    # the compiled kernel alone, on the sequence in memory: every filter on both strands, the
    # CAM, window maxima and test counts, nothing returned (thresholds +inf, no tracks)
    for key, p, j, tr in variants:
        m, info = scan.load_model(p, j)
        sc = scanner.Scanner(m, info, scanner.ScanConfig())
        gsrc = scanner.GenomeSource(g, chrom, sc.alphabet, scan.open_tracks(tr))
        arr = scanner.ArraySource(chrom, gsrc.read(0, length), gsrc.tracks(0, length))
        never = np.full(sc.n_filters + 1, np.inf, np.float32)
        for r in range(repeat + 1):
            t0 = time.perf_counter()
            for _ in sc.scan(arr, never, want_tracks=False):
                pass
            if r:  # the first run warms up
                times.setdefault(f"{key}_kernel", []).append(time.perf_counter() - t0)
        calls[f"{key}_kernel"] = 0
    for key, ts in times.items():
        med, spread = _median(ts)
        res[key] = {"bases_per_s": length / med, "seconds": med, "spread_s": spread,
                    "calls": calls[key]}
    for key, *_ in variants:
        for k in (key, f"{key}_shard", f"{key}_in_memory", f"{key}_kernel"):
            res[f"ratio_{k}_vs_fimo"] = res[k]["bases_per_s"] / res["fimo"]["bases_per_s"]
        res[f"ratio_{key}_vs_fimo_fasta"] = res[key]["bases_per_s"] / res["fimo_fasta"]["bases_per_s"]
    res["ratio_vs_torch_peer"] = res[peer_key]["bases_per_s"] / res["torch_peer"]["bases_per_s"]

    # memory for two chromosome lengths 10x apart (sequence-only model, a null made once)
    mem = {}
    null_small = None
    for n in (short, 10 * short):
        fa = tmp / f"mem_{n}.fa"
        _random_genome(fa, {"chr1": n}, seed=n)
        if null_small is None:
            null_small = tmp / "mem_null.npz"
            scan.make_null(pt0, js0, fa, null_small, threads=threads)
        cmd = [sys.executable, "-m", "seqfm", "scan", "--model", str(pt0), "--model-json", str(js0),
               "--genome", str(fa), "--chrom", "chr1", "--null", str(null_small),
               "--out", str(tmp / f"mem_out_{n}"), "--threads", str(n_threads), "--no-progress", "-q",
               "--shard"]  # as the workflow's shards (zoom levels: in the merged file)
        rss, secs = _peak_rss_mb(cmd)
        mem[str(n)] = {"peak_rss_mb": rss, "seconds": secs}
    res["memory"] = mem
    a, b = mem[str(short)]["peak_rss_mb"], mem[str(10 * short)]["peak_rss_mb"]
    res["memory_ratio_10x"] = b / a
    res["targets"] = {"throughput_vs_fimo": 1.0, "memory_ratio_10x_max": 1.2, "vs_torch_peer": 3.0}
    return res


def report(res: dict) -> str:
    s = res["setup"]
    lines = [f"scanning {s['genome']} {s['chrom']} ({s['bases'] / 1e6:.2f} Mb), {s['filters']} filters "
             f"of width {s['width']}, {s['threads']} threads on {s['device']}; median of {s['repeat']} "
             f"(spread max - min)",
             f"  model: {s['model']}"]
    for key, label in (("seqfm", "seqfm scan, seq + conservation"),
                       ("seqfm_shard", "  the same, a workflow shard"),
                       ("seqfm_in_memory", "  the same, calls in memory"),
                       ("seqfm_kernel", "  its compiled kernel alone"),
                       ("seqfm_seq_only", "seqfm scan, sequence only"),
                       ("seqfm_seq_only_shard", "  the same, a workflow shard"),
                       ("seqfm_seq_only_in_memory", "  the same, calls in memory"),
                       ("seqfm_seq_only_kernel", "  its compiled kernel alone"),
                       ("fimo", f"memelite FIMO, {s['filters']} PWMs"),
                       ("fimo_fasta", "  the same, FASTA to TSV"),
                       ("torch_peer", "PyTorch peer (tangermeme), CAM")):
        r = res.get(key)
        if r:
            what = ("nothing returned" if key.endswith("_kernel") else "the CAM bigWig only, no calls"
                    if key == "torch_peer" else "candidates, calls left to "
                    "the merge" if r["calls"] is None else f"{r['calls']} calls")
            lines.append(f"  {label:34s} {r['bases_per_s'] / 1e6:7.3f} Mb/s  {r['seconds']:6.2f} s "
                         f"(±{r['spread_s']:.2f})  {what}")
    for key, label in (("seqfm", "seq + conservation"), ("seqfm_seq_only", "sequence only")):
        if f"ratio_{key}_vs_fimo" in res:
            lines.append(f"  seqfm ({label}) / FIMO bases per s (target >= 1x): file to file "
                         f"{res[f'ratio_{key}_vs_fimo_fasta']:.2f}x against FIMO from the FASTA to its "
                         f"TSV, {res[f'ratio_{key}_vs_fimo']:.2f}x against FIMO in memory; a shard "
                         f"{res[f'ratio_{key}_shard_vs_fimo']:.2f}x, calls in memory "
                         f"{res[f'ratio_{key}_in_memory_vs_fimo']:.2f}x, the kernel alone "
                         f"{res[f'ratio_{key}_kernel_vs_fimo']:.2f}x (all three against FIMO in memory); "
                         f"null built once in {res[f'{key}_null_seconds']:.1f} s")
    if "ratio_vs_torch_peer" in res:
        a = res["torch_peer_agreement"]
        which = "seq + conservation" if res["torch_peer_model"] == "seqfm" else "sequence only"
        lines.append(f"  seqfm ({which}) file to file / the PyTorch peer, bases per s (target >= "
                     f"{res['targets']['vs_torch_peer']:g}x): {res['ratio_vs_torch_peer']:.2f}x; the peer's "
                     f"CAM bigWig against seqfm's cam.bw: r = {a['r']:.6f}, largest difference "
                     f"{a['max_abs_diff']:.2g} (values up to {a['scale']:.3g}) over {a['bins']} bins, "
                     f"{a['only_one']} bins with a value in one file only")
    lines.append("  (file to file: BED, GFF3, candidates and the CAM bigWig with zoom levels; a shard: "
                 "candidates with p-values and the bigWig without zoom levels; calls in memory: tiles, both strands, "
                 "peaks, p- and q-values, merged calls and the CAM bigWig; the kernel alone: every "
                 "filter on both strands, the CAM, window maxima and test counts of the sequence in "
                 "memory, nothing returned)")
    lines.append("  peak memory of `seqfm scan` on one chromosome (RSS of the process):")
    for n, m in res["memory"].items():
        lines.append(f"    {int(n) / 1e6:6.1f} Mb: {m['peak_rss_mb']:7.0f} MiB  ({m['seconds']:.0f} s)")
    lines.append(f"  10x the length / 1x: {res['memory_ratio_10x']:.2f} (target: independent of length, "
                 f"<= {res['targets']['memory_ratio_10x_max']})")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--short", type=int, default=1_000_000, help="shorter chromosome of the memory test")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--model-dir", default=None, help="trained model folder (default results/dna_example)")
    ap.add_argument("--example", default=None,
                    help="the example's folder: genome.fa, conservation.bw (default resources/example)")
    a = ap.parse_args()
    if a.model_dir:
        MODEL_DIR = Path(a.model_dir).resolve()
    if a.example:
        GENOME = Path(a.example).resolve() / "genome.fa"
        TRACK = Path(a.example).resolve() / "conservation.bw"
    print(report(run(a.repeat, a.short, a.threads)))
