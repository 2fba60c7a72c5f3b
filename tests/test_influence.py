"""Influence: ablated logits equal a model without the filters; enrichment by hand count."""

import numpy as np
import pytest
import torch

from seqfm import model as model_mod
from seqfm.alphabet import DNA
from seqfm.influence import ablation_effects, ablation_logits, channel_maxima, cluster_calls, enrichment, INFLUENCE_METRICS, masked_logits

from planted import source_for


@pytest.mark.parametrize("extra", [{}, {"dilated_layers": 2, "dilated_channels": 6},
                                   {"global_pool": "mean"}, {"strand_aware": False}])
def test_ablation_equals_a_model_without_the_filter(extra):
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, size=(50, 40)).astype(np.uint8)
    torch.manual_seed(1)
    arch = {"alphabet": "dna", "n_filters": 5, "filter_width": 6, "dropout": 0.0, **extra}
    model = model_mod.SeqCNN(arch).eval()
    masks = np.ones((3, 5))
    masks[0, 1] = 0
    masks[1, [0, 4]] = 0
    base, abl = ablation_logits(model, source_for(codes), np.arange(50), masks, batch_size=16,
                                  max_elements=500)
    x = torch.from_numpy(DNA.onehot_table()[codes]).permute(0, 2, 1).float()
    with torch.no_grad():
        np.testing.assert_allclose(base, model(x).numpy(), atol=1e-5)
        for k, mask in enumerate(masks):
            m = model_mod.copy_model(model)
            off = torch.from_numpy(mask == 0)
            m.conv1.weight[off] = 0.0
            m.conv1.bias[off] = -1.0  # ReLU(-1) = 0: the channel is zero everywhere
            np.testing.assert_allclose(abl[k], m(x).numpy(), atol=1e-5)
    eff = ablation_effects(base, abl, np.arange(50) % 2)
    assert set(eff) == set(INFLUENCE_METRICS) and np.allclose(eff["positives"][2], 0.0)


@pytest.mark.parametrize("extra", [{}, {"strand_aware": False}, {"n_tracks": 1},
                                   {"n_tracks": 1, "first_layer": "concat"}])
def test_pooled_shortcut_gives_the_same_logits_bit_for_bit(extra):
    # masking pooled maxima instead of whole feature maps: the same numbers, not just close ones
    rng = np.random.default_rng(5)
    torch.manual_seed(2)
    arch = {"alphabet": "dna", "n_filters": 6, "filter_width": 5, "dropout": 0.0, **extra}
    model = model_mod.SeqCNN(arch).eval()
    n_t = arch.get("n_tracks", 0)
    x = torch.from_numpy(rng.random((9, 4 + n_t, 30)).astype(np.float32))
    xb = torch.from_numpy(rng.random((9, 4 + n_t, 30)).astype(np.float32))
    masks = torch.from_numpy((rng.random((7, 6)) > 0.4).astype(np.float32))
    with torch.inference_mode():
        fwd, rev = model.first_layer(x)
        alt = model.first_layer(xb)
        cmax = channel_maxima(model, fwd, rev)
        assert torch.equal(model.head(cmax).squeeze(-1), model(x))
        assert torch.equal(masked_logits(model, fwd, rev, masks, maxima=(cmax,)),
                           masked_logits(model, fwd, rev, masks))
        both = (cmax, channel_maxima(model, *alt))
        assert torch.equal(masked_logits(model, fwd, rev, masks, alt, both),
                           masked_logits(model, fwd, rev, masks, alt))
        # fractional masks take the general path
        half = masks * 0.5
        assert torch.equal(masked_logits(model, fwd, rev, half, maxima=(cmax,)),
                           masked_logits(model, fwd, rev, half))
    assert channel_maxima(model_mod.SeqCNN({**arch, "global_pool": "mean"}), fwd, rev) is None


def test_enrichment_columns_agree_with_a_hand_count():
    # 4 positives, 4 negatives; cluster 0 = filters 0 and 1, cluster 1 = filter 2
    seq_max = np.array([[5, 0, 0], [0, 3, 0], [5, 0, 1], [0, 0, 0],
                        [0, 3, 9], [0, 0, 9], [1, 1, 9], [0, 0, 0]], dtype=np.float32)
    threshold = np.array([4.0, 2.0, 8.0])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    calls = cluster_calls(seq_max, threshold, [[0, 1], [2]])
    assert calls[:, 0].tolist() == [True, True, True, False, True, False, False, False]
    assert calls[:, 1].tolist() == [False, False, False, False, True, True, True, False]
    e = enrichment(calls, labels)
    # cluster 0: 3 of 4 positives, 1 of 4 negatives
    assert e["pos_frac"][0] == 0.75 and e["neg_frac"][0] == 0.25
    np.testing.assert_allclose(e["odds_ratio"][0], 3.5 * 3.5 / (1.5 * 1.5))
    # one-sided Fisher: P(X >= 3), X hypergeometric (8 sequences, 4 calls, 4 positives)
    np.testing.assert_allclose(e["fisher_p"][0], (4 * 4 + 1) / 70)
    # cluster 1: no positive, 3 negatives: depleted
    assert e["pos_frac"][1] == 0 and e["neg_frac"][1] == 0.75 and e["fisher_p"][1] == 1.0
    np.testing.assert_allclose(e["odds_ratio"][1], 0.5 * 1.5 / (4.5 * 3.5))
