"""The training figures (seqfm.plots): roc.png, pr.png and curves.png under results/{sample}/train.

What a user relies on: each call writes a PNG that opens, in place of any older one and with
no temporary file left beside it; the figure carries what its caption promises (one curve per
scorer with its AUROC/AUPRC in the legend, the chance line, the kept epoch); a scorer that has
no curve on the data (one class only) is left out instead of failing the run.
"""

import numpy as np
import pytest
from PIL import Image

from seqfm import metrics, plots


@pytest.fixture
def drawn(monkeypatch):
    """The figures plots.* draw, kept open so their axes can be read after the PNG is written."""
    figures = []
    save = plots._save

    def keep(fig, path):
        figures.append(fig)  # _save closes it; a closed Figure can still be read
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def scorers(seed=0, n=200):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    return {"CNN": (y, y + rng.normal(0, 0.5, n)), "5-mer baseline": (y, y + rng.normal(0, 1.5, n))}


def opens_as_png(path) -> Image.Image:
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG" and im.width > 200 and im.height > 200
        colours = im.convert("RGB").getcolors(1 << 16)  # None: more than 65536
        assert colours is None or len(colours) > 10  # lines and text, not a blank canvas
        return im


def legend(fig, axis=0) -> list[str]:
    return [t.get_text() for t in fig.axes[axis].get_legend().get_texts()]


def test_roc_has_one_curve_per_scorer_with_its_auroc(tmp_path, drawn):
    curves = scorers()
    out = plots.roc(curves, tmp_path / "train" / "roc.png")
    assert out == tmp_path / "train" / "roc.png"
    opens_as_png(out)
    expect = [f"{name} (AUROC {metrics.auroc(y, s):.3f})" for name, (y, s) in curves.items()]
    assert legend(drawn[0]) == expect
    assert drawn[0].axes[0].get_xlabel() == "false positive rate"


def test_pr_has_the_chance_line_at_the_share_of_positives(tmp_path, drawn):
    curves = scorers()
    opens_as_png(plots.pr(curves, tmp_path / "pr.png"))
    labels = legend(drawn[0])
    assert labels[:2] == [f"{name} (AUPRC {metrics.auprc(y, s):.3f})" for name, (y, s) in curves.items()]
    assert labels[2] == "chance (0.50)"


def test_a_scorer_without_both_classes_is_left_out(tmp_path, drawn):
    curves = scorers()
    curves["empty test split"] = (np.zeros(0), np.zeros(0))
    curves["positives only"] = (np.ones(10), np.arange(10.0))
    opens_as_png(plots.roc(curves, tmp_path / "roc.png"))
    assert [t.split(" (")[0] for t in legend(drawn[0])] == ["CNN", "5-mer baseline"]


def test_training_curves_mark_the_kept_epoch(tmp_path, drawn):
    history = [{"epoch": e, "train_loss": 0.7 / e, "valid_loss": 0.8 / e, "valid_auroc": 0.6 + 0.05 * e,
                "valid_auprc": 0.55 + 0.05 * e, "lr": 0.005 / e} for e in range(1, 7)]
    history[-1]["valid_loss"] = None  # a value that was not recorded is a gap, not a failure
    opens_as_png(plots.training_curves(history, tmp_path / "curves.png", best_epoch=4))
    fig = drawn[0]
    assert [ax.get_title() for ax in fig.axes] == ["loss", "validation", "schedule"]
    assert "best (4)" in legend(fig, 0) and "best (4)" in legend(fig, 1)
    assert list(fig.axes[2].lines[0].get_xdata()) == list(range(1, 7))


def test_a_figure_replaces_the_old_one_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "roc.png"
    path.write_bytes(b"an older figure")
    plots.roc(scorers(), path)
    opens_as_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]
