"""seqfm: which motifs did a sequence model learn, and where are the binding sites?

The notebook API (:mod:`seqfm.api`) is available at the top level: ``seqfm.load_model``,
``seqfm.encode``, ``seqfm.predict``, ``seqfm.feature_maps``, ``seqfm.cam``,
``seqfm.call_sites``, ``seqfm.filter_pwms``, ``seqfm.annotate_pwms``, ``seqfm.scan_sequence``
and ``seqfm.Attribution``. They are imported on first use, so ``import seqfm`` stays cheap
(it does not import torch).
"""

__version__ = "0.1.0"

_API = ("load_model", "encode", "predict", "feature_maps", "cam", "call_sites", "filter_pwms",
        "annotate_pwms", "scan_sequence", "Attribution")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from .numba_cache import use_numba_cache

        use_numba_cache()  # before any kernel's module is imported, as every command does
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'seqfm' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
