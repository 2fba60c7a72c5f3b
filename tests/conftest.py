"""Shared fixtures: small seeded genomes, tracks and sequence files written to tmp folders."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqfm.numba_cache import use_numba_cache

use_numba_cache()  # where `seqfm warm-up` put the compiled kernels at set-up, as every command

ROOT = Path(__file__).resolve().parent.parent


def load_script(path):
    """A bench/ or scripts/ file (not a package module) imported by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("-", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def random_dna(rng, n, gc=0.41):
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(np.array(list("ACGT"))[rng.choice(4, size=n, p=p)])


@pytest.fixture
def small_genome(tmp_path):
    """A 3-chromosome genome (chr1 20 kb, chr2 15 kb, chr3 10 kb) and a bigWig whose value
    at position i of chrom c is  c_index * 1000 + i / 1000  (so every read can be checked)."""
    import pyBigWig

    rng = np.random.default_rng(7)
    sizes = {"chr1": 20000, "chr2": 15000, "chr3": 10000}
    seqs = {c: random_dna(rng, n) for c, n in sizes.items()}
    fa = tmp_path / "genome.fa"
    with open(fa, "w") as f:
        for c, s in seqs.items():
            f.write(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    bw_path = tmp_path / "cons.bw"
    bw = pyBigWig.open(str(bw_path), "w")
    bw.addHeader(list(sizes.items()))
    for k, (c, n) in enumerate(sizes.items(), start=1):
        vals = (k * 1000 + np.arange(n) / 1000).astype(np.float64)
        bw.addEntries(c, 0, values=vals, span=1, step=1)
    bw.close()
    return {"fasta": fa, "sizes": sizes, "seqs": seqs, "bigwig": bw_path}


def run_cli(*args, cwd=None):
    """Run `python -m seqfm ARGS` and return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "seqfm", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)
