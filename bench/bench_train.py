"""Training throughput: seqfm's training loop against a plain PyTorch reference.

Both train the same architecture (seqfm.model.SeqCNN, same initial weights) with the same
optimizer (AdamW + the same LR schedule + gradient clipping) and the same weighted BCE loss,
on the same N random DNA sequences of length L (planted motif in the positives), with the
same batch size. They differ in the data path only:

  seqfm      uint8 codes (1 byte/base) held on the device; each batch gathered by index
             and one-hot encoded on the device (seqfm.alphabet.one_hot); loss summed on
             the device and read once per epoch  (seqfm.train.train_epoch)
  reference  float32 one-hot tensors (16 bytes/base) in a torch.utils.data.TensorDataset,
             a standard DataLoader(shuffle=True), loss.item() every step

The two take turns every few batches (``chunk``; which one goes first alternates too) so
that a busy machine slows both alike; the first epoch of each is a warm-up and not counted.
Reported: sequences/s (median over the timed epochs) and the ratio seqfm / reference.
Also reported: the data path alone (batches made, no model) for both.

Run:  python bench/bench_train.py [--n 4096] [--length 200] [--batch-size 128] [--rounds 3]
Import:  from bench_train import run, report;  res = run()
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def _data(n: int, length: int, tracks: int, seed: int):
    from seqfm.alphabet import DNA

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    labels = (rng.random(n) < 0.3).astype(np.uint8)
    motif = DNA.encode("TGACGTCAGC")
    for i in np.flatnonzero(labels):
        p = rng.integers(0, length - len(motif) + 1)
        codes[i, p:p + len(motif)] = motif
    tr = rng.random((n, tracks, length)).astype(np.float16)
    return codes, tr, labels


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(n: int = 4096, length: int = 200, batch_size: int = 128, rounds: int = 3,
        tracks: int = 0, threads: int = 0, device: str = "cpu", seed: int = 0,
        arch: dict | None = None, chunk: int = 4) -> dict:
    """Measure both loops; returns a dict with ``seqfm``, ``reference`` (sequences/s) and ``ratio``."""
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from seqfm import train
    from seqfm.alphabet import DNA, one_hot
    from seqfm.batching import BatchSource
    from seqfm.device import pick_device, set_threads
    from seqfm.model import SeqCNN

    n_threads = set_threads(threads)
    dev = pick_device(device)
    codes, tr, labels = _data(n, length, tracks, seed)
    arch = {"n_tracks": tracks, **(arch or {})}
    steps = -(-n // batch_size) * (rounds + 1)
    pos_weight = torch.tensor(float((labels == 0).sum() / labels.sum()), device=dev)

    def make():
        torch.manual_seed(seed)
        net = SeqCNN(arch).to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=5e-3, weight_decay=1e-2)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, train.lr_lambda(steps, steps // (rounds + 1)))
        return net, opt, sched

    # seqfm: uint8 codes on the device, one-hot made per batch there
    net_s, opt_s, sched_s = make()
    source = BatchSource(codes, tr, labels, dev, DNA, "uniform")
    index = np.arange(n)

    def seqfm_chunk(rows):
        loss_sum = train.train_epoch(net_s, source, rows, batch_size, opt_s, sched_s, pos_weight,
                                     grad_clip=1.0)
        return float(loss_sum) / len(rows)  # the one read-back per call

    # reference: float32 one-hot TensorDataset + standard DataLoader
    net_r, opt_r, sched_r = make()
    x_all = one_hot(codes, DNA, "uniform").clone()
    if tracks:
        x_all = torch.cat([x_all, torch.from_numpy(tr.astype(np.float32))], 1)
    ds = TensorDataset(x_all, torch.from_numpy(labels.astype(np.float32)))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed),
                        pin_memory=dev.type == "cuda")

    def reference_chunk(batches):
        net_r.train()
        total, seen = 0.0, 0
        for xb, yb in batches:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = F.binary_cross_entropy_with_logits(net_r(xb), yb, pos_weight=pos_weight)
            opt_r.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net_r.parameters(), 1.0)
            opt_r.step()
            sched_r.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        return total / max(seen, 1)

    # Both walk through rounds + 1 epochs in chunks of `chunk` batches, taking turns chunk by
    # chunk (who goes first alternates), so that load from elsewhere hits both alike.
    # Epoch 0 is a warm-up and is not timed.
    times = {"seqfm": [], "reference": []}
    losses = {"seqfm": [], "reference": []}
    per = chunk * batch_size
    for r in range(rounds + 1):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + r)).numpy()
        ref_iter = iter(loader)
        spent = {"seqfm": 0.0, "reference": 0.0}
        for c, lo in enumerate(range(0, n, per)):
            rows = perm[lo: lo + per]
            n_batches = -(-len(rows) // batch_size)
            order = ["seqfm", "reference"] if c % 2 == 0 else ["reference", "seqfm"]
            for name in order:
                _sync(dev)
                t0 = time.perf_counter()
                if name == "seqfm":
                    losses[name].append(seqfm_chunk(rows))
                else:
                    losses[name].append(reference_chunk(next(ref_iter) for _ in range(n_batches)))
                _sync(dev)
                spent[name] += time.perf_counter() - t0
        if r > 0:
            for name in spent:
                times[name].append(spent[name])

    # the data path alone: every batch of one epoch made, no model
    def data_only_seqfm():
        for x, y in source.iterate(index, batch_size, shuffle_seed=0):
            pass
        _sync(dev)

    def data_only_reference():
        for xb, yb in loader:
            xb.to(dev), yb.to(dev)
        _sync(dev)

    data = {}
    for name, fn in (("seqfm", data_only_seqfm), ("reference", data_only_reference)):
        fn()
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        data[name] = n / float(np.median(ts))

    res = {
        "seqfm": n / float(np.median(times["seqfm"])),
        "reference": n / float(np.median(times["reference"])),
        "seqfm_epochs_s": times["seqfm"],
        "reference_epochs_s": times["reference"],
        "final_loss": {k: v[-1] for k, v in losses.items()},
        "data_path_seqs_per_s": data,
        "setup": {"n": n, "length": length, "batch_size": batch_size, "rounds": rounds, "chunk": chunk,
                  "tracks": tracks, "threads": n_threads, "device": str(dev),
                  "architecture": net_s.arch},
    }
    res["ratio"] = res["seqfm"] / res["reference"]
    # what each keeps in memory for the whole training set
    res["dataset_bytes"] = {"seqfm": int(codes.nbytes + (tr.nbytes if tracks else 0) + labels.nbytes),
                            "reference": int(x_all.nbytes + n * 4)}
    res["data_path_ratio"] = data["seqfm"] / data["reference"]
    return res


def report(res: dict) -> str:
    s = res["setup"]
    a = s["architecture"]
    return "\n".join([
        f"training throughput, {s['n']} x {s['length']} bp DNA, {s['tracks']} track(s), batch "
        f"{s['batch_size']}, {s['device']} ({s['threads']} threads); SeqCNN {a['n_filters']}x"
        f"{a['filter_width']} filters, strand-aware {a['strand_aware']}, {a['dilated_layers']} "
        f"dilated layers; median of {s['rounds']} epochs, turns every {s['chunk']} batches",
        f"  seqfm train_epoch (uint8 codes, one-hot on device) {res['seqfm']:10.0f} seq/s",
        f"  plain PyTorch (float32 TensorDataset + DataLoader) {res['reference']:10.0f} seq/s",
        f"  ratio seqfm / reference: {res['ratio']:.2f}x (target >= 1.0x on CPU)",
        f"  data path alone: seqfm {res['data_path_seqs_per_s']['seqfm']:.0f} seq/s, DataLoader "
        f"{res['data_path_seqs_per_s']['reference']:.0f} seq/s ({res['data_path_ratio']:.1f}x)",
        f"  training set in memory: seqfm {res['dataset_bytes']['seqfm'] / 2**20:.1f} MiB, reference "
        f"{res['dataset_bytes']['reference'] / 2**20:.1f} MiB",
    ])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3, help="timed epochs of each (after one warm-up)")
    ap.add_argument("--chunk", type=int, default=4, help="batches per turn")
    ap.add_argument("--tracks", type=int, default=0, help="conservation tracks per sequence")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all available)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    ap.add_argument("--json", help="also write the result dict to this file")
    a = ap.parse_args()
    result = run(a.n, a.length, a.batch_size, a.rounds, a.tracks, a.threads, a.device, chunk=a.chunk)
    print(report(result))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
