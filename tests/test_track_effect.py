"""Conservation by intervention: a filter that reads only the track is track-only."""

import numpy as np
import pytest
import torch

from seqfm import model as model_mod
from seqfm.alphabet import DNA
from seqfm.batching import BatchSource
from seqfm.filter_sites import filter_counts, filter_pwms
from seqfm.track_effect import track_background, track_only_filters, track_response

from planted import MOTIF_A, log_odds, motif_probs, planted_codes


@pytest.mark.parametrize("layer", ["concat", "gated"])
def test_filter_reading_the_track_alone_is_track_only(layer):
    """Filter 0 reads a motif, filter 1 only the conservation track (raised over every site
    and over motif-free blocks): filter 1 fires as much on shuffled sequence with the track in
    place, and loses its sites with the track at background. A gated layer's filter 1 has no
    letter weights and a positive bias: its gate alone shapes its response."""
    rng = np.random.default_rng(7)
    pa = motif_probs(MOTIF_A)
    codes, _ = planted_codes(rng, [pa], n=200, length=80)
    tracks = np.zeros((200, 1, 80), dtype=np.float16)
    tracks[:, 0, 30:45] = 3.0  # a conserved block in every sequence, whatever it holds
    w = np.zeros((2, 5, 10), dtype=np.float32)
    w[0, :4] = log_odds(pa)
    w[1, 4] = 1.0  # the track only
    arch = {"alphabet": "dna", "n_filters": 2, "filter_width": 10, "dropout": 0.0, "n_tracks": 1,
            "first_layer": layer}
    torch.manual_seed(0)
    model = model_mod.SeqCNN(arch).eval()
    with torch.no_grad():
        model.conv1.bias.zero_()
        if layer == "concat":
            model.conv1.weight.copy_(torch.from_numpy(w))
        else:
            model.conv1.weight.copy_(torch.from_numpy(w[:, :4]))
            model.conv1.bias[1] = 10.0
            model.gate.weight.zero_()
            model.gate.weight[0] = 100.0  # filter 0's gate open wherever the track is not negative
            model.gate.weight[1] = 1.0
            model.gate.bias.copy_(torch.tensor([10.0, -10.0]))  # filter 1: open in the block only
    source = BatchSource(codes, tracks, np.ones(200, dtype=np.float32), torch.device("cpu"), DNA, "uniform")
    sites = filter_counts(model, source, np.arange(200), frac=0.5)
    pwms, _ = filter_pwms(sites, "dna", min_sites=10)
    background = track_background(tracks, np.arange(200))
    assert background.tolist() == [0.0]
    resp = track_response(model, codes, tracks, np.arange(200), sites.threshold, background, seed=3)
    assert resp.kept_shuffled[0] < 0.2 and resp.kept_shuffled[1] > 0.9
    assert resp.kept_background[1] == 0.0 and resp.kept_background[0] > 0.9
    kind = track_only_filters(resp, pwms, sites.n_sites, min_sites=10)
    assert kind.tolist() == [False, True]
