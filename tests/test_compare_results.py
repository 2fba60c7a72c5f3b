"""scripts/compare-results.py: what a behaviour-preserving change must leave identical."""

import json
import time

import numpy as np

from conftest import ROOT, load_script

cr = load_script(ROOT / "scripts" / "compare-results.py")


def write(folder, seconds, value, svg_id="pabcdef0123"):
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"n_calls": value, "seconds": seconds,
                                                     "bases_per_s": 1e6 / seconds}))
    (folder / "epochs.csv").write_text(f"epoch,auroc,seconds\n1,0.9,{seconds}\n")
    (folder / "logo.svg").write_text(f'<dc:date>2026-12-0{value}T12:00:00</dc:date><g clip-path="url(#{svg_id})"/>')
    np.savez(folder / "maps.npz", a=np.arange(5) * value)
    (folder / "report.html").write_text(
        f'<div class="v">{int(9e6 / seconds):,}</div><div class="l">bases per second</div>'
        f'<div class="v">{value}</div><div class="l">calls</div>'
        f'<a href="scan/summary.json">scan/summary.json</a> <span class="muted">{770 + int(seconds)} B</span>')
    (folder / "logs").mkdir()
    (folder / "logs" / "run.log").write_text(str(time.time()))


def test_timings_dates_and_ids_aside_the_outputs_are_the_same(tmp_path):
    write(tmp_path / "a", 1.5, 1)
    time.sleep(1.1)  # the npz entries carry their writing time
    write(tmp_path / "b", 2.5, 1, svg_id="p0123abcdef")
    assert cr.compare(tmp_path / "a", tmp_path / "b", cr.SKIP) == []


def test_a_changed_value_is_a_difference(tmp_path):
    write(tmp_path / "a", 1.5, 1)
    write(tmp_path / "b", 1.5, 2)
    (tmp_path / "b" / "extra.tsv").write_text("x\n")
    diffs = cr.compare(tmp_path / "a", tmp_path / "b", cr.SKIP)
    assert sorted(d.split(":")[0] for d in diffs) == ["extra.tsv", "maps.npz", "report.html",
                                                      "summary.json"]
    assert cr.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1


def test_two_checkouts_compare_alike(tmp_path):
    """A shard's scan.json names files in its own project: two checkouts still compare equal."""
    for project in ("one", "two"):
        res = tmp_path / project / "results"
        res.mkdir(parents=True)
        (res / "scan.json").write_text(json.dumps({"null": str(res / "null.npz"), "n": 3}))
        (res / "sites.bed").write_text(f"# genome {tmp_path / project}/genome.fa\nchr1\t1\t2\n")
    assert cr.compare(tmp_path / "one" / "results", tmp_path / "two" / "results", cr.SKIP) == []
    (tmp_path / "two" / "results" / "scan.json").write_text(json.dumps({"null": "/elsewhere", "n": 3}))
    assert cr.compare(tmp_path / "one" / "results", tmp_path / "two" / "results", cr.SKIP) == [
        "scan.json: differs"]
