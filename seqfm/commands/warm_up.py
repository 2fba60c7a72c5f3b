"""Compile seqfm's numba kernels and memelite's TomTom once, into numba's disk cache.

Their first use in a cold cache compiles them (TomTom alone about a minute). Run this once after
installing, and before a cluster run whose jobs share the cache (NUMBA_CACHE_DIR, default
~/.cache/seqfm/numba), so that no job pays it.
The environment set-up (scripts/setup-env.sh) runs it.
"""

from __future__ import annotations

import logging

from ..numba_cache import numba_cache_dir

HELP = "compile the numba kernels (TomTom, one-hot, scan) once, so that later runs start at once"
ORDER = 95


def add_arguments(parser) -> None:
    pass


def run(args) -> None:
    # the library loads for the verb that runs: `seqfm --help` stays fast
    from ..warmup import warm_up

    logging.getLogger("seqfm").info("all kernels ready in %.1f s (numba cache %s)", warm_up(),
                                    numba_cache_dir())
