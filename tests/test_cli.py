"""One command-line language: verbs in data-path order, one name per input, the same seed and a
thread default that is safe on a shared node; old spellings still accepted, with a warning."""

import argparse

from conftest import run_cli
from seqfm.cli import build_parser
from seqfm.commands import _common


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _options(verb):
    """Visible option strings of a verb (hidden deprecated spellings left out)."""
    p = _subparsers()[verb]
    return {s for a in p._actions if a.help is not argparse.SUPPRESS for s in a.option_strings}


def test_verbs_are_listed_in_data_path_order():
    out = run_cli("--help").stdout
    verbs = ["simulate", "prepare", "encode", "train", "motifs", "sites", "scan-plan", "scan-null", "scan",
             "scan-merge", "report"]
    where = [out.index(f"    {v} ") if f"    {v} " in out else out.index(f"    {v}\n") for v in verbs]
    assert where == sorted(where), dict(zip(verbs, where))


def test_one_name_per_input_and_per_meaning():
    # the filters table of `seqfm motifs` is --filters-tsv wherever a verb reads it
    assert "--filters-tsv" in _options("sites") and "--filters-tsv" in _options("scan")
    assert "--motifs" not in _options("sites")
    # the encoded dataset is --dataset in every verb that reads it, never a positional
    for verb in ("train", "motifs", "sites"):
        assert "--dataset" in _options(verb), verb
    assert "--prepared" in _options("encode")
    for verb, p in _subparsers().items():
        visible = [a for a in p._actions if not a.option_strings and a.help is not argparse.SUPPRESS]
        assert visible == [], (verb, [a.dest for a in visible])
    # call merging is --merge-calls in both verbs that merge calls; shards are gathered by
    # their own verb, which reads q and the merging from the shards
    assert {"--merge-calls"} <= _options("sites") & _options("scan")
    assert "--merge" not in _options("sites") | _options("scan")
    assert {"--shards", "--out", "--filters-tsv"} <= _options("scan-merge")
    assert not {"--q", "--merge-calls", "--model", "--tile"} & _options("scan-merge")
    # the null's verb takes what the null depends on, not the calls' options
    assert {"--null-bases", "--strata", "--tile"} <= _options("scan-null")
    assert not {"--q", "--merge-calls", "--bin", "--shard"} & _options("scan-null")


def test_every_seed_defaults_to_1():
    seeds = {verb: p.get_default("seed") for verb, p in _subparsers().items() if "--seed" in _options(verb)}
    assert set(seeds) >= {"simulate", "prepare", "encode", "train", "motifs", "sites", "scan"}
    assert set(seeds.values()) == {1}, seeds


def test_thread_default_follows_the_allocation(monkeypatch):
    for var in (*_common._ALLOCATION_VARS, "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_common.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert _common.default_threads() == _common.MAX_DEFAULT_THREADS  # not all 64 cores
    monkeypatch.setattr(_common.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert _common.default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _common.default_threads() == 3
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "5")
    assert _common.default_threads() == 5
    parser = build_parser()
    model = ["--model", "m.pt", "--model-json", "m.json", "--dataset", "d", "--out", "x"]
    for verb, argv in (("train", ["--dataset", "d", "--out", "x"]), ("motifs", model),
                       ("sites", model), ("scan", [*model[:4], "--genome", "g", "--out", "x"]),
                       ("scan-null", [*model[:4], "--genome", "g", "--out", "n.npz"])):
        args = parser.parse_args([verb, *argv])
        assert args.threads is None and _common.threads(args) == 5, verb
        assert _common.threads(parser.parse_args([verb, *argv, "--threads", "0"])) == 0


def test_old_spellings_still_work():
    parser = build_parser()
    a = parser.parse_args(["sites", "--model", "m", "--model-json", "j", "--dataset", "d", "--out", "o",
                           "--motifs", "f.tsv", "--merge", "all"])
    assert a.filters_tsv == "f.tsv" and a.merge_calls == "all"
    a = parser.parse_args(["train", "data/ds", "--out", "o"])
    assert _common.dataset_option(a, "dataset", "dataset_dir", "--dataset") == "data/ds"
    a = parser.parse_args(["encode", "prepared.tsv", "--out", "o"])
    assert _common.dataset_option(a, "prepared", "prepared_tsv", "--prepared") == "prepared.tsv"


def test_missing_dataset_is_one_clear_line(tmp_path):
    r = run_cli("train", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--dataset is required" in r.stderr and "Traceback" not in r.stderr


def test_scan_plan_packs_short_sequences_and_names_a_wrong_chromosome(small_genome, tmp_path):
    fa = small_genome["fasta"]
    r = run_cli("scan-plan", "--genome", fa, "--shard-bases", 18000, "--out", tmp_path / "plan")
    assert r.returncode == 0, r.stderr
    rows = (tmp_path / "plan" / "shards.tsv").read_text().splitlines()
    assert rows[1:] == ["chr1\t1\t20000\tchr1\tchr1", "chr2\t1\t15000\tchr2\tchr2",
                        "chr3\t1\t10000\tchr3\tchr3"]
    assert (tmp_path / "plan" / "chr1.txt").read_text() == "chr1\n"
    r = run_cli("scan-plan", "--genome", fa, "--chrom", "chr3,chr2", "--shard-bases", 30000,
                "--out", tmp_path / "plan2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plan2" / "chr2+1.txt").read_text() == "chr2\nchr3\n"  # genome order
    r = run_cli("scan-plan", "--genome", fa, "--chrom", "chr9", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "'chr9'" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "bad").exists()
