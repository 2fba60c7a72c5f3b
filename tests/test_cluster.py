"""The workflow on a real one-node SLURM cluster, through Snakemake's SLURM executor.

The module starts SLURM on this machine with scripts/slurm/setup_slurm.sh (root and apt-get
needed; the node offers one `gpu` GRES with no device behind it), then runs exactly the commands
of README.md's "Running on a cluster" section in a copy of the workflow:

1. the example plus a sample whose positives are a malformed FASTA: the failing cluster job makes
   the run fail and the rule's log is shown;
2. the bad sample dropped, the same command with ``--rerun-incomplete``: the run resumes and jobs
   that finished in (1) are not submitted again;

and compares the results with a local run (workflow/profiles/default) of the same example. The
daemons it started are stopped at the end, also when a test fails.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# The commands of README.md's "Running on a cluster" section, run as they are written there.
SETUP = "SLURM_CI_FAKE_GPU=1 bash scripts/slurm/setup_slurm.sh"
TEARDOWN = "bash scripts/slurm/teardown.sh"
SMALL_YAML = """\
simulate: {seed: 3, genome_size: 1000000, n_positives: 600}
train: {epochs: 1}
motifs: {logos: false, threads: 1}
sites: {threads: 1}
scan: {chroms: [chr4, chr5], null_bases: 20000, threads: 1}
"""
RUN = "snakemake --workflow-profile workflow/profiles/slurm --configfile small.yaml"
RESUME = RUN + " --rerun-incomplete"
LOCAL = ("snakemake results/dna_example/model.pt --cores 2 --workflow-profile workflow/profiles/default "
         "--configfile small.yaml")
SQUEUE = "squeue --states=all -o '%i|%T|%k'"
SCONTROL = "scontrol show job -d"
README_COMMANDS = [SETUP, TEARDOWN, RUN, RESUME, LOCAL, SQUEUE, SCONTROL, *SMALL_YAML.splitlines()]

BROKEN_FASTA = "ACGTACGTAC\n>seq1\nACGTNNACGT\n"   # sequence before the first header
BROKEN_ROW = "broken\tdna\tdata/broken.fa\tshuffle\tresources/example/genome.fa\t\n"
SAMPLE = "dna_example"
# rules that must never run as local jobs
HEAVY = {"prepare", "encode", "train", "motifs", "sites", "scan_null", "scan_shard", "scan"}
LOCK = Path(os.environ.get("TMPDIR", "/tmp")) / "seqfm-slurm.lock"
PIDDIR = Path(os.environ.get("SLURM_CI_PIDDIR", Path(os.environ.get("TMPDIR", "/tmp")) / "seqfm-slurm" / "pids"))


def _sh(cmd, cwd, timeout=600):
    t0 = time.monotonic()
    proc = subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    proc.seconds = time.monotonic() - t0
    proc.output = proc.stdout + proc.stderr
    return proc


def _ours_running():
    """True when slurmctld runs from an earlier setup_slurm.sh call (its PID file names it)."""
    f = PIDDIR / "slurmctld.pid"
    try:
        return Path(f"/proc/{f.read_text().strip()}/comm").read_text().strip() == "slurmctld"
    except OSError:
        return False


@pytest.fixture(scope="module")
def slurm():
    """A running one-node SLURM cluster with a fake GPU; stopped afterwards if this fixture started it."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM cluster test needs root (it installs slurm-wlm and runs its daemons)")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        pytest.skip("the SLURM cluster test needs apt-get (Debian/Ubuntu) to install slurm-wlm")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one cluster test at a time on this machine
        started = not _ours_running()
        try:
            proc = _sh(SETUP, ROOT, timeout=900)
            assert proc.returncode == 0, f"{SETUP} failed:\n{proc.output[-4000:]}"
            yield {"setup_seconds": proc.seconds}
        finally:
            if started:
                _sh(TEARDOWN, ROOT, timeout=120)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _copy_workflow(dest):
    # the workflow's files; it reads the JSON schemas from the package's folder beside it
    for name in ("Snakefile", "workflow", "config", "seqfm/schemas"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    (dest / "small.yaml").write_text(SMALL_YAML)
    return dest


def _jobs(output):
    """Jobs a snakemake run started: [{rule, local, jobid, wildcards, slurm_id, slurm_log}].

    Read from the run's own job headers ("rule X:" / "localrule X:" and the indented lines below);
    the headers inside failed jobs' logs that the run prints (the job's own snakemake, jobid 0)
    and the final "all" job are left out.
    """
    jobs, cur = {}, None
    for line in output.splitlines():
        m = re.match(r"^(local)?rule (\w+):$", line)
        if m:
            cur = {"rule": m[2], "local": bool(m[1]), "wildcards": "", "slurm_id": None, "jobid": None}
        elif cur is not None and line.startswith("    "):
            if m := re.match(r"^    (jobid|wildcards): (.*)$", line):
                cur[m[1]] = m[2].strip()
        else:
            if cur is not None and cur["jobid"] not in (None, "0") and cur["jobid"] not in jobs:
                jobs[cur["jobid"]] = cur
            cur = None
    for m in re.finditer(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.", output):
        jobs[m[1]]["slurm_id"], jobs[m[1]]["slurm_log"] = m[2], m[3]
    return list(jobs.values())


def _squeue():
    """{job id: (state, comment)} of every job slurmctld still remembers (MinJobAge=1800)."""
    out = subprocess.run(SQUEUE, shell=True, capture_output=True, text=True, check=True).stdout
    rows = [line.split("|", 2) for line in out.splitlines()[1:] if line]
    return {i: (s, c) for i, s, c in rows}


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory):
    """The README's cluster commands in a copy of the workflow, and a local run (up to the
    trained model) to compare with."""
    t0 = time.monotonic()
    local = _copy_workflow(tmp_path_factory.mktemp("local"))
    # the local reference runs beside the cluster runs (which mostly wait for squeue polls)
    local_proc = subprocess.Popen(LOCAL, shell=True, cwd=local, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    work = _copy_workflow(tmp_path_factory.mktemp("cluster"))
    samples = work / "config" / "samples.tsv"
    good_samples = samples.read_text()
    (work / "data").mkdir()
    (work / "data" / "broken.fa").write_text(BROKEN_FASTA)
    samples.write_text(good_samples + BROKEN_ROW)

    try:
        failed = _sh(RUN, work)
        (work / "run-failed.txt").write_text(failed.output)
        failed_queue = _squeue()
        samples.write_text(good_samples)           # drop the bad sample, resume
        resumed = _sh(RESUME, work)
        (work / "run-resumed.txt").write_text(resumed.output)
        resumed_queue = _squeue()
        local_out, _ = local_proc.communicate(timeout=600)
    finally:
        if local_proc.poll() is None:
            local_proc.kill()
            local_proc.wait()
    timings = {"setup": slurm["setup_seconds"], "failing run": failed.seconds,
               "resumed run": resumed.seconds, "all runs": time.monotonic() - t0}
    print("cluster test timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    assert local_proc.returncode == 0, local_out[-3000:]
    assert resumed.returncode == 0, resumed.output[-5000:]
    return {"work": work, "local": local, "failed": failed, "resumed": resumed,
            "failed_queue": failed_queue, "resumed_queue": resumed_queue,
            "failed_jobs": _jobs(failed.output), "resumed_jobs": _jobs(resumed.output)}


def test_readme_section_is_what_this_test_runs():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## Running on a cluster\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "README.md has no '## Running on a cluster' section"
    section = m[1]
    for cmd in README_COMMANDS:
        assert cmd in section, f"README's cluster section lacks the command the test runs: {cmd}"


def test_failed_cluster_job_fails_the_run_and_shows_the_rule_log(runs):
    failed = runs["failed"]
    assert failed.returncode != 0
    bad = [j for j in runs["failed_jobs"] if j["rule"] == "prepare" and j["wildcards"] == "sample=broken"]
    assert len(bad) == 1 and bad[0]["slurm_id"], failed.output[-4000:]
    sid = bad[0]["slurm_id"]
    assert runs["failed_queue"][sid][0] == "FAILED"
    assert f"SLURM-job '{sid}' failed" in failed.output
    assert "Error in rule prepare" in failed.output
    # the rule's log, printed by the run: seqfm's one-line message naming file and line
    assert "Logfile results/broken/logs/prepare.log" in failed.output
    assert "data/broken.fa line 1: not FASTA" in failed.output
    assert not (runs["work"] / "results" / "broken" / "prepared.tsv").exists()


def test_every_nonlocal_rule_ran_as_a_slurm_job(runs):
    work = runs["work"]
    for jobs, queue in ((runs["failed_jobs"], runs["failed_queue"]),
                        (runs["resumed_jobs"], runs["resumed_queue"])):
        for job in jobs:
            if job["local"]:
                assert job["slurm_id"] is None
                continue
            sid = job["slurm_id"]
            assert sid, f"rule {job['rule']} ({job['wildcards']}) was not submitted to SLURM"
            state, comment = queue[sid]
            assert comment.startswith(f"rule_{job['rule']}_"), (sid, comment)
            if job["wildcards"] != "sample=broken":
                assert state == "COMPLETED", (job, state)
            log = Path(job["slurm_log"])
            assert log.parent.is_relative_to(work / ".snakemake" / "slurm_logs" / f"rule_{job['rule']}")
            assert log.name == f"{sid}.log" and f"rule {job['rule']}:" in log.read_text()
    rules = {j["rule"] for j in runs["failed_jobs"] + runs["resumed_jobs"] if not j["local"]}
    assert {"prepare", "encode", "train"} <= rules
    shards = {j["wildcards"] for j in runs["resumed_jobs"] if j["rule"] == "scan_shard"}
    if "scan" in rules:   # the genome scan: small.yaml's two small chromosomes in one packed shard
        assert shards == {f"sample={SAMPLE}, shard=chr4+1"}, shards
    local = {j["rule"] for j in runs["failed_jobs"] + runs["resumed_jobs"] if j["local"]}
    assert "simulate_example" in local and not local & HEAVY, local


def test_rerun_resumes_without_redoing_finished_jobs(runs):
    finished = [j for j in runs["failed_jobs"] if j["slurm_id"]
                and runs["failed_queue"][j["slurm_id"]][0] == "COMPLETED"]
    assert any(j["rule"] == "prepare" and j["wildcards"] == f"sample={SAMPLE}" for j in finished), \
        runs["failed"].output[-4000:]
    redone = {(j["rule"], j["wildcards"]) for j in runs["resumed_jobs"]}
    for job in finished + [j for j in runs["failed_jobs"] if j["local"]]:
        assert (job["rule"], job["wildcards"]) not in redone
    assert {"encode", "train"} <= {j["rule"] for j in runs["resumed_jobs"]}
    rerun = _sh(RESUME + " --dry-run", runs["work"])
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.output


def test_training_job_got_a_gpu_from_slurm_and_fell_back_to_cpu(runs):
    (train,) = [j for j in runs["resumed_jobs"]
                if j["rule"] == "train" and j["wildcards"] == f"sample={SAMPLE}"]
    show = subprocess.run(f"{SCONTROL} {train['slurm_id']}", shell=True, capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"TresPerJob=gres[:/]gpu[:=]1\b", show), show   # asked for (--gpus=1)
    assert re.search(r"JOB_GRES=gpu(:\w+)?:1\b", show), show          # and given by the scheduler
    assert "CpusPerTres=gres:gpu:2" in show
    res = runs["work"] / "results" / SAMPLE
    assert json.loads((res / "metrics.json").read_text())["device"] == "cpu"
    assert "training on cpu" in (res / "logs" / "train.log").read_text()


def test_cluster_outputs_equal_a_local_run(runs):
    a, b = runs["work"] / "results" / SAMPLE, runs["local"] / "results" / SAMPLE
    assert (a / "prepared.tsv").read_bytes() == (b / "prepared.tsv").read_bytes()
    for name in ("codes.npy", "tracks.npy", "labels.npy", "meta.tsv"):
        assert (a / "dataset" / name).read_bytes() == (b / "dataset" / name).read_bytes(), name
    assert json.loads((a / "dataset" / "dataset.json").read_text()) == \
        json.loads((b / "dataset" / "dataset.json").read_text())
    import torch

    wa = torch.load(a / "model.pt", weights_only=True)
    wb = torch.load(b / "model.pt", weights_only=True)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["test"] == mb["test"] and ma["device"] == mb["device"] == "cpu"
