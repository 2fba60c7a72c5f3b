"""seqfm among other tools: the workflow as a Snakemake module of another workflow, the package
installed from a wheel (not editable), and the catalog layout's checks (lint, format, profile)."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from conftest import ROOT

# the module run: the DNA sample only, one epoch, a small null, one small chromosome scanned
MODULE_CONFIG = {
    "train": {"epochs": 1},
    "motifs": {"logos": False, "shuffles": 0},
    "sites": {"null_copies": 2},
    "scan": {"chroms": ["chr5"], "null_bases": 20000},
}


def _deep_update(base, new):
    for key, value in new.items():
        if isinstance(value, dict):
            _deep_update(base.setdefault(key, {}), value)
        else:
            base[key] = value
    return base


@pytest.mark.slow
def test_workflow_runs_as_a_module_of_another_workflow(tmp_path):
    project = tmp_path / "analysis"
    (project / "config").mkdir(parents=True)
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    config = _deep_update(config, MODULE_CONFIG)
    (project / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    samples = (ROOT / ".test" / "config" / "samples.tsv").read_text().splitlines()
    (project / "config" / "samples.tsv").write_text("\n".join(samples[:2]) + "\n")  # dna_example
    (project / "workflow").mkdir()
    # what `snakedeploy deploy-workflow` writes, with a local path for the GitHub release, and a
    # rule of the host workflow that uses the module's calls
    (project / "workflow" / "Snakefile").write_text(textwrap.dedent(f"""\
        configfile: "config/config.yaml"


        module seqfm:
            snakefile:
                "{ROOT / 'workflow' / 'Snakefile'}"
            config:
                config


        use rule * from seqfm


        rule count_calls:
            input:
                rules.all.input,
                bed="results/dna_example/scan/sites.bed",
            output:
                "results/call_counts.txt",
            log:
                "logs/count_calls.log",
            shell:
                "grep -vc '^#' {{input.bed}} > {{output}} 2> {{log}} || true"


        rule host_all:
            input:
                "results/call_counts.txt",
            default_target: True
        """))
    proc = subprocess.run(["snakemake", "--cores", "2"], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = project / "results" / "dna_example"
    for name in ("report.html", "metrics.json", "sites.bed", "motifs.tsv", "scan/sites.bed"):
        assert (res / name).is_file(), name
    assert (project / "results" / "index.html").is_file()
    assert int((project / "results" / "call_counts.txt").read_text()) >= 0
    assert "seqfm INFO" in (res / "logs" / "scan_plan.log").read_text()


@pytest.mark.slow
def test_wheel_install_reads_its_schema(tmp_path):
    """`pip install .` (a wheel, not editable) ships the JSON schemas: `seqfm scan-plan` runs and
    the samples reader validates against the installed schema, away from the source tree."""
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    py = venv / "bin" / "python"
    # the dependencies come from the test environment (no download): its site-packages on the
    # path after the venv's own (a plain path line: its editable install of seqfm stays unused)
    own = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (venv / own / "test-environment.pth").write_text("\n".join(sorted(deps)) + "\n")
    proc = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps",
                           str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = dict(cwd=tmp_path, env=env, capture_output=True, text=True)
    where = subprocess.run([py, "-c", "import seqfm.samples as s; print(s.SCHEMA)"], **run)
    assert where.returncode == 0, where.stderr
    schema = where.stdout.strip()
    assert schema.startswith(str(venv)) and os.path.isfile(schema), schema
    (tmp_path / "samples.tsv").write_text("sample\talphabet\tpositives\tnegatives\nok\trna\tp.fa\tshuffle\n")
    bad = subprocess.run([py, "-c", "from seqfm.samples import read_samples; read_samples('samples.tsv')"],
                         **run)
    assert "column 'alphabet' is 'rna'; use one of dna, protein" in bad.stderr
    (tmp_path / "g.fa").write_text(">chrA\n" + "ACGT" * 50 + "\n>chrB\n" + "ACGT" * 25 + "\n")
    plan = subprocess.run([venv / "bin" / "seqfm", "scan-plan", "--genome", "g.fa", "--shard-bases", "1000",
                           "--out", "plan"], **run)
    assert plan.returncode == 0, plan.stderr
    assert (tmp_path / "plan" / "chrA+1.txt").read_text() == "chrA\nchrB\n"
    # ENCODE files as downloaded: peaks gzipped, the genome bgzipped
    import gzip

    from Bio import bgzf

    rng = np.random.default_rng(3)
    with bgzf.BgzfWriter(str(tmp_path / "genome.fa.gz")) as handle:
        for c in ("chr1", "chr2"):
            handle.write(f">{c}\n" + "".join(rng.choice(list("ACGT"), 5000)) + "\n")
    peaks = "".join(f"chr1\t{s}\t{s + 300}\tpeak{i}\t100\t.\t5.0\t-1\t-1\t150\n"
                    for i, s in enumerate(range(100, 4500, 400)))
    (tmp_path / "peaks.narrowPeak.gz").write_bytes(gzip.compress(peaks.encode()))
    prep = subprocess.run([venv / "bin" / "seqfm", "prepare", "--positives", "peaks.narrowPeak.gz",
                           "--genome", "genome.fa.gz", "--negatives", "shuffle", "--length", "100",
                           "--out", "prepared.tsv"], **run)
    assert prep.returncode == 0, prep.stderr
    table = (tmp_path / "prepared.tsv").read_text().splitlines()
    assert len(table) == 1 + 2 * 11 and table[1].split("\t")[1] == "chr1"


def test_catalog_files_are_there():
    for name in ("workflow/Snakefile", ".snakemake-workflow-catalog.yml", "LICENSE", "CITATION.cff",
                 ".test/config/config.yaml", ".test/config/samples.tsv", "config/README.md",
                 "seqfm/schemas/config.schema.yaml", "seqfm/schemas/samples.schema.yaml"):
        assert (ROOT / name).is_file(), name
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["license"] == "MIT"
    # one home for the schemas: the workflow reads the package's
    assert not (ROOT / "workflow" / "schemas").exists()
    assert "seqfm/schemas/" in (ROOT / "workflow" / "rules" / "common.smk").read_text()
    # the workflow parses without seqfm: no rule file imports it
    for smk in [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk"), ROOT / "workflow" / "Snakefile"]:
        text = smk.read_text()
        assert "import seqfm" not in text and "from seqfm" not in text, smk


@pytest.mark.slow
def test_lint_and_format_are_clean():
    if not shutil.which("snakefmt"):
        pytest.skip("snakefmt is not installed (pip install -e '.[dev]')")
    proc = subprocess.run([sys.executable, "scripts/lint-workflow.py"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["snakefmt", "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_lint_check_fails_on_another_finding(tmp_path):
    """The lint check accepts only the documented finding: a rule without a log fails it."""
    for name in ("Snakefile", "workflow", "config", "seqfm/schemas", "scripts"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    with open(tmp_path / "workflow" / "rules" / "report.smk", "a") as f:
        f.write('\n\nrule no_log:\n    output:\n        "x.txt",\n    shell:\n        "touch {output}"\n')
    proc = subprocess.run([sys.executable, "scripts/lint-workflow.py"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "No log directive defined" in proc.stderr


def test_profile_is_found_from_the_repository_root(tmp_path):
    """`snakemake` in the repository root uses profiles/default (the workflow's) by itself."""
    assert (ROOT / "profiles" / "default" / "config.yaml").resolve() == \
        (ROOT / "workflow" / "profiles" / "default" / "config.yaml").resolve()
    proc = subprocess.run(["snakemake", "-n", "--cores", "1", "--directory", ROOT / ".test"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Using workflow specific profile profiles/default" in proc.stdout + proc.stderr
