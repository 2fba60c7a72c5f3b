"""Where the numbers are computed: CPU threads, the device (CUDA, MPS or CPU) and its precision.

Training, site calling, motif extraction and the genome scan all choose their device and
threads here, so ``device: auto`` and ``threads: 0`` mean the same in every verb.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

import torch

from .errors import InputError

log = logging.getLogger("seqfm")


def available_cpus() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(threads: int = 0) -> int:
    """Set torch's intra-op threads (0 = all available cores); returns the number set."""
    n = threads if threads and threads > 0 else available_cpus()
    torch.set_num_threads(n)
    return n


def pick_device(requested: str = "auto") -> torch.device:
    """The device to run a model on.

    Parameters
    ----------
    requested : str
        ``auto``: CUDA if available, then Apple MPS, then CPU. ``cuda`` / ``cuda:N`` / ``mps``
        fall back to CPU with a warning when that device is absent. ``cpu`` is CPU.

    Returns
    -------
    torch.device
    """
    req = (requested or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if has_mps:
            return torch.device("mps")
        return torch.device("cpu")
    if req == "cpu":
        return torch.device("cpu")
    if req.startswith("cuda"):
        try:
            dev = torch.device(req)
        except RuntimeError:
            raise InputError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps") from None
        if torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count()):
            return dev
        msg = f"device {requested!r} requested but CUDA is not available here; training on CPU"
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return torch.device("cpu")
    if req == "mps":
        if has_mps:
            return torch.device("mps")
        msg = "device 'mps' requested but MPS is not available here; training on CPU"
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return torch.device("cpu")
    raise InputError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """Mixed-precision context on CUDA (bf16 if supported, else fp16); a no-op elsewhere."""
    if device.type == "cuda" and enabled:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()
