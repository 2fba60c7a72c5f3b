"""Encoding throughput: seqfm against tangermeme's one_hot_encode, and the memory-write ceiling.

Measures, in bases per second, on N random sequences of length L (same data for all):
  - strings -> uint8 codes            (seqfm.alphabet.Alphabet.encode_batch)
  - codes -> float32 one-hot batch    (seqfm.alphabet.one_hot into a reused buffer)
  - strings -> float32 one-hot        (seqfm.alphabet.strings_to_one_hot into a reused buffer)
  - strings -> float32 one-hot        (tangermeme.utils.one_hot_encode, one call per sequence)
  - the ceiling: filling a float32 buffer of the same bytes (16 bytes per base)

Run:  python bench/bench_encode.py [--n 100000] [--length 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def best_of(fn, repeat: int = 5) -> tuple[float, float]:
    """Median and spread (max - min) of ``repeat`` timed calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(max(times) - min(times))


def run(n: int = 100_000, length: int = 1000, n_peer: int = 10_000, repeat: int = 5) -> dict:
    from seqfm.alphabet import DNA, one_hot, strings_to_one_hot

    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size=(n, length))]
    seqs = [row.tobytes().decode() for row in letters]
    bases = n * length
    buf = torch.empty((n, 4, length), dtype=torch.float32)
    codes = DNA.encode_batch(seqs)
    strings_to_one_hot(seqs[:2])  # compile (or load the cached kernel) outside the timing
    res = {}
    for key, fn, nb in [
        ("strings_to_codes", lambda: DNA.encode_batch(seqs), bases),
        ("codes_to_onehot", lambda: one_hot(codes, out=buf), bases),
        ("strings_to_onehot", lambda: strings_to_one_hot(seqs, out=buf), bases),
        ("memory_write_ceiling", lambda: buf.fill_(1.0), bases),
    ]:
        med, spread = best_of(fn, repeat)
        res[key] = {"bases_per_s": nb / med, "seconds": med, "spread_s": spread}
    try:
        from tangermeme.utils import one_hot_encode
    except ImportError:
        res["tangermeme"] = None
    else:
        peer = seqs[:n_peer]
        med, spread = best_of(lambda: torch.stack([one_hot_encode(s) for s in peer]).float(), max(1, repeat // 2))
        res["tangermeme"] = {"bases_per_s": n_peer * length / med, "seconds": med, "spread_s": spread}
    ours = res["strings_to_onehot"]["bases_per_s"]
    if res["tangermeme"]:
        res["ratio_vs_tangermeme"] = ours / res["tangermeme"]["bases_per_s"]
    res["fraction_of_memory_ceiling"] = ours / res["memory_write_ceiling"]["bases_per_s"]
    res["setup"] = {"n": n, "length": length, "n_peer": n_peer, "threads": torch.get_num_threads()}
    return res


def report(res: dict) -> str:
    lines = [f"encoding, {res['setup']['n']} x {res['setup']['length']} bp random DNA "
             f"({res['setup']['threads']} threads); median of repeats"]
    for key in ("strings_to_codes", "codes_to_onehot", "strings_to_onehot", "tangermeme", "memory_write_ceiling"):
        r = res.get(key)
        if r:
            lines.append(f"  {key:22s} {r['bases_per_s'] / 1e6:10.1f} Mb/s  (±{r['spread_s'] * 1e3:.0f} ms)")
    if "ratio_vs_tangermeme" in res:
        lines.append(f"  strings -> one-hot vs tangermeme one_hot_encode: {res['ratio_vs_tangermeme']:.1f}x (target >= 20x)")
    lines.append(f"  strings -> one-hot as a fraction of the memory-write ceiling: "
                 f"{res['fraction_of_memory_ceiling']:.2f} (target >= 0.5)")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--n-peer", type=int, default=10_000, help="sequences given to tangermeme (it is slow)")
    a = ap.parse_args()
    print(report(run(a.n, a.length, a.n_peer)))
