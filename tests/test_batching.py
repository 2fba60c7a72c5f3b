"""Batches made on the device from uint8 codes and float16 tracks, and predictions over them."""

import numpy as np
import pytest
import torch

from seqfm.alphabet import DNA, one_hot
from seqfm.batching import BatchSource, batches, make_input, predict, predict_source
from seqfm.model import SeqCNN


def arrays(n=50, length=30, tracks=2, seed=3):
    """Random codes ``(n, length)`` (one N), float16 tracks ``(n, tracks, length)``, 0/1 labels."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    codes[0, 3] = DNA.symbols.index("N")
    return (codes, rng.random((n, tracks, length)).astype(np.float16),
            (rng.random(n) < 0.4).astype(np.uint8))


def test_make_input_puts_tracks_after_the_letters():
    codes, tracks, _ = arrays(n=4)
    x = make_input(torch.from_numpy(codes), torch.from_numpy(tracks), DNA, "uniform")
    assert x.dtype == torch.float32 and x.shape == (4, 6, 30)
    assert torch.equal(x[:, :4], one_hot(codes, DNA, "uniform"))
    assert torch.equal(x[:, 4:], torch.from_numpy(tracks.astype(np.float32)))
    bare = make_input(torch.from_numpy(codes), torch.from_numpy(tracks[:, :0]), DNA, "uniform")
    assert torch.equal(bare, x[:, :4]) and torch.equal(make_input(torch.from_numpy(codes), None, DNA,
                                                                  "uniform"), bare)


def test_batches_make_one_hot_and_tracks_on_device():
    codes, tracks, labels = arrays()
    seen = {}
    for resident in (True, False):
        src = BatchSource(codes, tracks, labels, torch.device("cpu"), DNA, "uniform", resident=resident)
        assert src.resident is resident
        got = list(src.iterate(np.arange(50), 16, shuffle_seed=11))
        assert [len(y) for _, y in got] == [16, 16, 16, 2]
        seen[resident] = got
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(11)).numpy()
    x = torch.cat([x for x, _ in seen[True]])
    y = torch.cat([y for _, y in seen[True]])
    expect = torch.cat([one_hot(codes[perm], DNA, "uniform"),
                        torch.from_numpy(tracks[perm].astype(np.float32))], 1)
    assert x.dtype == torch.float32 and x.shape == (50, 6, 30)
    assert torch.equal(x, expect) and torch.equal(y, torch.from_numpy(labels[perm].astype(np.float32)))
    # streamed batches equal resident ones, batch by batch
    for (xr, yr), (xs, ys) in zip(seen[True], seen[False]):
        assert torch.equal(xr, xs) and torch.equal(yr, ys)
    assert x[perm.tolist().index(0), :4, 3].tolist() == [0.25] * 4


def test_resident_is_chosen_by_size():
    codes, tracks, labels = arrays()
    small = BatchSource(codes, tracks, labels, torch.device("cpu"), DNA, "uniform")
    tiny = BatchSource(codes, tracks, labels, torch.device("cpu"), DNA, "uniform",
                       resident_max_mb=codes.nbytes / 2**20)
    assert small.resident and not tiny.resident


def test_batches_without_tracks_and_in_order():
    codes, _, labels = arrays(n=20)
    got = list(batches(codes, None, labels, 8, "cpu", DNA))
    assert [x.shape for x, _ in got] == [(8, 4, 30), (8, 4, 30), (4, 4, 30)]
    assert torch.equal(torch.cat([x for x, _ in got]), one_hot(codes, DNA, "uniform"))


def test_streaming_passes_on_a_reader_failure():
    codes, tracks, labels = arrays()

    class Broken(np.ndarray):
        def __getitem__(self, item):
            raise OSError("disk gone")

    src = BatchSource(codes.view(Broken), tracks, labels, torch.device("cpu"), DNA, "uniform",
                      resident=False)
    with pytest.raises(OSError, match="disk gone"):
        list(src.iterate(np.arange(50), 16))


def test_predict_equals_a_direct_forward():
    codes, tracks, labels = arrays(n=40, length=50, tracks=1)
    torch.manual_seed(0)
    model = SeqCNN({"n_filters": 8, "filter_width": 7, "n_tracks": 1}).eval()
    with torch.inference_mode():
        direct = model(make_input(torch.from_numpy(codes), torch.from_numpy(tracks), DNA,
                                  "uniform")).numpy()
    got = predict(model, codes, tracks, DNA, batch_size=16)
    assert got.shape == (40,) and got.dtype == np.float32
    np.testing.assert_allclose(got, direct, rtol=1e-5, atol=1e-6)
    src = BatchSource(codes, tracks, labels, torch.device("cpu"), DNA, "uniform", resident=False)
    rows = np.array([5, 1, 30])
    np.testing.assert_allclose(predict_source(model, src, rows, 2), direct[rows], rtol=1e-5, atol=1e-6)
    assert predict_source(model, src, rows[:0]).shape == (0,)
