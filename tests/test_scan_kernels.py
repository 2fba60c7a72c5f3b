"""The fused kernel's pieces against plain definitions: window maxima, the CAM's peaks."""

import numpy as np


def test_window_max_is_the_maximum_over_each_window():
    """The fused kernel's window maxima (van Herk / Gil-Werman blocks) equal the maximum over
    rows max(0, j - half) .. min(n - 1, j + half), windows cut by either end included."""
    from seqfm.scan_kernels import window_max, window_max_1

    rng = np.random.default_rng(1)
    for _ in range(300):
        n, half, nf = int(rng.integers(1, 80)), int(rng.integers(0, 12)), int(rng.integers(1, 5))
        v = rng.integers(0, 4, (n + 5, nf)).astype(np.float32)  # ties everywhere
        want = np.array([v[max(0, j - half):min(n - 1, j + half) + 1].max(0) for j in range(n)])
        out, g, h = np.full_like(v, -1), np.empty_like(v), np.empty_like(v)
        window_max(v, n, half, g, h, out)
        assert np.array_equal(out[:n], want), (n, half)
        one = np.ascontiguousarray(v[:, :1])  # the CAM's single column
        out, g, h = np.full_like(one, -1), np.empty_like(one), np.empty_like(one)
        window_max_1(one, n, half, g, h, out)
        assert np.array_equal(out[:n], want[:, :1]), (n, half)


def test_cam_peaks_decide_as_the_filter_peaks_do():
    """The CAM's scalar peak finder keeps the leftmost-tie rule, the owned and usable
    positions, the thresholds and the test counts of the filters' one (every value counts,
    not only positive ones)."""
    from seqfm.scan_kernels import cam_peaks, peaks, window_max

    rng = np.random.default_rng(2)
    for trial in range(200):
        rows, half = int(rng.integers(20, 200)), int(rng.integers(0, 9))
        cam = rng.integers(-3, 4, (rows, 1)).astype(np.float32)  # ties and negative values
        wm, g, h = np.empty_like(cam), np.empty_like(cam), np.empty_like(cam)
        window_max(cam, rows, half, g, h, wm)
        strand = rng.integers(0, 2, (rows, 1)).astype(np.int8)
        okw = rng.random(rows) < 0.9
        d0 = int(rng.integers(0, rows // 2))
        d1 = int(rng.integers(d0 + 1, rows + 1))
        lo, hi = int(rng.integers(0, rows)), int(rng.integers(0, rows + 3))
        thr = np.array([9.0, float(rng.integers(-3, 3))], np.float32)  # the CAM's is thr[1]
        runs = []
        for scalar in (False, True):
            out = [np.zeros(rows, np.int64), np.zeros(rows, np.int64), np.zeros(rows, np.float32),
                   np.zeros(rows, np.int8), np.zeros(1, np.int64), np.zeros(2, np.int64)]
            if scalar:
                cam_peaks(cam, wm, strand, 0, d0, d1, half, okw, lo, hi, thr[1], 1, *out)
            else:
                peaks(cam, wm, strand, 0, d0, d1, half, okw, lo, hi, thr, 1, False,
                      np.zeros((rows, 1), np.uint8), np.zeros(1, np.int32), np.zeros(1, np.uint8),
                      np.zeros(1, np.int32), np.zeros(1, np.uint8), *out)
            n = int(out[4][0])
            runs.append([o[:n] for o in out[:4]] + [out[5]])
        for a, b in zip(*runs):
            assert np.array_equal(a, b), trial
