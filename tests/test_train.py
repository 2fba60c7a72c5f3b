import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch

from seqfm import dataset, metrics, train
from seqfm import model as M
from seqfm.alphabet import DNA
from seqfm.batching import predict
from seqfm.errors import InputError

from conftest import run_cli

MOTIF = "TGACGTCAGC"


def planted(n=600, length=60, tracks=0, seed=0, motif=MOTIF):
    """Random ACGT background; positives carry ``motif`` (either strand) at a random place."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    labels = (rng.random(n) < 0.4).astype(np.uint8)
    m = DNA.encode(motif)
    m_rc = DNA.complement_codes()[m][::-1]
    for i in np.flatnonzero(labels):
        p = rng.integers(0, length - len(m) + 1)
        codes[i, p:p + len(m)] = m if rng.random() < 0.5 else m_rc
    u = rng.random(n)
    split = np.where(u < 0.7, "train", np.where(u < 0.85, "valid", "test"))
    meta = pd.DataFrame({"name": [f"seq{i}" for i in range(n)], "chrom": "", "start": 0,
                         "end": length, "strand": "+", "label": labels, "split": split})
    tr = rng.random((n, tracks, length)).astype(np.float16)
    return dataset.Dataset(codes, tr, labels, meta, {"alphabet": "dna", "policy": "uniform",
                                                     "tracks": [f"cons{i}" for i in range(tracks)]})


FAST = dict(batch_size=32, lr=1e-2, max_epochs=4, patience=10, threads=1, device="cpu")
SMALL = {"n_filters": 16, "filter_width": 11}


@pytest.fixture
def planted_dir(tmp_path):
    folder = tmp_path / "dataset"
    dataset.write(planted(tracks=1), folder)
    return folder


def test_planted_motif_is_learned_and_outputs_written(planted_dir, tmp_path):
    out = tmp_path / "results" / "s1"
    summary = train.run(planted_dir, out, train.TrainConfig(**FAST), SMALL, progress=False)
    assert summary["test"]["auroc"] >= 0.95, summary
    assert summary["test"]["auprc"] >= 0.9
    for name in ("model.pt", "model.json", "metrics.json", "train/epochs.csv", "train/last.pt",
                 "train/last.json", "train/roc.png", "train/pr.png", "train/curves.png"):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["test"] == summary["test"]
    assert set(on_disk) >= {"test", "valid", "baseline", "n", "epochs", "device"}
    assert on_disk["device"] == "cpu" and on_disk["baseline"]["k"] == 5
    assert sum(on_disk["n"].values()) == 600
    epochs = pd.read_csv(out / "train" / "epochs.csv")
    assert list(epochs["epoch"]) == list(range(1, summary["epochs"] + 1))
    assert (out / "train" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    # the files rebuild the model; it scores the test split as reported
    net, info = M.load(out / "model.pt", out / "model.json")
    assert info["channels"] == ["A", "C", "G", "T", "cons0"] and info["policy"] == "uniform"
    ds = dataset.read(planted_dir)
    test = ds.split_index("test")
    scores = predict(net, ds.codes[test], ds.tracks[test], ds.alphabet)
    assert metrics.auroc(ds.labels[test], scores) == pytest.approx(summary["test"]["auroc"], abs=1e-6)


def state_equal(a, b):
    assert a.keys() == b.keys()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    ds = planted(n=300, length=40, tracks=1, seed=5)
    cfg = train.TrainConfig(**{**FAST, "max_epochs": 4})
    arch = {**SMALL, "dropout": 0.3, "dilated_layers": 1, "dilated_channels": 8}
    whole = train.fit(ds, tmp_path / "whole", cfg, arch, progress=False)
    with pytest.raises(train.TrainingInterrupted):
        train.fit(ds, tmp_path / "split", cfg, arch, progress=False, stop_after=2)
    assert json.loads((tmp_path / "split" / "last.json").read_text())["epoch"] == 2
    resumed = train.fit(ds, tmp_path / "split", cfg, arch, progress=False)
    assert resumed.resumed_from == 2 and resumed.epochs == whole.epochs == 4
    assert state_equal(whole.model.state_dict(), resumed.model.state_dict())

    def untimed(history):
        return [{k: v for k, v in h.items() if k not in ("seconds", "seqs_per_s")} for h in history]

    assert untimed(whole.history) == untimed(resumed.history)
    # and the last-epoch weights (not only the best ones) agree
    last_a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["model"]
    last_b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)["model"]
    assert state_equal(last_a, last_b)
    # a different seed really gives other weights (the comparison can fail)
    other = train.fit(ds, tmp_path / "other", train.TrainConfig(**{**FAST, "max_epochs": 1, "seed": 9}),
                      arch, progress=False)
    assert not state_equal(whole.model.state_dict(), other.model.state_dict())


def test_sigterm_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    """A real SIGTERM lands in the middle of an epoch; the rerun resumes from the last whole epoch."""
    ds = planted(n=400, length=60, tracks=1, seed=8)
    cfg = train.TrainConfig(**{**FAST, "max_epochs": 5, "batch_size": 16})
    arch = {**SMALL, "dropout": 0.2}
    whole = train.fit(ds, tmp_path / "whole", cfg, arch, progress=False)

    state_file = tmp_path / "split" / "last.json"
    fired = []

    def killer():
        while not state_file.exists():
            time.sleep(0.002)
        fired.append(True)
        os.kill(os.getpid(), signal.SIGTERM)

    # a late signal must never reach the default handler (it would end pytest)
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        with pytest.raises(train.TrainingInterrupted):
            train.fit(ds, tmp_path / "split", cfg, arch, progress=False)
        thread.join(5)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert fired
    # the epoch the checkpoint itself holds (last.json, its readable copy, is written just after)
    done = json.loads(torch.load(tmp_path / "split" / "last.pt", weights_only=True)["state"])["epoch"]
    assert 1 <= done < 5
    resumed = train.fit(ds, tmp_path / "split", cfg, arch, progress=False)
    assert resumed.resumed_from == done
    assert state_equal(whole.model.state_dict(), resumed.model.state_dict())


def test_checkpoint_of_other_options_is_not_resumed(tmp_path):
    ds = planted(n=200, length=40, seed=6)
    cfg = train.TrainConfig(**{**FAST, "max_epochs": 3})
    with pytest.raises(train.TrainingInterrupted):
        train.fit(ds, tmp_path, cfg, SMALL, progress=False, stop_after=1)
    again = train.fit(ds, tmp_path, train.TrainConfig(**{**FAST, "max_epochs": 3, "lr": 5e-3}),
                      SMALL, progress=False)
    assert again.resumed_from == 0
    (tmp_path / "last.pt").write_bytes(b"garbage")
    fresh = train.fit(ds, tmp_path, cfg, SMALL, progress=False)
    assert fresh.resumed_from == 0 and fresh.epochs == 3




def test_training_refuses_one_class_split(tmp_path):
    ds = planted(n=100, length=30)
    ds.labels[ds.split_index("valid")] = 1
    with pytest.raises(InputError, match="valid split holds only positives"):
        train.fit(ds, tmp_path, train.TrainConfig(**FAST), SMALL, progress=False)


def test_cli_train_help_and_bad_input(tmp_path):
    res = run_cli("train", "--help")
    assert res.returncode == 0
    for opt in ("--filters", "--filter-width", "--strand-aware", "--dilated-layers", "--epochs",
                "--batch-size", "--lr", "--patience", "--device", "--threads", "--amp", "--seed",
                "--baseline-k", "--resume", "--out"):
        assert opt in res.stdout
    res = run_cli("train", "--dataset", tmp_path / "missing", "--out", tmp_path / "out")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "missing" in res.stderr
    assert "Traceback" not in res.stderr


def test_protein_dataset_trains_single_strand(tmp_path):
    from seqfm.alphabet import PROTEIN

    rng = np.random.default_rng(4)
    n, length = 300, 40
    codes = rng.integers(0, 20, (n, length)).astype(np.uint8)
    labels = (rng.random(n) < 0.5).astype(np.uint8)
    motif = PROTEIN.encode("WHWHCC")
    for i in np.flatnonzero(labels):
        p = rng.integers(0, length - len(motif) + 1)
        codes[i, p:p + len(motif)] = motif
    u = rng.random(n)
    meta = pd.DataFrame({"name": [f"p{i}" for i in range(n)], "chrom": "", "start": 0, "end": length,
                         "strand": "+", "label": labels,
                         "split": np.where(u < 0.7, "train", np.where(u < 0.85, "valid", "test"))})
    dataset.write(dataset.Dataset(codes, np.zeros((n, 0, length), np.float16), labels, meta,
                                  {"alphabet": "protein", "policy": "uniform", "tracks": []}),
                  tmp_path / "ds")
    summary = train.run(tmp_path / "ds", tmp_path / "out", train.TrainConfig(**FAST),
                        {**SMALL, "filter_width": 7}, progress=False, plots=False)
    assert summary["baseline"]["k"] == 2 and summary["test"]["auroc"] >= 0.9
    net, info = M.load(tmp_path / "out" / "model.pt", tmp_path / "out" / "model.json")
    assert info["alphabet"] == "protein" and not net.strand_aware and net.n_channels == 20
