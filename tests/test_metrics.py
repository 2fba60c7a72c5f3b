import numpy as np
import pytest

from seqfm import metrics


def brute_auroc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg))


def brute_auprc(y, s):
    # one threshold per distinct score, counted directly
    ap, last_recall = 0.0, 0.0
    for t in np.unique(s)[::-1]:
        called = s >= t
        tp = np.sum(called & (y == 1))
        precision, recall = tp / called.sum(), tp / y.sum()
        ap += (recall - last_recall) * precision
        last_recall = recall
    return ap


@pytest.mark.parametrize("seed", range(6))
def test_auroc_auprc_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    # rounded scores: many ties, including ties across the classes
    s = np.round(rng.normal(size=n) + y * rng.uniform(0, 2), int(rng.integers(0, 2)))
    assert metrics.auroc(y, s) == pytest.approx(brute_auroc(y, s), abs=1e-12)
    assert metrics.auprc(y, s) == pytest.approx(brute_auprc(y, s), abs=1e-12)


def test_known_values():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert metrics.auroc(y, s) == pytest.approx(0.75)
    assert metrics.auprc(y, s) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    # all scores tied: a coin
    assert metrics.auroc(y, np.zeros(4)) == pytest.approx(0.5)
    assert metrics.auprc(y, np.zeros(4)) == pytest.approx(0.5)
    # perfect and reversed
    assert metrics.auroc(y, y) == 1.0 and metrics.auprc(y, y) == 1.0
    assert metrics.auroc(y, -y) == 0.0


def test_curves_and_degenerate_inputs():
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([3, 2, 2, 1, 0.5])
    fpr, tpr, thr = metrics.roc_curve(y, s)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert len(thr) == len(np.unique(s)) + 1
    p, r, _ = metrics.precision_recall_curve(y, s)
    assert r[0] == 0 and r[-1] == 1 and np.all(np.diff(r) >= 0)
    assert np.isnan(metrics.auroc([1, 1], [0.2, 0.3]))
    assert np.isnan(metrics.auprc([0, 0], [0.2, 0.3]))
    assert metrics.summary([1, 1], [0.2, 0.3])["auroc"] is None
    with pytest.raises(ValueError):
        metrics.auroc([0, 1], [0.1])
