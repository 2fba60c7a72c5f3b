"""Compiled (numba, disk-cached) loops of :mod:`seqfm.scan` (and the merging of overlapping
calls and the empirical p-values that :mod:`seqfm.sites` shares).

Module-level functions, so that numba's cache finds them again in a new process (a shard job
then starts scanning at once instead of compiling for seconds).

``kernel`` scans a batch of tiles in one pass per tile.

For models without dilated layers the whole scan of a tile is one loop over chunks of
:data:`seqfm.scan.FUSED_CHUNK` positions: every filter on both strands from look-up
tables (the one-hot columns of each letter triple, or of each code, times the filter's
weights, so ambiguity codes are exact), the conservation tracks' folded weights, the ReLU and
strand maximum, the CAM (head weights times the strand maximum), non-maximum suppression
with the leftmost-tie rule of :func:`seqfm.featuremaps.nms_mask` (van Herk / Gil-Werman
window maxima over the chunk and a halo of the whole window before it and half the window
after it, recomputed), the test counts and the
candidates above the null thresholds, and the owned track values. Nothing of size
(filters x tile length) is made.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath=True)
def window_max(v, n, half, g, h, out):  # pragma: no cover - compiled
    """out[j] = max of v[max(0, j - half) .. min(n - 1, j + half)] for each column, rows
    0 .. n - 1, by van Herk and Gil-Werman: in blocks of the window's length, maxima from each
    block's start (g) and to its end (h); a whole window spans two blocks at most, so its
    maximum is max(h[j - half], g[j + half]). Three passes over whole rows (they vectorise),
    whatever the window's length."""
    nf = v.shape[1]
    k = 2 * half + 1
    for b0 in range(0, n, k):
        b1 = min(n, b0 + k)
        for f in range(nf):
            g[b0, f] = v[b0, f]
        for j in range(b0 + 1, b1):
            for f in range(nf):
                g[j, f] = max(g[j - 1, f], v[j, f])
        for f in range(nf):
            h[b1 - 1, f] = v[b1 - 1, f]
        for j in range(b1 - 2, b0 - 1, -1):
            for f in range(nf):
                h[j, f] = max(h[j + 1, f], v[j, f])
    for j in range(half, n - half):
        for f in range(nf):
            out[j, f] = max(h[j - half, f], g[j + half, f])
    for j in range(0, min(half, n)):
        _cut_window_max(v, n, half, g, h, out, j)
    for j in range(max(half, n - half), n):
        _cut_window_max(v, n, half, g, h, out, j)


@numba.njit(cache=True, nogil=True, fastmath=True)
def window_max_1(v, n, half, g, h, out):  # pragma: no cover - compiled
    """:func:`window_max` of one column (the CAM), in scalar loops."""
    k = 2 * half + 1
    for b0 in range(0, n, k):
        b1 = min(n, b0 + k)
        m = v[b0, 0]
        g[b0, 0] = m
        for j in range(b0 + 1, b1):
            m = max(m, v[j, 0])
            g[j, 0] = m
        m = v[b1 - 1, 0]
        h[b1 - 1, 0] = m
        for j in range(b1 - 2, b0 - 1, -1):
            m = max(m, v[j, 0])
            h[j, 0] = m
    for j in range(half, n - half):
        out[j, 0] = max(h[j - half, 0], g[j + half, 0])
    for j in range(0, min(half, n)):
        _cut_window_max(v, n, half, g, h, out, j)
    for j in range(max(half, n - half), n):
        _cut_window_max(v, n, half, g, h, out, j)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _cut_window_max(v, n, half, g, h, out, j):  # pragma: no cover - compiled
    """:func:`window_max` of a window cut short by row 0 or row n - 1."""
    nf = v.shape[1]
    k = 2 * half + 1
    last = (n - 1) // k
    a = j - half
    b = j + half
    if a < 0 and b < n:  # b < k: block 0 holds rows 0 .. b
        for f in range(nf):
            out[j, f] = g[b, f]
    elif a >= 0 and a // k == last:  # a in the last block, which ends at n - 1
        for f in range(nf):
            out[j, f] = h[a, f]
    elif a >= 0 and a // k == last - 1:
        for f in range(nf):
            out[j, f] = max(h[a, f], g[n - 1, f])
    else:  # cut at both ends
        a = max(0, a)
        b = min(n - 1, b)
        for f in range(nf):
            out[j, f] = v[a, f]
        for i in range(a + 1, b + 1):
            for f in range(nf):
                out[j, f] = max(out[j, f], v[i, f])


@numba.njit(cache=True, nogil=True, fastmath=True)
def peaks(v, wm, strand, a0, d0, d1, half, okw, lo, hi, thr, det0, positive,
          k0, cnt, kp, tc, cf, c_pos, c_det, c_val, c_str, n_c, tests):  # pragma: no cover
    """Decide positions d0 .. d1 - 1 (rows d - a0 of v; window maxima in wm, right for rows
    from d0 - half on). A local maximum (v == its window maximum) with no local maximum within
    half to its left is a test at usable owned positions, and a candidate when >= thr (and
    > 0 when ``positive``). k0, cnt, kp, tc and cf are scratch; each loop touches few arrays,
    so it vectorises over the columns."""
    nf = v.shape[1]
    notpos = not positive
    r0 = max(0, d0 - half - a0)
    r1 = d1 - a0
    for r in range(r0, r1):
        for f in range(nf):
            k0[r, f] = np.uint8(v[r, f] == wm[r, f])
    for f in range(nf):
        cnt[f] = 0
        tc[f] = 0
    for r in range(r0, d0 - a0):  # local maxima among the half rows before d0
        for f in range(nf):
            cnt[f] += k0[r, f]
    th = thr[det0:det0 + nf]
    for j in range(d0, d1):
        r = j - a0
        own = np.uint8((j >= lo) & (j < hi) & okw[j])
        for f in range(nf):
            kp[f] = k0[r, f] & np.uint8(cnt[f] == 0) & own
        if r - half >= r0:
            for f in range(nf):
                cnt[f] += k0[r, f] - k0[r - half, f]
        else:
            for f in range(nf):
                cnt[f] += k0[r, f]
        for f in range(nf):
            tc[f] += kp[f]
        anyc = np.uint8(0)
        for f in range(nf):
            x = v[r, f]
            c = kp[f] & np.uint8(x >= th[f]) & np.uint8((x > 0.0) | notpos)
            cf[f] = c
            anyc |= c
        if anyc:
            for f in range(nf):
                if cf[f]:
                    m = n_c[0]
                    if m < c_pos.shape[0]:
                        c_pos[m] = j
                        c_det[m] = det0 + f
                        c_val[m] = v[r, f]
                        c_str[m] = strand[r, f]
                    n_c[0] = m + 1
    for f in range(nf):
        tests[det0 + f] += tc[f]


@numba.njit(cache=True, nogil=True, fastmath=True)
def cam_peaks(cam, wm, strand, a0, d0, d1, half, okw, lo, hi, th, det, c_pos, c_det, c_val,
              c_str, n_c, tests):  # pragma: no cover - compiled
    """:func:`peaks` of the one CAM column (every value may be a candidate, not only positive
    ones), in scalars: the running count of local maxima among the half rows before each."""
    r0 = max(0, d0 - half - a0)
    cnt = 0
    for r in range(r0, d0 - a0):
        cnt += cam[r, 0] == wm[r, 0]
    tc = 0
    for j in range(d0, d1):
        r = j - a0
        x = cam[r, 0]
        k = x == wm[r, 0]
        if k and cnt == 0 and j >= lo and j < hi and okw[j]:
            tc += 1
            if x >= th:
                m = n_c[0]
                if m < c_pos.shape[0]:
                    c_pos[m] = j
                    c_det[m] = det
                    c_val[m] = x
                    c_str[m] = strand[r, 0]
                n_c[0] = m + 1
        cnt += k
        if r - half >= r0:
            cnt -= cam[r - half, 0] == wm[r - half, 0]
    tests[det] += tc


# without reassociation: the four partial sums over the taps below stay four independent
# chains of multiply-adds (LLVM would fold them back into one, which waits on each add)
_NO_REASSOC = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}


@numba.njit(cache=True, nogil=True, fastmath=_NO_REASSOC)
def fold_taps(x, Wt, taps, width, j0, j1, ud, acc):  # pragma: no cover - compiled
    """Add one track's folded weights (see :func:`conv`) to rows 0 .. j1 - j0 of ``acc``:
    ``x`` the track, ``Wt`` ``(taps, 2F)`` its symmetric then antisymmetric weights, ``ud``
    scratch ``(2, taps + 3)``. Each sum over the taps is four interleaved partial sums."""
    nf = Wt.shape[1] // 2
    nh = len(taps)
    n4 = nh - nh % 4
    for j in range(j0, j1):
        for k in range(nh):
            xa = x[j + k]
            xb = x[j + width - 1 - k]
            ud[0, k] = xa + xb
            ud[1, k] = xa - xb
        r = j - j0
        for f in range(nf):
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            s2 = np.float32(0.0)
            s3 = np.float32(0.0)
            d0 = np.float32(0.0)
            d1 = np.float32(0.0)
            d2 = np.float32(0.0)
            d3 = np.float32(0.0)
            for k in range(0, n4, 4):
                s0 += ud[0, k] * Wt[k, f]
                s1 += ud[0, k + 1] * Wt[k + 1, f]
                s2 += ud[0, k + 2] * Wt[k + 2, f]
                s3 += ud[0, k + 3] * Wt[k + 3, f]
                d0 += ud[1, k] * Wt[k, nf + f]
                d1 += ud[1, k + 1] * Wt[k + 1, nf + f]
                d2 += ud[1, k + 2] * Wt[k + 2, nf + f]
                d3 += ud[1, k + 3] * Wt[k + 3, nf + f]
            for k in range(n4, nh):
                s0 += ud[0, k] * Wt[k, f]
                d0 += ud[1, k] * Wt[k, nf + f]
            su = (s0 + s1) + (s2 + s3)
            sd = (d0 + d1) + (d2 + d3)
            acc[r, f] += su + sd
            acc[r, nf + f] += su - sd


# error_model="numpy": a float division without Python's zero check, which would stop the loop
# over filters from vectorising
@numba.njit(cache=True, nogil=True, fastmath=True, inline="always", error_model="numpy")
def sigmoid(x):  # pragma: no cover - compiled
    """The logistic function in float32 arithmetic alone, so that a loop over filters
    vectorises (a call to exp does not, without SVML): e^-x = (e^(-x/16))^16 with the inner
    exponential a Taylor polynomial on [-1, 1] (degree 10: relative error under 3e-8 before
    the four squarings, about 1e-6 after), x clipped to [-16, 16] (the logistic is within
    1.2e-7 of 0 or 1 beyond)."""
    t = min(max(x, np.float32(-16.0)), np.float32(16.0)) * np.float32(-0.0625)
    e = np.float32(1.0 / 3628800.0)
    e = e * t + np.float32(1.0 / 362880.0)
    e = e * t + np.float32(1.0 / 40320.0)
    e = e * t + np.float32(1.0 / 5040.0)
    e = e * t + np.float32(1.0 / 720.0)
    e = e * t + np.float32(1.0 / 120.0)
    e = e * t + np.float32(1.0 / 24.0)
    e = e * t + np.float32(1.0 / 6.0)
    e = e * t + np.float32(0.5)
    e = e * t + np.float32(1.0)
    e = e * t + np.float32(1.0)
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return np.float32(1.0) / (np.float32(1.0) + e)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def conv(codes_b, tracks_b, idx, plain, E, T3, Wt, fold, taps, bias, head, width, a0, a1, acc,
         ud, v, st, cam, cst, tacc, ref, gate):  # pragma: no cover - compiled
    """Filter values (strand maximum after ReLU), their strand, the CAM and its strand for
    window starts a0 .. a1 - 1, into rows 0 .. a1 - a0.

    A tile of letters A, C, G, T and N (``plain``) sums one row of ``T3`` per letter triple
    (the first table carries the bias); widths up to 21 have seven tables, summed at once in
    registers. Other codes (IUPAC) take one row of ``E`` per column, after the bias.

    With ``fold`` the track weights come folded (:meth:`seqfm.scan.Scanner._fused_tables`):
    a reverse filter's track weights are its forward weights reversed, so with the symmetric
    part S and antisymmetric part A of the forward weights, forward = S.u + A.d and reverse =
    S.u - A.d over the sums u and differences d of mirrored track values: half the
    multiply-adds. ``taps`` is a tuple as long as the folded weights (``Wt.shape[1]``): its
    length is known when the function is compiled, so the loops over taps unroll and the
    sums over them stay in registers while the loop over filters vectorises.

    With tracks and a reference (``ref``, ``(2F,)``: each filter's value on the uniform
    background sequence, bias included) the CAM is relative to the reference input (the
    same tracks, uniform letters; :meth:`seqfm.model.SeqCNN.reference_input`): the track
    terms are summed apart (``tacc``) and the reference's CAM is subtracted.

    A gated first layer (``gate``, ``(2F,)``: the gate biases; empty otherwise) sums its track
    terms apart too, from the gate bias, and a filter's value is ``relu(letters) *
    sigmoid(tracks)`` (:meth:`seqfm.model.SeqCNN.first_layer`)."""
    n_tr = tracks_b.shape[0]
    use_ref = n_tr > 0 and ref.shape[0] > 0
    gated = n_tr > 0 and gate.shape[0] > 0
    apart = use_ref or gated
    f2 = E.shape[2]
    nf = f2 // 2
    n3 = T3.shape[0]
    blk = acc.shape[0]
    for j0 in range(a0, a1, blk):
        j1 = min(a1, j0 + blk)
        if plain and n3 == 7:  # widths up to 21: seven rows summed in registers
            for j in range(j0, j1):
                t0, t1, t2 = T3[0, idx[j]], T3[1, idx[j + 3]], T3[2, idx[j + 6]]
                t3, t4, t5 = T3[3, idx[j + 9]], T3[4, idx[j + 12]], T3[5, idx[j + 15]]
                t6 = T3[6, idx[j + 18]]
                a = acc[j - j0]
                for f in range(f2):
                    a[f] = t0[f] + t1[f] + t2[f] + t3[f] + t4[f] + t5[f] + t6[f]
        elif plain:
            for j in range(j0, j1):
                for f in range(f2):
                    acc[j - j0, f] = 0.0
            for m in range(n3):
                for j in range(j0, j1):
                    r = idx[j + 3 * m]
                    for f in range(f2):
                        acc[j - j0, f] += T3[m, r, f]
        else:
            for j in range(j0, j1):
                for f in range(f2):
                    acc[j - j0, f] = bias[f]
            for k in range(width):
                for j in range(j0, j1):
                    r = codes_b[j + k]
                    for f in range(f2):
                        acc[j - j0, f] += E[k, r, f]
        tgt = tacc if apart else acc
        if apart:
            for j in range(j0, j1):
                for f in range(f2):
                    tacc[j - j0, f] = gate[f] if gated else 0.0
        if fold and n_tr:
            for t in range(n_tr):
                fold_taps(tracks_b[t], Wt[t], taps, width, j0, j1, ud, tgt)
        else:
            for t in range(n_tr):
                for k in range(width):
                    for j in range(j0, j1):
                        x = tracks_b[t, j + k]
                        for f in range(f2):
                            tgt[j - j0, f] += x * Wt[t, k, f]
        if gated:  # relu(letters) * sigmoid(tracks); tacc keeps the gate for the reference
            for j in range(j0, j1):
                for f in range(f2):
                    g = sigmoid(tacc[j - j0, f])
                    tacc[j - j0, f] = g
                    acc[j - j0, f] = max(acc[j - j0, f], np.float32(0.0)) * g
        elif use_ref:
            for j in range(j0, j1):
                for f in range(f2):
                    acc[j - j0, f] += tacc[j - j0, f]
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
            if use_ref and gated:
                for f in range(nf):
                    bf = max(ref[f], np.float32(0.0)) * tacc[j - j0, f]
                    br = max(ref[nf + f], np.float32(0.0)) * tacc[j - j0, nf + f]
                    cs -= head[f] * max(bf, br)
            elif use_ref:
                for f in range(nf):
                    bf = max(ref[f] + tacc[j - j0, f], np.float32(0.0))
                    br = max(ref[nf + f] + tacc[j - j0, nf + f], np.float32(0.0))
                    cs -= head[f] * max(bf, br)
            cam[r, 0] = cs
            cst[r, 0] = 1 if cr > cf else 0


@numba.njit(cache=True, nogil=True, fastmath=True)
def kernel(codes, tracks, E, T3, Wt, fold, taps, bias, head, unknown, width, half, own_lo, own_hi,
           thr, want_cam, trk_sel, trk_j0, n_own, trk_out, chunk,
           c_pos, c_det, c_val, c_str, n_c, tests, ref, gate):  # pragma: no cover - compiled
    nb, lin = codes.shape
    f2 = E.shape[2]
    nf = f2 // 2
    l1 = lin - width + 1
    n3 = T3.shape[0]
    rows = min(l1, chunk + 3 * half)
    acc = np.empty((32, f2), np.float32)
    tacc = np.empty((32, f2), np.float32)
    ud = np.empty((2, len(taps) + 3), np.float32)
    v = np.empty((rows, nf), np.float32)
    st = np.empty((rows, nf), np.int8)
    wm = np.empty((rows, nf), np.float32)
    t1 = np.empty((rows, nf), np.float32)
    t2 = np.empty((rows, nf), np.float32)
    k0 = np.empty((rows, nf), np.uint8)
    cam = np.empty((rows, 1), np.float32)
    cst = np.empty((rows, 1), np.int8)
    wmc = np.empty((rows, 1), np.float32)
    t1c = np.empty((rows, 1), np.float32)
    t2c = np.empty((rows, 1), np.float32)
    okw = np.empty(l1, np.bool_)
    idx = np.zeros(lin + 3 * n3, np.int16)
    cnt = np.empty(nf, np.int32)
    tc = np.empty(nf, np.int32)
    kp = np.empty(nf, np.uint8)
    cf = np.empty(nf, np.uint8)
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
        for i in range(n_own):
            for kk in range(trk_sel.shape[0]):
                trk_out[b, kk, i] = np.nan
        for d0 in range(0, l1, chunk):
            d1 = min(l1, d0 + chunk)
            # rows from d0 - 2 half: the window maxima of the half rows before d0 are whole
            a0 = max(0, d0 - 2 * half)
            a1 = min(l1, d1 + half)
            n = a1 - a0
            conv(codes[b], tracks[b], idx, plain, E, T3, Wt, fold, taps, bias, head, width, a0, a1,
                 acc, ud, v, st, cam, cst, tacc, ref, gate)
            window_max(v, n, half, t1, t2, wm)
            peaks(v, wm, st, a0, d0, d1, half, okw, own_lo[b], own_hi[b], thr, 0, True,
                  k0, cnt, kp, tc, cf, c_pos[b], c_det[b], c_val[b], c_str[b], n_c[b], tests[b])
            if want_cam:
                window_max_1(cam, n, half, t1c, t2c, wmc)
                cam_peaks(cam, wmc, cst, a0, d0, d1, half, okw, own_lo[b], own_hi[b], thr[nf],
                          nf, c_pos[b], c_det[b], c_val[b], c_str[b], n_c[b], tests[b])
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
def bin_means(v, step):  # pragma: no cover - compiled
    """Mean of the finite values in each bin of ``step`` consecutive values (the last bin may be
    shorter), NaN where a bin has none; float64 ``(ceil(len(v) / step),)``."""
    n = v.shape[0]
    out = np.empty((n + step - 1) // step)
    for b in range(out.shape[0]):
        s = 0.0
        k = 0
        for i in range(b * step, min(n, (b + 1) * step)):
            x = v[i]
            if np.isfinite(x):
                s += x
                k += 1
        out[b] = s / k if k else np.nan
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _n_digits(v, pad):  # pragma: no cover - compiled
    """Characters of integer ``v`` in decimal, zero-padded to ``pad`` digits."""
    n = 1
    a = -v if v < 0 else v
    while a >= 10:
        a //= 10
        n += 1
    return max(n, pad) + (1 if v < 0 else 0)


@numba.njit(cache=True, nogil=True, inline="always")
def _put(out, o, flat, offsets, t):  # pragma: no cover - compiled
    """Copy text ``t`` (``flat[offsets[t]:offsets[t + 1]]``) to ``out[o:]``; the new end."""
    for b in range(offsets[t], offsets[t + 1]):
        out[o] = flat[b]
        o += 1
    return o


@numba.njit(cache=True, nogil=True)
def join_rows(flat, offsets, vals, kind, pad, pre, suf):  # pragma: no cover - compiled
    """The bytes of every row, column after column: text ``pre[c]``, then text ``vals[i, c]``
    (text ``t`` is ``flat[offsets[t]:offsets[t + 1]]``) where ``kind[c]`` is 0, else the
    integer ``vals[i, c]`` in decimal, zero-padded to ``pad[c]`` digits, then text
    ``suf[c]``."""
    n, k = vals.shape
    size = 0
    for i in range(n):
        for c in range(k):
            v = vals[i, c]
            size += (offsets[pre[c] + 1] - offsets[pre[c]] + offsets[suf[c] + 1] - offsets[suf[c]])
            if kind[c] == 0:
                size += offsets[v + 1] - offsets[v]
            else:
                size += _n_digits(v, pad[c])
    out = np.empty(size, np.uint8)
    o = 0
    for i in range(n):
        for c in range(k):
            v = vals[i, c]
            o = _put(out, o, flat, offsets, pre[c])
            if kind[c] == 0:
                o = _put(out, o, flat, offsets, v)
            else:
                if v < 0:
                    out[o] = 45  # -
                    o += 1
                    v = -v
                nd = _n_digits(v, pad[c])
                for d in range(nd - 1, -1, -1):
                    out[o + d] = 48 + v % 10
                    v //= 10
                o += nd
            o = _put(out, o, flat, offsets, suf[c])
    return out


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


@numba.njit(cache=True, nogil=True, inline="always")
def _first_at_least(flat, base, m, v):  # pragma: no cover - compiled
    """The first index of ``flat[base:base + m]`` (sorted) holding ``v`` or more
    (``base + m`` when none), without branches on the comparisons (a coin toss each)."""
    while m > 1:  # the answer lies in [base, base + m]
        h = m >> 1
        base = base + h if flat[base + h] < v else base
        m -= h
    return base + (1 if m == 1 and flat[base] < v else 0)


@numba.njit(cache=True, nogil=True)
def empirical_pvalues(flat, offsets, counts, floors, det, x, above, tail_u, tail_p,
                      tail_scale):  # pragma: no cover - compiled
    """``(1 + #null >= x) / (1 + n_null)`` of detector ``det[i]``, whose sorted null values are
    ``flat[offsets[d]:offsets[d + 1]]`` (1 at or below its floor), or beyond ``tail_u[d]``
    the exponential tail ``tail_p[d] * exp(-(x - tail_u[d]) / tail_scale[d])`` (+inf: none).
    One binary search each, from the first null value at or above ``above[d]`` (at most every
    ``x`` of ``d``, e.g. the scan's threshold: the top of the null stays in cache; -inf when
    nothing is known)."""
    n_det = offsets.shape[0] - 1
    starts = np.empty(n_det, np.int64)
    for d in range(n_det):
        starts[d] = _first_at_least(flat, offsets[d], offsets[d + 1] - offsets[d], above[d])
    n = x.shape[0]
    p = np.ones(n)
    for i in range(n):
        d = det[i]
        v = x[i]
        if v <= floors[d]:
            continue
        if v > tail_u[d]:
            p[i] = max(tail_p[d] * math.exp(-(v - tail_u[d]) / tail_scale[d]), 1e-300)
            continue
        hi = offsets[d + 1]
        a = _first_at_least(flat, starts[d], hi - starts[d], v)
        p[i] = (1.0 + (hi - a)) / (1.0 + counts[d])
    return p
