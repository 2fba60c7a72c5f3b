"""`seqfm warm-up` compiles what later commands run: a scan and TomTom in new processes then
load every kernel from numba's cache and compile nothing."""

import os
import subprocess
import sys

import pytest
import torch

from seqfm.model import SeqCNN, save


def _run(args, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_warm_up_leaves_nothing_to_compile(tmp_path, small_genome):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))  # cold: compiles everything
    r = _run(["-m", "seqfm", "warm-up"], env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cache").is_dir()

    # another model of the default filter width, with a track: the same compiled kernels
    torch.manual_seed(3)
    pt, js = save(SeqCNN({"n_filters": 5, "n_tracks": 1}).eval(), tmp_path / "m")
    env["NUMBA_DEBUG_CACHE"] = "1"
    r = _run(["-m", "seqfm", "scan", "--model", pt, "--model-json", js, "--genome",
              small_genome["fasta"], "--conservation", small_genome["bigwig"], "--tile", "3000",
              "--null-bases", "20000", "--null-window", "2000", "--out", tmp_path / "scan"], env)
    assert r.returncode == 0, r.stderr
    assert "data loaded from" in r.stdout + r.stderr
    assert "data saved to" not in r.stdout + r.stderr

    code = ("import numpy as np; from seqfm import jaspar, tomtom; rng = np.random.default_rng(1); "
            "db = jaspar.load_jaspar(); "
            "print(tomtom.tomtom_best([rng.dirichlet(np.ones(4), size=9)], db)['p'])")
    r = _run(["-c", code], env)
    assert r.returncode == 0, r.stderr
    assert "data saved to" not in r.stdout + r.stderr
