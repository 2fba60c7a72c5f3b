import json

import numpy as np
import pytest
import torch

from seqfm import model as M
from seqfm.alphabet import DNA, PROTEIN, one_hot, reverse_complement_codes, reverse_tracks
from seqfm.errors import InputError


def dna_input(n=6, length=80, tracks=1, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    codes[0, 5] = DNA.symbols.index("N")  # an ambiguity code: uniform columns
    codes[1, 9] = DNA.symbols.index("R")
    tr = rng.random((n, tracks, length)).astype(np.float32)
    return codes, tr


def make_x(codes, tracks):
    return torch.cat([one_hot(codes, DNA, "uniform"), torch.from_numpy(np.ascontiguousarray(tracks))], 1)


@pytest.mark.parametrize("dilated", [0, 2])
@pytest.mark.parametrize("pool", ["max", "mean"])
@pytest.mark.parametrize("layer", ["concat", "gated"])
def test_output_invariant_to_reverse_complement(dilated, pool, layer):
    torch.manual_seed(1)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 8, "filter_width": 7, "dilated_layers": dilated,
                    "dilated_channels": 8, "global_pool": pool, "first_layer": layer}).eval()
    assert net.strand_aware
    codes, tracks = dna_input()
    # the reverse strand built independently of the model: complement codes, reverse tracks
    x = make_x(codes, tracks)
    x_rc = make_x(np.ascontiguousarray(reverse_complement_codes(codes)),
                  np.ascontiguousarray(reverse_tracks(tracks)))
    with torch.no_grad():
        out, out_rc = net(x), net(x_rc)
        assert torch.allclose(out, out_rc, atol=1e-5), (out - out_rc).abs().max()
        # the CAM is mirrored, not merely its pooled value
        cam, cam_rc = net.class_activation_map(x), net.class_activation_map(x_rc)
        assert torch.allclose(cam, cam_rc.flip(-1), atol=1e-5)
        assert torch.allclose(net.reverse_complement(x), x_rc)


def test_single_strand_model_is_not_invariant():
    # the same check fails without strand awareness, so the test above can fail
    torch.manual_seed(1)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 8, "filter_width": 7, "strand_aware": False}).eval()
    codes, tracks = dna_input()
    x = make_x(codes, tracks)
    x_rc = make_x(np.ascontiguousarray(reverse_complement_codes(codes)),
                  np.ascontiguousarray(reverse_tracks(tracks)))
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x_rc), atol=1e-4)
        acts = net.filter_activations(x)
    assert acts.shape == (6, 2, 8, 80 - 7 + 1)
    assert torch.all(acts[:, 1] == 0)


@pytest.mark.parametrize("layer", ["concat", "gated"])
def test_filter_activations_strands_and_positions(layer):
    torch.manual_seed(2)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 5, "filter_width": 9, "first_layer": layer}).eval()
    codes, tracks = dna_input(n=3, length=40)
    x = make_x(codes, tracks)
    with torch.no_grad():
        acts = net.filter_activations(x)
        assert acts.shape == (3, 2, 5, 32)
        # strand 0 at window i is the filter applied to x[:, :, i:i+W]
        i = 11
        w, win = net.first_layer_weights(), x[:, None, :, i:i + 9]
        if layer == "concat":
            ref = torch.relu((w[None] * win).sum((2, 3)) + net.conv1.bias)
        else:  # letters through the ReLU, times the sigmoid of the tracks
            ref = (torch.relu((w[None, :, :4] * win[:, :, :4]).sum((2, 3)) + net.conv1.bias)
                   * torch.sigmoid((w[None, :, 4:] * win[:, :, 4:]).sum((2, 3)) + net.gate.bias))
        assert torch.allclose(acts[:, 0, :, i], ref, atol=1e-5)
        # strand 1 at forward start i = the forward filter on the reverse complement at L'-1-i
        acts_rc = net.filter_activations(net.reverse_complement(x))
        assert torch.allclose(acts[:, 1], acts_rc[:, 0].flip(-1), atol=1e-5)
        assert (acts >= 0).all()


def test_gated_filter_reads_sequence_and_tracks_only_scale_it():
    """A gated filter at a motif's log-odds fires on the motif and on nothing else, however
    conserved: its track kernel scales the response (sigmoid), it cannot make one."""
    motif = "GATTACA"
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 1, "filter_width": 7, "first_layer": "gated",
                    "dropout": 0.0}).eval()
    assert net.conv1.weight.shape == (1, 4, 7) and net.gate.weight.shape == (1, 1, 7)
    with torch.no_grad():
        net.conv1.weight.fill_(-1.0)
        for k, letter in enumerate(motif):
            net.conv1.weight[0, "ACGT".index(letter), k] = 2.0
        net.conv1.bias.fill_(-13.0)  # only an exact match is positive (14 - 13 = 1)
        net.gate.weight.fill_(1.0)  # the more conserved, the more open the gate
        net.gate.bias.fill_(-3.5)
    codes = np.random.default_rng(0).integers(0, 4, (1, 60)).astype(np.uint8)
    codes[0, 20:27] = DNA.encode(motif)
    for level, expect in ((0.0, 1 / (1 + np.exp(3.5))), (1.0, 1 / (1 + np.exp(-3.5)))):
        tracks = np.full((1, 1, 60), level, np.float32)
        with torch.no_grad():
            acts = net.filter_activations(make_x(codes, tracks))[0, 0, 0]
        assert acts[20].item() == pytest.approx(expect, rel=1e-5)
        assert (acts[torch.arange(len(acts)) != 20] == 0).all()  # conserved random sequence: 0
    # the weights in the concat layout: letters, then the gate's kernels
    assert torch.equal(net.first_layer_weights()[0, 4], net.gate.weight[0, 0])


def test_model_json_without_first_layer_is_a_concat_model(tmp_path):
    torch.manual_seed(5)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 3, "filter_width": 5, "first_layer": "concat"})
    pt, js = M.save(net, tmp_path)
    info = json.loads(js.read_text())
    del info["architecture"]["first_layer"]
    js.write_text(json.dumps(info))
    loaded, _ = M.load(pt, js)
    assert not loaded.gated and loaded.conv1.weight.shape == (3, 5, 5)


def test_mean_pool_cam_sums_to_logit_and_cam_window():
    torch.manual_seed(3)
    net = M.SeqCNN({"n_filters": 6, "filter_width": 5, "global_pool": "mean", "dilated_layers": 2,
                    "dilated_channels": 4}).eval()
    codes, _ = dna_input(n=4, length=50, tracks=0)
    x = one_hot(codes)
    with torch.no_grad():
        cam = net.class_activation_map(x)
        assert cam.shape == (4, 46)
        assert torch.allclose(cam.mean(-1) + net.head.bias, net(x), atol=1e-5)
    assert net.context == 2 + 4
    assert net.cam_window(0) == (-6, 11)
    assert net.cam_window(0, length=50) == (0, 11)
    assert net.cam_window(45, length=50) == (39, 50)


def test_protein_model_is_single_strand():
    net = M.SeqCNN({"alphabet": "protein", "n_tracks": 2, "n_filters": 4, "filter_width": 5})
    assert not net.strand_aware and net.n_channels == 22
    net2 = M.SeqCNN({"alphabet": "protein", "strand_aware": True})  # turned off, with a warning
    assert not net2.strand_aware
    codes = np.random.default_rng(0).integers(0, 20, (2, 30)).astype(np.uint8)
    x = torch.cat([one_hot(codes, PROTEIN), torch.zeros(2, 2, 30)], 1)
    assert net(x).shape == (2,)


def test_bad_architecture_is_refused():
    with pytest.raises(InputError, match="unknown architecture"):
        M.SeqCNN({"n_filter": 3})
    with pytest.raises(InputError, match="odd"):
        M.SeqCNN({"dilated_width": 4})


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(4)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 8, "filter_width": 7, "dilated_layers": 1})
    pt, js = M.save(net, tmp_path, {"policy": "zeros", "channels": ["A", "C", "G", "T", "phyloP"]})
    state = torch.load(pt, weights_only=True)
    assert set(state) == set(net.state_dict())
    info = json.loads(js.read_text())
    assert info["architecture"]["n_filters"] == 8 and info["alphabet"] == "dna"
    assert info["channels"][-1] == "phyloP" and "seqfm_version" in info
    loaded, info2 = M.load(pt, js)
    assert not loaded.training
    x = make_x(*dna_input(length=30))
    with torch.no_grad():
        assert torch.equal(net.eval()(x), loaded(x))


def test_other_architecture_is_refused(tmp_path):
    M.save(M.SeqCNN({"n_filters": 8, "filter_width": 7}), tmp_path / "a")
    M.save(M.SeqCNN({"n_filters": 16, "filter_width": 7}), tmp_path / "b")
    M.save(M.SeqCNN({"n_filters": 8, "filter_width": 7, "dilated_layers": 1}), tmp_path / "c")
    with pytest.raises(InputError, match=r"b/model\.pt: weights of a different architecture.*conv1"):
        M.load(tmp_path / "b" / "model.pt", tmp_path / "a" / "model.json")
    with pytest.raises(InputError, match=r"c/model\.pt: weights of a different architecture"):
        M.load(tmp_path / "c" / "model.pt", tmp_path / "a" / "model.json")


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_tampered_files_are_refused(tmp_path, capsys):
    good = tmp_path / "good"
    M.save(M.SeqCNN({"n_filters": 4, "filter_width": 5}), good)
    js = good / "model.json"
    # random bytes
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(InputError, match="junk.pt"):
        M.load(junk, js)
    # a truncated checkpoint
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes((good / "model.pt").read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.pt"):
        M.load(trunc, js)
    # a pickle carrying code: refused by weights_only, never executed
    evil = tmp_path / "evil.pt"
    torch.save({"conv1.weight": Evil()}, evil)
    with pytest.raises(InputError, match="evil.pt"):
        M.load(evil, js)
    assert "must never run" not in capsys.readouterr().out
    # loadable, but not a state_dict
    notsd = tmp_path / "notsd.pt"
    torch.save({"conv1.weight": [1, 2, 3]}, notsd)
    with pytest.raises(InputError, match="notsd.pt: not a state_dict"):
        M.load(notsd, js)
    # right names and shapes, NaN weights
    state = torch.load(good / "model.pt", weights_only=True)
    state["head.weight"][0, 0] = float("nan")
    nan = tmp_path / "nan.pt"
    torch.save(state, nan)
    with pytest.raises(InputError, match="nan.pt: tensor 'head.weight'"):
        M.load(nan, js)
    # a broken model.json
    bad_js = tmp_path / "model.json"
    bad_js.write_text("{not json")
    with pytest.raises(InputError, match="model.json"):
        M.load(good / "model.pt", bad_js)


# ---------------------------------------------------------------------- the two strands
def _old_features(net, x):
    """The merged feature maps as SeqCNN.features computed them before strands/streams."""
    fwd, rev = net.first_layer(x)
    if rev is None:
        return net._trunk(fwd)
    if net.project is None:
        return torch.maximum(net._trunk(fwd), net._trunk(rev))
    out = net._trunk(torch.cat([fwd, rev.flip(-1)]))
    return torch.maximum(out[: len(x)], out[len(x):].flip(-1))


@pytest.mark.parametrize("dilated", [0, 2])
@pytest.mark.parametrize("pool", ["max", "mean"])
@pytest.mark.parametrize("tracks, layer", [(0, "concat"), (1, "concat"), (1, "gated")])
def test_strands_merge_to_the_feature_maps_bit_for_bit(dilated, pool, tracks, layer):
    torch.manual_seed(6)
    net = M.SeqCNN({"n_tracks": tracks, "n_filters": 6, "filter_width": 5, "dilated_layers": dilated,
                    "dilated_channels": 4, "global_pool": pool, "first_layer": layer}).eval()
    codes, tr = dna_input(n=4, length=30, tracks=tracks)
    x = make_x(codes, tr)
    with torch.no_grad():
        h_f, h_r = net.strands(x)
        assert h_f.shape == h_r.shape == (4, 4 if dilated else 6, 26)
        merged = torch.maximum(h_f, h_r)
        assert torch.equal(merged, _old_features(net, x))
        assert torch.equal(merged, net.features(x))
        assert torch.equal(net.streams(*net.first_layer(x))[1], h_r)
        pooled = merged.amax(-1) if pool == "max" else merged.mean(-1)
        assert torch.equal(net.pool(merged), pooled)
        assert torch.equal(net(x), net.head(pooled).squeeze(-1))


def tracked_net_and_input(seed, dilated, n_filters=6, channels=4):
    """A strand-aware model reading one track (filters of width 5) and an input ``(3, 5, 30)``."""
    torch.manual_seed(seed)
    net = M.SeqCNN({"n_tracks": 1, "n_filters": n_filters, "filter_width": 5,
                    "dilated_layers": dilated, "dilated_channels": channels}).eval()
    return net, make_x(*dna_input(n=3, length=30))


@pytest.mark.parametrize("dilated", [0, 2])
def test_reverse_complement_swaps_the_strands(dilated):
    net, x = tracked_net_and_input(7, dilated)
    with torch.no_grad():
        h_f, h_r = net.strands(x)
        rc_f, rc_r = net.strands(net.reverse_complement(x))
    assert torch.allclose(rc_f, h_r.flip(-1), atol=1e-5)
    assert torch.allclose(rc_r, h_f.flip(-1), atol=1e-5)


def test_a_single_strand_model_has_no_reverse_stream():
    torch.manual_seed(8)
    net = M.SeqCNN({"n_filters": 4, "filter_width": 5, "strand_aware": False}).eval()
    codes, _ = dna_input(n=2, length=20, tracks=0)
    with torch.no_grad():
        h_f, h_r = net.strands(one_hot(codes))
        assert h_r is None and torch.equal(h_f, net.features(one_hot(codes)))


@pytest.mark.parametrize("dilated", [0, 1])
def test_a_mask_zeroing_a_filter_changes_only_what_reads_it(dilated):
    net, x = tracked_net_and_input(9, dilated, n_filters=5, channels=3)
    mask = torch.ones(5)
    mask[2] = 0.0
    with torch.no_grad():
        h_f, h_r = net.strands(x)
        m_f, m_r = net.strands(x, mask)
        per_row = net.strands(x, mask.expand(3, 5))
        # the same model with filter 2 switched off in its weights (ReLU(-1) = 0 everywhere)
        off = M.copy_model(net)
        off.conv1.weight[2] = 0.0
        off.conv1.bias[2] = -1.0
        o_f, o_r = off.strands(x)
    assert torch.equal(per_row[0], m_f) and torch.equal(per_row[1], m_r)
    assert torch.allclose(m_f, o_f) and torch.allclose(m_r, o_r)
    if dilated:  # every dilated channel reads every filter
        assert not torch.allclose(m_f, h_f)
    else:  # without dilated layers a stream's channel is its filter: only channel 2 changes
        assert (m_f[:, 2] == 0).all() and (m_r[:, 2] == 0).all()
        keep = [0, 1, 3, 4]
        assert torch.equal(m_f[:, keep], h_f[:, keep]) and torch.equal(m_r[:, keep], h_r[:, keep])
        assert (h_f[:, 2] > 0).any()


# ---------------------------------------------------------------------- load against a dataset
def _dataset(alphabet="dna", length=20, tracks=("cons",)):
    import pandas as pd

    from seqfm.dataset import Dataset

    return Dataset(np.zeros((2, length), np.uint8), np.zeros((2, len(tracks), length), np.float16),
                   np.ones(2, np.uint8), pd.DataFrame(), {"alphabet": alphabet, "tracks": list(tracks)})


@pytest.mark.parametrize("data, message", [
    ({"alphabet": "protein"}, r"model\.json: the model reads dna but the dataset ds holds protein"),
    ({"tracks": ("phyloP",)}, r"model\.json: the model was trained on track\(s\) \['cons'\]"),
    ({"tracks": ()}, r"model\.json: the model was trained on track\(s\) \['cons'\] but the dataset ds holds \[\]"),
    ({"length": 4}, r"ds: sequences of length 4 are shorter than the filters \(5\)"),
])
def test_load_refuses_a_dataset_the_model_cannot_read(tmp_path, data, message):
    net = M.SeqCNN({"n_tracks": 1, "n_filters": 3, "filter_width": 5})
    pt, js = M.save(net, tmp_path, {"tracks": ["cons"]})
    with pytest.raises(InputError, match=message) as err:
        M.load(pt, js, dataset=_dataset(**data), dataset_dir="ds")
    assert "\n" not in str(err.value)
    loaded, info = M.load(pt, js, dataset=_dataset(), dataset_dir="ds")
    assert loaded.arch["n_tracks"] == 1 and info["tracks"] == ["cons"]


def test_load_counts_the_tracks_of_a_model_json_without_names(tmp_path):
    pt, js = M.save(M.SeqCNN({"n_filters": 3, "filter_width": 5}), tmp_path)
    with pytest.raises(InputError, match=r"model\.json: the model reads 0 conservation track\(s\) "
                                         r"but the dataset has 1$"):
        M.load(pt, js, dataset=_dataset())
