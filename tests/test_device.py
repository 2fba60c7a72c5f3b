"""Device and thread choice: CPU on request, fallback to CPU with a warning, threads set."""

import contextlib

import pytest
import torch

from seqfm.device import autocast, available_cpus, pick_device, set_threads
from seqfm.errors import InputError


def test_device_choice_falls_back_to_cpu(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("") == torch.device("cpu")
    for req in ("cuda", "cuda:1", "mps"):
        with pytest.warns(RuntimeWarning, match="training on CPU"):
            assert pick_device(req) == torch.device("cpu")
    for bad in ("tpu", "cuda:x"):
        with pytest.raises(InputError, match="unknown device"):
            pick_device(bad)


def test_set_threads_sets_torch_and_zero_means_every_core():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert set_threads(0) == available_cpus() == torch.get_num_threads()
        assert set_threads(-3) == available_cpus()
    finally:
        torch.set_num_threads(before)
    assert available_cpus() >= 1


def test_autocast_is_a_no_op_off_cuda():
    x = torch.ones(2, 3)
    for enabled in (True, False):
        ctx = autocast(torch.device("cpu"), enabled)
        assert isinstance(ctx, contextlib.nullcontext)
        with ctx:
            assert (x @ x.T).dtype == torch.float32
