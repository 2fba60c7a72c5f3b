import numpy as np
import pytest
import torch

from seqfm import featuremaps as fm
from seqfm import model as M
from seqfm.alphabet import DNA, reverse_complement_codes

MOTIF = "GATTACAG"  # not its own reverse complement (CTGTAATC)


def motif_model(motif=MOTIF, width=None, offset=0, n_filters=1, strong=0.97, bias=-12.0):
    """A strand-aware SeqCNN whose filter 0 holds the log2-odds of ``motif`` at ``offset``
    inside a window of ``width``; only perfect matches give a positive activation."""
    width = width or len(motif)
    net = M.SeqCNN({"n_filters": n_filters, "filter_width": width, "dropout": 0.0}).eval()
    w = np.zeros((n_filters, 4, width), dtype=np.float32)
    weak = (1 - strong) / 3
    for j, letter in enumerate(motif):
        probs = np.full(4, weak)
        probs["ACGT".index(letter)] = strong
        w[0, :, offset + j] = np.log2(probs / 0.25)
    with torch.no_grad():
        net.conv1.weight.copy_(torch.from_numpy(w))
        net.conv1.bias.fill_(bias)
        net.head.weight.zero_()
        net.head.weight[0, 0] = 1.0
        net.head.bias.zero_()
    return net


def codes_of(seq: str) -> np.ndarray:
    return DNA.encode(seq)


def random_codes(rng, n, length):
    return rng.integers(0, 4, (n, length)).astype(np.uint8)


def test_nms_keeps_one_peak_per_bump_and_the_leftmost_of_ties():
    v = torch.tensor([[0, 1, 3, 2, 0, 0, 0, 5, 5, 1, 0, 0, 0, 0, 4]], dtype=torch.float32)
    keep = fm.nms_mask(v, width=5)
    assert keep[0].nonzero().flatten().tolist() == [2, 7, 14]
    # floor: zero-valued stretches are no peaks; with floor None a plateau is one candidate
    assert not keep[0, 4:7].any()
    every = fm.nms_mask(torch.zeros(1, 12), width=5, floor=None)
    assert every[0].nonzero().flatten().tolist() == [0]
    flat = fm.nms_mask(v, width=5, floor=None)
    assert flat[0].nonzero().flatten().tolist() == [2, 7, 14]


def test_nms_on_many_rows_matches_a_loop():
    rng = np.random.default_rng(0)
    v = torch.from_numpy(rng.random((3, 4, 50)).astype(np.float32))
    keep = fm.nms_mask(v, width=7)
    for i in range(3):
        for f in range(4):
            row = v[i, f].numpy()
            want = [j for j in range(50) if row[j] == row[max(0, j - 3): j + 4].max()]
            assert keep[i, f].nonzero().flatten().tolist() == want


def test_filter_cores_and_site_intervals_on_both_strands():
    net = motif_model(width=12, offset=2)
    cores = fm.filter_cores(net.conv1.weight.detach().numpy(), 4)
    assert cores.tolist() == [[2, 10]]
    s, e = fm.site_intervals(np.array([5, 5, 5]), np.array([0, 1, 0]), np.array([0, 0, -1]), cores, 12)
    # forward: [5+2, 5+10); reverse: the core mirrored in the window, [5+12-10, 5+12-2); CAM: window
    assert s.tolist() == [7, 7, 5] and e.tolist() == [15, 15, 17]
    net2 = motif_model(width=12, offset=1)
    cores2 = fm.filter_cores(net2.conv1.weight.detach().numpy(), 4)
    s, e = fm.site_intervals(np.array([0]), np.array([1]), np.array([0]), cores2, 12)
    assert (s[0], e[0]) == (12 - 9, 12 - 1)


def test_planted_motif_peaks_on_the_right_strand_and_window():
    rng = np.random.default_rng(3)
    codes = random_codes(rng, 2, 60)
    codes[0, 10:18] = codes_of(MOTIF)
    rc = reverse_complement_codes(codes_of(MOTIF)).copy()
    codes[1, 33:41] = rc
    net = motif_model()
    fp, cp = fm.scan_peaks(net, codes, None, np.arange(2), DNA, "uniform", torch.device("cpu"),
                           nms_width=8)
    found = sorted(zip(fp.seq.tolist(), fp.pos.tolist(), fp.strand.tolist()))
    assert found == [(0, 10, 0), (1, 33, 1)]
    cam = sorted(zip(cp.seq.tolist(), cp.pos.tolist(), cp.strand.tolist(), cp.value.tolist()))
    top = [max((c for c in cam if c[0] == i), key=lambda c: c[3]) for i in (0, 1)]
    assert [(c[1], c[2]) for c in top] == [(10, 0), (33, 1)]


def test_batch_peaks_counts_every_local_maximum():
    rng = np.random.default_rng(1)
    codes = random_codes(rng, 5, 40)
    net = motif_model()
    for rows, x in fm.iter_arrays(codes, None, DNA, "uniform", torch.device("cpu"), 8):
        fp, cp, n_f, n_c = fm.batch_peaks(net, x, rows, 8)
        values, _ = fm.strand_max(net.filter_activations(x))
        assert n_f[0] == int(fm.nms_mask(values, 8, floor=None).sum())
        assert len(fp) == int((fm.nms_mask(values, 8, floor=None) & (values > 0)).sum())
        assert n_c == len(cp) > 0


def test_inputs_are_made_in_batches_from_codes():
    rng = np.random.default_rng(2)
    codes = random_codes(rng, 7, 30)
    tracks = rng.random((7, 1, 30)).astype(np.float16)
    seen = []
    for rows, x in fm.iter_inputs(codes, tracks, np.array([6, 0, 3]), DNA, "uniform",
                                  torch.device("cpu"), batch_size=2):
        assert x.shape == (len(rows), 5, 30) and x.dtype == torch.float32
        assert torch.equal(x[:, 4], torch.from_numpy(tracks[rows, 0].astype(np.float32)))
        seen += rows.tolist()
    assert seen == [6, 0, 3]


@pytest.mark.parametrize("dilated", [0, 2])
def test_stranded_cam_is_the_model_cam(dilated):
    torch.manual_seed(0)
    net = M.SeqCNN({"n_filters": 4, "filter_width": 5, "dilated_layers": dilated,
                    "dilated_channels": 4}).eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 40))].transpose(0, 2, 1).copy())
    with torch.no_grad():
        cam, strand = fm.stranded_cam(net, x)
        assert torch.allclose(cam, net.class_activation_map(x))
        assert strand.shape == cam.shape and set(strand.unique().tolist()) <= {0, 1}
