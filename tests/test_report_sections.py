"""The sections of a sample's report page (seqfm.report.sections): what each shows, in which order,
and how long tables are capped and linked to their full files."""

import json
import re

import pytest

from seqfm.report import load, render_sample
from seqfm.report.sections import (MAX_FILTER_LOGOS, MAX_MOTIF_ROWS, MAX_SITE_ROWS, section_downloads,
                                   section_motifs, section_performance, section_run, section_scan,
                                   section_sites)

from test_report import SAMPLE, make_results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return load(make_results(tmp_path_factory.mktemp("results") / SAMPLE))


def test_motifs_ordered_by_influence_with_logos(results):
    sec = section_motifs(results)
    assert sec.index("TF1") < sec.index("&lt;script&gt;") < sec.index("no significant match")
    assert sec.count('<img') >= 3
    assert "filter_1<br>filter_4" in sec
    assert sec.count("badge ok") == 2 and "nearest: NEAREST1" in sec and "q 0.300" in sec
    assert "2 with a significant JASPAR match" in sec


def test_motif_rows_show_enrichment_and_conservation_share(results):
    sec = section_motifs(results)
    assert "50% / 5%" in sec and "OR 19.0" in sec and "p 1.0e-09" in sec
    assert "Δlogit -0.50" in sec and "sites kept 0.10" in sec
    assert "1 row(s) of kind <b>track-only</b> (motif_1)" in sec
    assert "E 0.001 · p 1.0e-06 · strand + · offset 1" in sec


def test_sites_capped_and_linked(results):
    sec = section_sites(results)
    motif_part, cam_part = sec.split("Strongest class-activation-map calls")
    assert len(re.findall(r"<tr><td class=\"mono\">chr1:", motif_part)) == MAX_SITE_ROWS
    assert len(re.findall(r"<tr><td class=\"mono\">chr1:", cam_part)) == 6  # every 10th call is a CAM call
    assert "60" in sec and 'href="sites.bed"' in sec and 'href="sites.gff3"' in sec
    # strongest first: the smallest q in the file is 1e-12 (the call named like a script tag)
    first = sec[sec.index("<tbody>"):]
    assert "1.0e-12" in first[:first.index("</tr>")] and "&lt;script&gt;" in first[:first.index("</tr>")]


def test_run_and_performance_say_what_was_trained(results):
    run = section_run(results)
    assert "40 sequences (20 positive, 20 negative) of 100 positions" in run
    assert "filters 6" in run and "strand-aware yes" in run and "5 epochs (best 4)" in run
    perf = section_performance(results)
    assert "0.953" in perf and "5-mer baseline: 0.801" in perf and "chance 0.50" in perf
    assert perf.count("<img") == 3  # roc, pr, training curves


def test_downloads_embed_small_files_within_the_budget(results):
    sec = section_downloads(results)
    assert 'href="model.pt"' in sec and 'download="demo_sample_metrics.json"' in sec
    assert 'download="demo_sample_model.pt"' not in sec  # weights are linked, never embedded
    assert "embedded copy" not in section_downloads(results, embed=False)


def test_scan_section_when_scan_folder_exists(tmp_path):
    root = make_results(tmp_path / "s", n_motifs=1, n_sites=3, n_filters=2)
    assert section_scan(load(root)) is None
    (root / "scan").mkdir()
    (root / "scan" / "cam.bw").write_bytes(b"\0" * 10)
    (root / "scan" / "summary.json").write_text(json.dumps({"bases": 3000000, "n_calls": 2, "n_filter_calls": 1,
                                                            "n_cam_calls": 1, "q": 0.05, "bases_per_s": 1.5e6}))
    (root / "scan" / "sites.bed").write_text(
        "#chrom\tstart\tend\tname\tscore\tstrand\tdetector\tcluster\tactivation\tp\tq\tmatch_name\n"
        "chr2\t500\t515\tmotif_1:chr2\t900\t+\tfilter_0\tmotif_1\t3.1\t1e-9\t1e-6\tCTCF\n"
        "chr2\t900\t919\tcam:chr2\t500\t-\tcam\t.\t7.0\t1e-5\t0.01\t.\n")
    sec = section_scan(load(root))
    assert 'href="scan/cam.bw"' in sec and 'href="scan/sites.bed"' in sec
    assert "3,000,000" in sec and "chr2:500-515" in sec and "chr2:900-919" not in sec  # motif calls first
    html = render_sample(load(root), n_featuremaps=0)
    assert html.index('id="featuremaps"') < html.index('id="scan"') < html.index('id="downloads"')


def test_large_tables_are_capped(tmp_path):
    root = load(make_results(tmp_path / "big", n_motifs=MAX_MOTIF_ROWS + 5, n_sites=500, n_filters=30))
    motifs = section_motifs(root)
    assert f"top {MAX_MOTIF_ROWS} of {MAX_MOTIF_ROWS + 5}" in motifs
    assert f"{MAX_FILTER_LOGOS} of 30 filter logos" in motifs
    assert "500" in section_sites(root)
