"""Where seqfm keeps what it computes once per machine: compiled numba kernels, JASPAR copies.

Every ``seqfm`` command points numba's disk cache here first (:func:`use_numba_cache`); this
module imports nothing heavy, so the command line can do that without loading the library.
"""

from __future__ import annotations

import os
import sys


def cache_dir(kind: str) -> str:
    """``$XDG_CACHE_HOME/seqfm/<kind>`` (``~/.cache/seqfm/<kind>``): what seqfm keeps between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "seqfm", kind)


def numba_cache_dir() -> str:
    """Where compiled numba kernels (memelite's TomTom, seqfm's) are kept between runs.

    ``NUMBA_CACHE_DIR`` when set, otherwise ``$XDG_CACHE_HOME/seqfm/numba``
    (``~/.cache/seqfm/numba``). memelite's kernels are ``cache=True``: with a persistent
    directory TomTom compiles once per machine (about a minute; ``seqfm warm-up``) and loads in
    about a second after. Every ``seqfm`` command points numba here.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    return cache_dir("numba")


def use_numba_cache() -> str:
    """Point numba's cache at :func:`numba_cache_dir` (also when numba is already imported)."""
    path = numba_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return path  # numba falls back to its own locations
    os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in sys.modules:
        # only once numba is loaded: importing it costs ~0.3 s
        from numba.core import config

        config.CACHE_DIR = path
    return path
