"""The motif report: sections, self-containedness, escaping, missing inputs, the index page.

The results folder is small but real: PNGs drawn by matplotlib and logomaker, TSV/BED files in
the formats the other stages write, a featuremaps.npz with the documented keys.
"""

import base64
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, random_dna, run_cli

EVIL = "<script>alert(1)</script>"
SAMPLE = "demo_sample"


# --------------------------------------------------------------------------- a results folder
_LOGOS: dict = {}


def _logo_png(path: Path, rng, width: int = 10, with_match: bool = True) -> None:
    """A logomaker logo (drawn once per kind, then copied: logomaker is slow)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if with_match not in _LOGOS:
        _draw_logo(path, rng, width, with_match)
        _LOGOS[with_match] = path.read_bytes()
    path.write_bytes(_LOGOS[with_match])


def _draw_logo(path: Path, rng, width: int, with_match: bool) -> None:
    import logomaker
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    panels = 2 if with_match else 1
    fig, axes = plt.subplots(panels, 1, figsize=(0.3 * width + 1.2, 1.4 * panels + 0.3), squeeze=False)
    for ax in axes[:, 0]:
        p = rng.dirichlet(np.full(4, 0.3), size=width)
        ic = 2 + (p * np.log2(p + 1e-12)).sum(axis=1)
        logomaker.Logo(pd.DataFrame(p * ic[:, None], columns=list("ACGT")), ax=ax)
        ax.set_ylim(0, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=80)
    plt.close(fig)


def make_results(root: Path, evil_name: str = EVIL, n_motifs: int = 3, n_sites: int = 60,
                 n_filters: int = 6, seed: int = 0) -> Path:
    """A results/{sample} folder with every file the report reads; one sequence (a FASTA header),
    one motif name and one BED name are ``evil_name``."""
    from seqfm import plots

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    L, n = 100, 40
    names = [evil_name] + [f"peak_{i:03d}" for i in range(1, n)]
    prep = pd.DataFrame({
        "name": names, "chrom": ["chr1"] * n, "start": [1000 * i for i in range(n)],
        "end": [1000 * i + L for i in range(n)], "strand": ["+"] * n,
        "label": [1] * (n // 2) + [0] * (n - n // 2),
        "split": (["train"] * 6 + ["valid"] * 2 + ["test"] * 2) * (n // 10),
        "source": [""] * n, "sequence": [random_dna(rng, L) for _ in range(n)]})
    prep.to_csv(root / "prepared.tsv", sep="\t", index=False)
    (root / "dataset").mkdir(exist_ok=True)
    (root / "dataset" / "dataset.json").write_text(json.dumps({
        "alphabet": "dna", "policy": "uniform", "tracks": ["conservation"],
        "track_files": ["resources/example/conservation.bw"], "n": n, "length": L, "n_positive": n // 2,
        "splits": {"train": 24, "valid": 8, "test": 8}, "seqfm_version": "0.1.0"}))
    (root / "model.json").write_text(json.dumps({
        "architecture": {"alphabet": "dna", "n_tracks": 1, "n_filters": n_filters, "filter_width": 11,
                         "strand_aware": True, "dilated_layers": 0, "global_pool": "max"},
        "alphabet": "dna", "channels": ["A", "C", "G", "T", "conservation"], "seqfm_version": "0.1.0",
        "training": {"epochs": 5, "best_epoch": 4, "device": "cpu"}}))
    (root / "model.pt").write_bytes(b"not a real checkpoint")
    (root / "metrics.json").write_text(json.dumps({
        "test": {"auroc": 0.953, "auprc": 0.941, "n": 8, "n_positive": 4},
        "valid": {"auroc": 0.962, "auprc": 0.950, "n": 8, "n_positive": 4},
        "baseline": {"auroc": 0.801, "auprc": 0.77, "n": 8, "n_positive": 4, "k": 5,
                     "model": "logistic regression on log1p k-mer counts"},
        "epochs": 5, "best_epoch": 4, "stopped_early": False, "device": "cpu", "seconds": 12.5,
        "seqfm_version": "0.1.0"}))
    hist = [{"epoch": e, "train_loss": 0.7 / e, "valid_loss": 0.75 / e, "valid_auroc": 0.7 + 0.05 * e,
             "valid_auprc": 0.68 + 0.05 * e, "lr": 0.005 / e, "best": e == 4, "seconds": 2.0,
             "seqs_per_s": 1000.0} for e in range(1, 6)]
    (root / "train").mkdir(exist_ok=True)
    pd.DataFrame(hist).to_csv(root / "train" / "epochs.csv", index=False)
    y = np.r_[np.ones(50), np.zeros(50)]
    s = y + rng.normal(0, 0.6, 100)
    curves = {"CNN": (y, s), "5-mer baseline": (y, y + rng.normal(0, 1.2, 100))}
    plots.roc(curves, root / "train" / "roc.png")
    plots.pr(curves, root / "train" / "pr.png")
    plots.training_curves(hist, root / "train" / "curves.png", best_epoch=4)

    rows = []
    for k in range(1, n_motifs + 1):
        _logo_png(root / "logos" / f"motif_{k}.png", rng)
        rows.append({"rank": k, "cluster": f"motif_{k}", "influence": round(0.3 / k, 4), "n_sites": 100 * k,
                     "ic": 9.5 - k, "match_id": f"MA000{k}.1" if k < n_motifs else "",
                     "match_name": (evil_name if k == 2 else f"TF{k}") if k < n_motifs else "",
                     "match_p": 1e-6 * k if k < n_motifs else 0.01, "match_q": 1e-4 * k if k < n_motifs else 0.3,
                     "nearest_id": f"MA000{k}.1" if k < n_motifs else "MA9999.1",
                     "nearest_name": f"TF{k}" if k < n_motifs else "NEAREST1",
                     "filters": f"filter_{k},filter_{k + 3}", "match_E": 1e-3 * k if k < n_motifs else "",
                     "match_offset": 1, "match_strand": "+", "kind": "motif" if k > 1 else "track-only",
                     "pos_frac": 0.5, "neg_frac": 0.05, "odds_ratio": 19.0, "fisher_p": 1e-9,
                     "track_sites_kept": 0.1 * k, "track_logit_change": -0.5 * k,
                     "consensus": "ACGTGACGTA", "logo": f"logos/motif_{k}.png"})
    pd.DataFrame(rows).to_csv(root / "motifs.tsv", sep="\t", index=False)
    for f in range(n_filters):
        _logo_png(root / "logos" / "filters" / f"filter_{f}.png", rng, with_match=False)
    pd.DataFrame({"filter": [f"filter_{f}" for f in range(n_filters)],
                  "cluster": [f"motif_{f % n_motifs + 1}" for f in range(n_filters)],
                  "influence": rng.random(n_filters).round(3)}).to_csv(
        root / "interpret" / "filters.tsv" if (root / "interpret").mkdir(exist_ok=True) is None else None,
        sep="\t", index=False)
    meme = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n" \
           "A 0.25 C 0.25 G 0.25 T 0.25\n\nMOTIF filter_0\nletter-probability matrix: alength= 4 w= 2 nsites= 10\n" \
           "0.7 0.1 0.1 0.1\n0.1 0.1 0.7 0.1\n"
    (root / "filters.meme").write_text(meme)
    (root / "interpret" / "motifs.meme").write_text(meme.replace("filter_0", "motif_1"))

    bed = ["#chrom\tstart\tend\tname\tscore\tstrand\tdetector\tcluster\tactivation\tp\tq\tmatch_name"]
    for i in range(n_sites):
        seq = i % n
        start = 1000 * seq + 20 + (i % 7) * 5
        nm = evil_name if i == 0 else f"motif_{i % n_motifs + 1}:{names[seq]}"
        q = 1e-12 if i == 0 else 10 ** -(1 + (i * 7) % 9)
        bed.append(f"chr1\t{start}\t{start + 10}\t{nm}\t{int(1000 * min(1, -np.log10(q) / 10))}\t"
                   f"{'+-'[i % 2]}\t{'cam' if i % 10 == 5 else f'filter_{i % n_filters}'}\t"
                   f"motif_{i % n_motifs + 1}\t{2.5:.3f}\t{q:.3g}\t{q:.3g}\t"
                   f"{'TF1' if i % n_motifs == 0 else '.'}")
    (root / "sites.bed").write_text("\n".join(bed) + "\n")
    (root / "sites.gff3").write_text("##gff-version 3\n")

    N, K, L1 = 5, 4, L - 10
    acts = np.maximum(rng.normal(0, 1, (N, K, L1)), 0).astype(np.float32)
    np.savez_compressed(
        root / "interpret" / "featuremaps.npz",
        names=np.array(names[:N]), rows=np.arange(N), logits=np.linspace(5, 3, N).astype(np.float32),
        codes=rng.integers(0, 4, (N, L), dtype=np.uint8), alphabet=np.array(list("ACGT")),
        cam=rng.normal(0, 1, (N, L1)).astype(np.float32), cam_offset=np.array(5), filter_width=np.array(11),
        filter_names=np.array([f"filter_{k}" for k in range(K)]), filters=acts,
        call_seq=np.array([0, 0, 1, 2]), call_detector=np.array(["filter_0", "cam", "filter_1", "filter_2"]),
        call_cluster=np.array(["motif_1", ".", "motif_2", "motif_1"]), call_strand=np.array(["+", "-", "+", "-"]),
        call_start=np.array([20, 40, 30, 50]), call_end=np.array([30, 51, 40, 60]),
        call_activation=np.ones(4, np.float32), call_p=np.full(4, 1e-4), call_q=np.full(4, 1e-3),
        truth_seq=np.array([0, 1]), truth_start=np.array([21, 31]), truth_end=np.array([30, 40]),
        truth_strand=np.array(["+", "+"]), truth_name=np.array(["CTCF", "FOXA2"]))
    return root


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("results") / SAMPLE)


@pytest.fixture(scope="module")
def page(results):
    from seqfm import report

    out = report.write_report(results, results / "report.html", sample=SAMPLE,
                              inputs={"positives": f"data/{EVIL}.fa", "negatives": "shuffle"},
                              config_digest="0123abcd4567")
    return out.read_text()


# --------------------------------------------------------------------------- HTML inspection
class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.ids, self.text = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        d = dict(attrs)
        self.attrs.append((tag, d))
        if "id" in d:
            self.ids.add(d["id"])

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def test_sections_in_order(page):
    p = parse(page)
    order = ["run", "performance", "motifs", "sites", "featuremaps", "downloads"]
    assert all(a in p.ids for a in order)
    pos = [page.index(f'id="{a}"') for a in order]
    assert pos == sorted(pos)
    text = " ".join(p.text)
    for needle in ("0.953", "0.801", "0123abcd4567", "conservation", "0.1.0", "train 24", "TF1", "MA0001.1"):
        assert needle in text, needle


def test_self_contained_no_network(page):
    p = parse(page)
    assert "script" not in p.tags
    for tag, a in p.attrs:
        for key in ("src", "href", "srcset", "poster", "data", "action"):
            v = a.get(key)
            if v is None:
                continue
            assert not re.match(r"^\s*(https?:|//|ftp:)", v, re.I), (tag, key, v[:80])
            if key == "src":
                assert v.startswith("data:image/"), (tag, v[:80])
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page
    assert "Content-Security-Policy" in page


def test_images_are_data_uris_that_decode(page):
    from PIL import Image
    import io

    imgs = [a for t, a in parse(page).attrs if t == "img"]
    # roc, pr, curves, 3 motif logos, 6 filter logos, 4 feature maps
    assert len(imgs) >= 3 + 3 + 6 + 4
    for a in imgs:
        head, _, b64 = a["src"].partition(",")
        assert head == "data:image/png;base64"
        data = base64.b64decode(b64, validate=True)
        im = Image.open(io.BytesIO(data))
        im.verify()
        assert im.size[0] > 10 and im.size[1] > 10
        w, h = int(a["width"]), int(a["height"])  # display size: the picture's, or scaled keeping its shape
        assert 0 < w <= im.size[0] and abs(w / h - im.size[0] / im.size[1]) < 0.02
        assert a.get("alt")


def test_malicious_names_are_escaped(page):
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = " ".join(parse(page).text)
    # shown as text: a sequence name (feature-map caption), a motif match, a BED name, an input path
    assert text.count(EVIL) >= 4


def test_missing_stages_leave_notes(tmp_path):
    from seqfm import report

    root = tmp_path / "early"
    root.mkdir()
    (root / "prepared.tsv").write_text("name\tchrom\tstart\tend\tstrand\tlabel\tsplit\tsource\tsequence\n"
                                       f"{EVIL}\t\t\t\t.\t1\ttrain\t\tACGT\n")
    html = report.write_report(root, root / "report.html").read_text()
    p = parse(html)
    assert {"run", "performance", "motifs", "sites", "featuremaps", "downloads"} <= p.ids
    assert "scan" not in p.ids
    for needle in ("metrics.json not found", "motifs.tsv not found", "sites.bed not found",
                   "featuremaps.npz not found"):
        assert needle in html
    assert "<img" not in html


def test_malformed_input_is_one_clear_line(tmp_path):
    root = make_results(tmp_path / "bad", n_motifs=1, n_sites=2, n_filters=2)
    (root / "metrics.json").write_text("{not json")
    proc = run_cli("report", "--results", root, "--out", root / "report.html")
    assert proc.returncode == 2
    assert "metrics.json: not valid JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "report.html").exists()


def test_cli_report_and_index(tmp_path):
    a = make_results(tmp_path / "results" / "alpha", seed=1)
    b = tmp_path / "results" / "beta"
    b.mkdir()
    proc = run_cli("report", "--results", a, "--out", a / "report.html", "--sample", "alpha",
                   "--input", "positives=pos.bed", "--config-digest", "feedbeef")
    assert proc.returncode == 0, proc.stderr
    assert "feedbeef" in (a / "report.html").read_text()
    proc = run_cli("report", "--index", "--results", a, b, "--out", tmp_path / "results" / "index.html")
    assert proc.returncode == 0, proc.stderr
    idx = (tmp_path / "results" / "index.html").read_text()
    assert 'href="alpha/report.html"' in idx and 'href="beta/report.html"' in idx
    assert "test AUROC 0.953" in idx and "top motif TF1" in idx and "not trained yet" in idx
    assert "<script" not in idx


def test_bad_sample_name_refused(tmp_path):
    root = make_results(tmp_path / "s", n_motifs=1, n_sites=2, n_filters=2)
    proc = run_cli("report", "--results", root, "--out", root / "r.html", "--sample", "../x")
    assert proc.returncode == 2 and "sample name" in proc.stderr


def test_report_module_imports_neither_torch_nor_matplotlib():
    import subprocess

    # torch: the report only reads files; matplotlib: loaded on the first figure drawn
    code = ("import sys, seqfm.report, seqfm.commands.report; "
            "print(sorted(m for m in ('matplotlib', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_report_rule_defaults_match_the_cli():
    from seqfm.cli import build_parser

    text = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    defaults = eval(re.search(r"REPORT_DEFAULTS = (\{.*?\})", text, re.S).group(1))
    args = build_parser().parse_args(["report", "--results", "r", "--out", "o"])
    assert defaults == {"max_motifs": args.max_motifs, "max_sites": args.max_sites,
                        "featuremaps": args.featuremaps, "embed_downloads": args.embed_downloads}
    import yaml

    assert yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["report"] == defaults
