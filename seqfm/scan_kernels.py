"""Compiled (numba, disk-cached) loops of :mod:`seqfm.scan`.

Module-level functions, so that numba's cache finds them again in a new process (a shard job
then starts scanning at once instead of compiling for seconds).

``kernel`` scans a batch of tiles in one pass per tile.

For models without dilated layers the whole scan of a tile is one loop over chunks of
:data:`seqfm.scan.FUSED_CHUNK` positions: every filter on both strands from per-column look-up tables
(the one-hot column of each code times the filter's weights, so ambiguity codes are exact),
the ReLU and strand maximum, the CAM (head weights times the strand maximum),
non-maximum suppression with the leftmost-tie rule of :func:`seqfm.featuremaps.nms_mask`
(window maxima by the van Herk / Gil-Werman algorithm over the chunk and a halo of half
the window on each side), the test counts and the candidates above the null thresholds,
and the owned track values. Nothing of size (filters x tile length) is made.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath=True)
def window_max(v, n, half, g, s, out):  # pragma: no cover - compiled
    """out[j] = max of v[max(0, j - half) .. min(n - 1, j + half)] for each column, rows
    0 .. n - 1 (van Herk / Gil-Werman: prefix maxima g and suffix maxima s in blocks)."""
    nf = v.shape[1]
    k = 2 * half + 1
    for j in range(n):
        if j % k == 0:
            for f in range(nf):
                g[j, f] = v[j, f]
        else:
            for f in range(nf):
                g[j, f] = max(g[j - 1, f], v[j, f])
    for j in range(n - 1, -1, -1):
        if (j + 1) % k == 0 or j == n - 1:
            for f in range(nf):
                s[j, f] = v[j, f]
        else:
            for f in range(nf):
                s[j, f] = max(s[j + 1, f], v[j, f])
    for j in range(n):
        a = max(0, j - half)
        b = min(n - 1, j + half)
        if a // k != b // k:
            for f in range(nf):
                out[j, f] = max(s[a, f], g[b, f])
        elif b == n - 1 or (b + 1) % k == 0:
            for f in range(nf):
                out[j, f] = s[a, f]
        else:
            for f in range(nf):
                out[j, f] = g[b, f]

@numba.njit(cache=True, nogil=True, fastmath=True)
def peaks(v, wmax, strand, a0, d0, d1, half, okw, lo, hi, thr, det0, positive, last0,
          flag, c_pos, c_det, c_val, c_str, n_c, tests):  # pragma: no cover - compiled
    """Decide positions d0 .. d1 - 1 (rows d - a0 of v, window maxima in wmax): a local
    maximum with no local maximum within half to its left (``last0``: each column's last
    one, carried from chunk to chunk) is a test at usable owned positions, and a candidate
    when >= thr (and > 0 when ``positive``)."""
    nf = v.shape[1]
    notpos = not positive
    for j in range(d0, d1):
        r = j - a0
        owned = (j >= lo) & (j < hi) & okw[j]
        anyc = False
        # bitwise operators only: no branches, so the loop over filters vectorizes
        for f in range(nf):
            x = v[r, f]
            k0 = x == wmax[r, f]
            kept = k0 & ((j - last0[f]) > half) & owned
            last0[f] = j if k0 else last0[f]
            tests[det0 + f] += kept
            c = kept & (x >= thr[det0 + f]) & ((x > 0.0) | notpos)
            flag[f] = c
            anyc |= c
        if anyc:
            for f in range(nf):
                if flag[f]:
                    m = n_c[0]
                    if m < c_pos.shape[0]:
                        c_pos[m] = j
                        c_det[m] = det0 + f
                        c_val[m] = v[r, f]
                        c_str[m] = strand[r, f]
                    n_c[0] = m + 1

@numba.njit(cache=True, nogil=True, fastmath=True)
def conv(codes_b, tracks_b, idx, plain, E, T3, Wt, bias, head, width, a0, a1, acc,
         v, st, cam, cst):  # pragma: no cover - compiled
    """Filter values (strand maximum after ReLU), their strand, the CAM and its strand for
    window starts a0 .. a1 - 1, into rows 0 .. a1 - a0."""
    n_tr = tracks_b.shape[0]
    f2 = E.shape[2]
    nf = f2 // 2
    n3 = T3.shape[0]
    blk = acc.shape[0]
    for j0 in range(a0, a1, blk):
        j1 = min(a1, j0 + blk)
        for j in range(j0, j1):
            for f in range(f2):
                acc[j - j0, f] = bias[f]
        if plain:
            for m in range(n3):
                for j in range(j0, j1):
                    r = idx[j + 3 * m]
                    for f in range(f2):
                        acc[j - j0, f] += T3[m, r, f]
        else:
            for k in range(width):
                for j in range(j0, j1):
                    r = codes_b[j + k]
                    for f in range(f2):
                        acc[j - j0, f] += E[k, r, f]
        for t in range(n_tr):
            for k in range(width):
                for j in range(j0, j1):
                    x = tracks_b[t, j + k]
                    for f in range(f2):
                        acc[j - j0, f] += x * Wt[t, k, f]
        for j in range(j0, j1):
            r = j - a0
            cs = np.float32(0.0)
            cf = np.float32(0.0)
            cr = np.float32(0.0)
            for f in range(nf):
                a = max(acc[j - j0, f], np.float32(0.0))
                r2 = max(acc[j - j0, nf + f], np.float32(0.0))
                m = max(a, r2)
                v[r, f] = m
                st[r, f] = 1 if r2 > a else 0
                cs += head[f] * m
                cf += head[f] * a
                cr += head[f] * r2
            cam[r, 0] = cs
            cst[r, 0] = 1 if cr > cf else 0

@numba.njit(cache=True, nogil=True, fastmath=True)
def kernel(codes, tracks, E, T3, Wt, bias, head, unknown, width, half, own_lo, own_hi, thr,
           want_cam, trk_sel, trk_j0, n_own, trk_out, chunk,
           c_pos, c_det, c_val, c_str, n_c, tests):  # pragma: no cover - compiled
    nb, lin = codes.shape
    f2 = E.shape[2]
    nf = f2 // 2
    l1 = lin - width + 1
    n3 = T3.shape[0]
    rows = min(l1, chunk + 2 * half)
    acc = np.empty((32, f2), np.float32)
    v = np.empty((rows, nf), np.float32)
    st = np.empty((rows, nf), np.int8)
    wm = np.empty((rows, nf), np.float32)
    g = np.empty((rows, nf), np.float32)
    s = np.empty((rows, nf), np.float32)
    cam = np.empty((rows, 1), np.float32)
    cst = np.empty((rows, 1), np.int8)
    wmc = np.empty((rows, 1), np.float32)
    gc = np.empty((rows, 1), np.float32)
    sc = np.empty((rows, 1), np.float32)
    okw = np.empty(l1, np.bool_)
    idx = np.zeros(lin + 3 * n3, np.int16)
    last0 = np.empty(nf, np.int64)
    lastc = np.empty(1, np.int64)
    flag = np.zeros(nf, np.bool_)
    flagc = np.zeros(1, np.bool_)
    for b in range(nb):
        # usable window starts (no N in the window)
        nN = 0
        for k in range(width - 1):
            nN += codes[b, k] == unknown
        for j in range(l1):
            nN += codes[b, j + width - 1] == unknown
            okw[j] = nN == 0
            nN -= codes[b, j] == unknown
        # letter triples (codes 0..4 only: A, C, G, T, N); otherwise one column at a time
        plain = True
        for p in range(lin):
            if codes[b, p] > 4:
                plain = False
                break
        if plain:
            for p in range(lin):
                c0 = codes[b, p]
                c1 = codes[b, p + 1] if p + 1 < lin else 0
                c2 = codes[b, p + 2] if p + 2 < lin else 0
                idx[p] = c0 * 25 + c1 * 5 + c2
        for f in range(nf):
            last0[f] = -(1 << 40)
        lastc[0] = -(1 << 40)
        for i in range(n_own):
            for kk in range(trk_sel.shape[0]):
                trk_out[b, kk, i] = np.nan
        for d0 in range(0, l1, chunk):
            d1 = min(l1, d0 + chunk)
            a0 = max(0, d0 - half)
            a1 = min(l1, d1 + half)
            n = a1 - a0
            conv(codes[b], tracks[b], idx, plain, E, T3, Wt, bias, head, width, a0, a1, acc,
                 v, st, cam, cst)
            window_max(v, n, half, g, s, wm)
            peaks(v, wm, st, a0, d0, d1, half, okw, own_lo[b], own_hi[b], thr, 0, True,
                  last0, flag, c_pos[b], c_det[b], c_val[b], c_str[b], n_c[b], tests[b])
            if want_cam:
                window_max(cam, n, half, gc, sc, wmc)
                peaks(cam, wmc, cst, a0, d0, d1, half, okw, own_lo[b], own_hi[b], thr, nf,
                      False, lastc, flagc, c_pos[b], c_det[b], c_val[b], c_str[b], n_c[b],
                      tests[b])
            # owned track values: base i of the tile <- window start trk_j0 + i
            for jj in range(max(d0, trk_j0), min(d1, trk_j0 + n_own)):
                if okw[jj]:
                    i = jj - trk_j0
                    for kk in range(trk_sel.shape[0]):
                        if trk_sel[kk] < 0:
                            trk_out[b, kk, i] = cam[jj - a0, 0]
                        else:
                            trk_out[b, kk, i] = v[jj - a0, trk_sel[kk]]


@numba.njit(cache=True, nogil=True)
def merge_overlapping_kernel(starts, ends, g, order, by_start, rank, longest):  # pragma: no cover
    n = starts.shape[0]
    keep = np.zeros(n, np.bool_)
    for i in order:
        a, b, gi = starts[i], ends[i], g[i]
        ok = True
        r = rank[i] - 1
        while ok and r >= 0:
            j = by_start[r]
            if g[j] != gi or starts[j] <= a - longest:
                break
            ok = not (keep[j] and ends[j] > a and starts[j] < b)
            r -= 1
        r = rank[i] + 1
        while ok and r < n:
            j = by_start[r]
            if g[j] != gi or starts[j] >= b:
                break
            ok = not keep[j]
            r += 1
        keep[i] = ok
    return keep


@numba.njit(cache=True, nogil=True)
def empirical_pvalues(flat, offsets, counts, floors, det, x):  # pragma: no cover - compiled
    """``(1 + #null >= x) / (1 + n_null)`` of detector ``det[i]``, whose sorted null values are
    ``flat[offsets[d]:offsets[d + 1]]`` (1 at or below its floor): a binary search each."""
    n = x.shape[0]
    p = np.ones(n)
    for i in range(n):
        d = det[i]
        v = x[i]
        if v <= floors[d]:
            continue
        lo, hi = offsets[d], offsets[d + 1]
        a, b = lo, hi
        while a < b:  # first index with flat >= v
            m = (a + b) // 2
            if flat[m] < v:
                a = m + 1
            else:
                b = m
        p[i] = (1.0 + (hi - a)) / (1.0 + counts[d])
    return p
