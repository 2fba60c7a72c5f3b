# Shared set-up: config and samples validated at start-up, input functions, resources, options
# and final targets. Rule files hold rules only. Nothing here imports seqfm: the workflow parses
# with Snakemake alone, every step runs a `seqfm` verb.
import hashlib
import json
import re
import shlex
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import yaml
from snakemake.exceptions import WildcardError


# --- start-up checks -------------------------------------------------------------------------
# The JSON schemas live in the package (seqfm/schemas/), the one copy that both the workflow
# and `seqfm` read; they are read here as files, without importing seqfm.
def _schema(name):
    path = workflow.source_path(f"../../seqfm/schemas/{name}.schema.yaml")
    return yaml.safe_load(Path(path).read_text())


def _fail(message):
    # one clear line and a non-zero exit, no traceback
    print(f"seqfm: error: {message}", file=sys.stderr)
    sys.exit(1)


def _check_config(config):
    validator = jsonschema.Draft202012Validator(_schema("config"))
    err = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if err is not None:
        where = ".".join(map(str, err.absolute_path)) or "top level"
        _fail(f"config: {where}: {err.message}")


# the same rules and messages as seqfm.samples.read_samples (tests/test_deploy.py checks both)
SAMPLE_COLUMNS = ["sample", "alphabet", "positives", "negatives"]
OPTIONAL_COLUMNS = ["genome", "conservation"]
BED_SUFFIXES = (".bed", ".narrowpeak", ".bed6", ".bed3")


def _is_bed(path):
    return str(path).lower().removesuffix(".gz").endswith(BED_SUFFIXES)


def _explain(err, col, row):
    if err.validator == "pattern" and col == "sample":
        return (
            f"sample name {row['sample']!r} must match ^[A-Za-z0-9._-]+$ and not be . or .. "
            "(it becomes a folder name)"
        )
    if err.validator == "enum":
        return f"column '{col}' is {row[col]!r}; use one of {', '.join(err.validator_value)}"
    if err.validator == "minLength":
        return f"column '{col}' is empty"
    return f"column '{col}': {err.message}"


def _read_samples(path):
    """config/samples.tsv as a DataFrame indexed by sample; one clear line on a bad table."""
    path = Path(path)
    if not path.exists():
        _fail(f"{path}: samples table not found")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        _fail(f"{path}: not a tab-separated table with a header row ({str(err).splitlines()[0]})")
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in SAMPLE_COLUMNS if c not in df.columns]
    if missing:
        _fail(
            f"{path}: missing column(s) {', '.join(missing)}; the header must name "
            f"{', '.join(SAMPLE_COLUMNS)} (and optionally {', '.join(OPTIONAL_COLUMNS)}), tab-separated"
        )
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df = df.apply(lambda col: col.str.strip())
    if df.empty:
        _fail(f"{path}: no sample rows under the header")
    validator = jsonschema.Draft202012Validator(_schema("samples"))
    for i, row in enumerate(df.to_dict("records"), start=2):
        present = {k: v for k, v in row.items() if v != "" or k in SAMPLE_COLUMNS}
        errors = sorted(validator.iter_errors(present), key=lambda e: list(e.path))
        if errors:
            col = errors[0].path[0] if errors[0].path else ""
            _fail(f"{path} line {i}: {_explain(errors[0], col, row)}")
        if row["alphabet"] == "dna" and _is_bed(row["positives"]) and not row["genome"]:
            _fail(
                f"{path} line {i}: positives {row['positives']} are BED intervals, "
                f"so column 'genome' needs a genome FASTA"
            )
        if row["negatives"] == "background" and not row["genome"]:
            _fail(f"{path} line {i}: negatives 'background' needs column 'genome'")
    dup = df["sample"][df["sample"].duplicated()]
    if len(dup):
        _fail(f"{path}: sample '{dup.iloc[0]}' appears more than once")
    return df.set_index("sample", drop=False)


_check_config(config)
SAMPLES = _read_samples(config["samples"])
SAMPLE_NAMES = list(SAMPLES.index)
# only samples with a DNA genome are scanned genome-wide
SCAN_SAMPLES = [
    s for s in SAMPLE_NAMES if SAMPLES.loc[s].alphabet == "dna" and str(SAMPLES.loc[s].genome or "")
]

# Light rules run where snakemake runs, not as cluster jobs (the SLURM profile submits the rest).


localrules:
    all,
    simulate_example,
    simulate_protein_example,
    scan_plan,
    report,
    report_index,


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLE_NAMES)) if SAMPLE_NAMES else "[A-Za-z0-9._-]+",
    shard="[A-Za-z0-9._+-]+",


# --- final targets ---------------------------------------------------------------------------
# per-sample files of `rule all` (results/{sample}/...)
TARGETS = [
    "dataset",
    "model.pt",
    "model.json",
    "metrics.json",
    "filters.meme",
    "motifs.tsv",
    "logos",
    "interpret/filters.tsv",
    "interpret/motifs.meme",
    "sites.bed",
    "sites.gff3",
    "interpret/featuremaps.npz",
    "report.html",
]
SCAN_TARGETS = ["sites.bed", "sites.gff3", "cam.bw", "summary.json"]


def final_targets(wildcards):
    targets = [f"results/{s}/{t}" for s in SAMPLE_NAMES for t in TARGETS]
    targets.extend(f"results/{s}/scan/{f}" for s in SCAN_SAMPLES for f in SCAN_TARGETS)
    targets.append("results/index.html")
    return targets


# --- helpers ---------------------------------------------------------------------------------
def sample(wildcards):
    return SAMPLES.loc[wildcards.sample]


def sample_files(wildcards):
    """Every input file a sample names (so rules rerun when an input changes)."""
    row = sample(wildcards)
    files = [row.positives]
    if row.negatives not in ("shuffle", "background"):
        files.append(row.negatives)
    if row.genome:
        files.append(row.genome)
    return files


def conservation_files(wildcards):
    return [c for c in sample(wildcards).conservation.split(",") if c]


def csv(values):
    return ",".join(str(v) for v in values)


def _mb(paths):
    """Total size in MiB of the files among `paths` that exist (0 for those not made yet)."""
    paths = [Path(str(p)) for p in paths]
    return sum(p.stat().st_size for p in paths if p.is_file()) / 2**20


def _folder_mb(folder):
    """Size in MiB of the files of a folder (0 while it does not exist yet)."""
    folder = Path(str(folder))
    if not folder.is_dir():
        return 0.0
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 2**20


def _fai_sizes(genome):
    """Chromosome sizes from the genome's .fai (empty while there is none)."""
    fai = Path(f"{genome}.fai")
    if not fai.is_file():
        return {}
    rows = (line.split("\t") for line in fai.read_text().splitlines())
    return {f[0]: int(f[1]) for f in rows if len(f) > 1}


def _largest_chrom_mb(genome):
    """Longest chromosome in Mb, from the genome's .fai when there is one, else the FASTA's size."""
    sizes = _fai_sizes(genome)
    if sizes:
        return max(sizes.values()) / 1e6
    return _mb([genome])


# --- data: the embedded example and `seqfm prepare` ---------------------------------------------
def simulate_mem_mb(wildcards):
    # the genome is written a piece at a time; what grows is libBigWig's zoom levels, built per
    # chromosome when the bigWig closes (~13 bytes per base of the longest, which is 30% of the
    # genome in the default 5): measured 1.4 GiB for 300 Mb; a margin on top
    return int(400 + 5 * config["simulate"]["genome_size"] / 1e6)


def simulate_runtime(wildcards):
    # minutes; measured ~1.2 s per Mb
    return int(5 + 0.2 * config["simulate"]["genome_size"] / 1e6)


def prepare_mem_mb(wildcards, input, attempt):
    # `background` negatives encode one whole chromosome at a time (codes + cumulative sums:
    # ~40 bytes per base of the longest one); sequence files are read into memory
    row = sample(wildcards)
    genome_mb = _largest_chrom_mb(row.genome) if row.genome else 0.0
    return int((400 + 40 * genome_mb + 10 * _mb([row.positives, row.negatives])) * attempt)


def prepare_runtime(wildcards, input, attempt):
    # minutes; measured ~2.5 s for a 20 Mb genome with 16,000 positives
    return int((10 + 0.02 * _mb(input)) * attempt)


def prepare_options(wildcards):
    row, p = sample(wildcards), config["prepare"]
    length = p["protein_length"] if row.alphabet == "protein" else p["length"]
    opts = [
        f"--positives {row.positives}",
        f"--negatives {row.negatives}",
        f"--genome {row.genome}" if row.genome else "",
        f"--alphabet {row.alphabet}",
        f"--length {length}",
        f"--seed {config['seed']}",
        f"--test-chroms '{csv(p['test_chroms'])}'",
        f"--valid-chroms '{csv(p['valid_chroms'])}'",
        f"--test-fraction {p['test_fraction']}",
        f"--valid-fraction {p['valid_fraction']}",
        f"--negatives-per-positive {p['negatives_per_positive']}",
        # 'background' negatives are matched on the sample's tracks as well as on GC
        (
            f"--conservation '{row.conservation}'"
            if row.alphabet == "dna" and row.negatives == "background" and row.conservation
            else ""
        ),
    ]
    return " ".join(o for o in opts if o)


# --- encode ----------------------------------------------------------------------------------
def encode_mem_mb(wildcards, input, attempt):
    # codes (1 byte per base) + float16 tracks (2 bytes per base per track) and their float32
    # reads, all about the size of prepared.tsv each; measured ~150 MiB for 7.7 MiB / 1 track
    n_tracks = len(input.conservation)
    return int((500 + (4 + 4 * n_tracks) * _mb([input.prepared])) * attempt)


def encode_runtime(wildcards, input, attempt):
    # minutes; measured ~1.8 s per MiB of prepared.tsv with one bigWig track
    n_tracks = max(1, len(input.conservation))
    return int((10 + 0.1 * n_tracks * _mb([input.prepared])) * attempt)


def encode_options(wildcards, input):
    e = config["encode"]
    return " ".join(
        [
            f"--alphabet {sample(wildcards).alphabet}",
            f"--policy {e['policy']}",
            f"--conservation '{csv(input.conservation)}'",
            f"--fill {e['fill']}",
            f"--seed {config['seed']}",
        ]
    )


# --- train -----------------------------------------------------------------------------------
def train_mem_mb(wildcards, input, attempt):
    # torch + the k-mer baseline's feature matrix + the dataset held in memory
    return int((2048 + 6 * _folder_mb(input.dataset)) * attempt)


def train_runtime(wildcards, input, attempt):
    # minutes; about 1.5 min per MiB of codes for a full CPU run, less on a GPU
    return int((30 + 1.5 * _folder_mb(input.dataset)) * attempt)


def train_options(wildcards):
    t = config["train"]
    protein = sample(wildcards).alphabet == "protein"
    opts = [
        f"--filters {t['filters']}",
        f"--filter-width {t['protein_filter_width'] if protein else t['filter_width']}",
        f"--dilated-layers {t['dilated_layers']}",
        f"--dilated-channels {t['dilated_channels']}",
        f"--dropout {t['dropout']}",
        f"--global-pool {t['global_pool']}",
        f"--first-layer {t['first_layer']}",
        f"--epochs {t['epochs']}",
        f"--batch-size {t['batch_size']}",
        f"--lr {t['lr']}",
        f"--weight-decay {t['weight_decay']}",
        f"--patience {t['patience']}",
        f"--device {t['device']}",
        f"--baseline-k {t['baseline_k']}",
        f"--seed {config['seed']}",
        "--amp" if t["amp"] else "--no-amp",
    ]
    if t["strand_aware"] != "auto":
        opts.append("--strand-aware" if t["strand_aware"] else "--no-strand-aware")
    return " ".join(opts)


# --- motifs ----------------------------------------------------------------------------------
def motifs_mem_mb(wildcards, input, attempt):
    # torch + activations of one batch + TomTom's scratch (about 0.5 GB against JASPAR)
    return int((2048 + 2 * _folder_mb(input.dataset)) * attempt)


def motifs_runtime(wildcards, input, attempt):
    # minutes; the first run on a machine also compiles memelite's TomTom (about 2 min)
    return int((15 + 0.5 * _folder_mb(input.dataset)) * attempt)


def motif_db(wildcards):
    """The sample's own motif database (MEME), if config motifs.databases names one."""
    return (config["motifs"].get("databases") or {}).get(wildcards.sample, "")


def motif_db_files(wildcards):
    return [motif_db(wildcards)] if motif_db(wildcards) else []


def motifs_options(wildcards):
    m = config["motifs"]
    j = m["jaspar"]
    opts = [
        f"--frac {m['frac']}",
        f"--min-sites {m['min_sites']}",
        f"--trim-bits {m['trim_bits']}",
        f"--pseudocount {m['pseudocount']}",
        f"--influence {m['influence']}",
        f"--cluster-max-p {m.get('cluster_max_p', 3e-4)}",
        "--coactivation" if m["coactivation"] else "--no-coactivation",
        f"--min-coactivation {m.get('min_coactivation', 0.2)}",
        f"--jaspar-release {j['release']}",
        f"--jaspar-collection {j['collection']}",
        f"--jaspar-tax-group {j['tax_group']}",
        f"--min-ic {m['min_ic']}",
        f"--min-ic-per-position {m['min_ic_per_position']}",
        f"--max-evalue {m['max_evalue']}",
        f"--shuffles {m['shuffles']}",
        f"--min-z {m['min_z']}",
        f"--device {m['device']}",
        f"--seed {config['seed']}",
        "--logos" if m["logos"] else "--no-logos",
        "--filter-logos" if m["filter_logos"] else "--no-filter-logos",
        f"--motif-db {motif_db(wildcards)}" if motif_db(wildcards) else "",
    ]
    return " ".join(o for o in opts if o)


# --- sites -----------------------------------------------------------------------------------
def sites_mem_mb(wildcards, input, attempt):
    # torch + the null's peak values (about 4 bytes per filter peak of the shuffled copies)
    return int((1536 + 4 * _folder_mb(input.dataset)) * attempt)


def sites_runtime(wildcards, input, attempt):
    # minutes; the dinucleotide shuffles of the null dominate on CPU
    return int((10 + 0.5 * _folder_mb(input.dataset)) * attempt)


def sites_filters(wildcards):
    # interpret/filters.tsv and motifs.tsv (rule motifs) label calls with clusters and matches
    if not rules.has("motifs"):
        return []
    return [
        f"results/{wildcards.sample}/interpret/filters.tsv",
        f"results/{wildcards.sample}/motifs.tsv",
    ]


def sites_truth(wildcards):
    # planted sites of a simulated sample: config sites.truth maps sample -> BED
    path = (config["sites"].get("truth") or {}).get(wildcards.sample, "")
    return [path] if path else []


def sites_options(wildcards, input):
    s = config["sites"]
    opts = [
        f"--split {s['split']}",
        f"--labels {s['labels']}",
        f"--q {s['q']}",
        f"--null-copies {s['null_copies']}",
        f"--strata '{csv(s.get('strata', [0.5, 0.9, 0.97, 0.99]))}'",
        f"--null-max-seqs {s['null_max_seqs']}",
        f"--merge-calls {s['merge']}",
        f"--top-n {s['top_n']}",
        f"--device {s['device']}",
        f"--seed {config['seed']}",
        "--cam" if s["cam"] else "--no-cam",
    ]
    if input.filters:
        opts.append(f"--filters-tsv {input.filters[0]}")
    if input.truth:
        opts.append(f"--truth {input.truth[0]}")
    return " ".join(opts)


# --- scan ------------------------------------------------------------------------------------
def scan_genome(wildcards):
    return sample(wildcards).genome


def _scan_model_options(wildcards):
    """How the model runs over the genome: the same for the null and the shards."""
    s = config["scan"]
    opts = [
        f"--tile {s['tile']}",
        f"--batch-size {s['batch_size']}",
        f"--device {s['device']}",
        f"--fill {config['encode']['fill']}",
        "--cam" if s["cam"] else "--no-cam",
    ]
    tracks = conservation_files(wildcards)
    if tracks:
        opts.append(f"--conservation '{csv(tracks)}'")
    return opts


def scan_null_options(wildcards):
    s = config["scan"]
    return " ".join(
        _scan_model_options(wildcards)
        + [
            f"--null-bases {s['null_bases']}",
            f"--strata '{csv(s.get('strata', [0.5, 0.9, 0.97, 0.99]))}'",
            f"--null-window {s['null_window']}",
            f"--tail-fraction {s['tail_fraction']}",
            f"--seed {config['seed']}",
        ]
    )


def scan_shard_options(wildcards):
    s = config["scan"]
    opts = _scan_model_options(wildcards) + [
        f"--q {s['q']}",
        f"--merge-calls {s['merge']}",
        f"--bin {s['bin']}",
        f"--max-candidates {s['max_candidates']}",
    ]
    if s["tracks"]:
        opts.append(f"--tracks {csv(s['tracks'])}")
    return " ".join(opts)


def scan_null_runtime(wildcards, attempt):
    return int((10 + 2 * config["scan"]["null_bases"] / 1e6) * attempt)


def scan_shard_mem_mb(wildcards, attempt):
    # memory is bounded by the tile batch, not the chromosome: torch + one batch of tiles
    # (about 40 bytes per base per filter) + the candidate buffer
    s = config["scan"]
    batch_mb = s["tile"] * s["batch_size"] * 64 * 40 / 2**20
    return int((1024 + batch_mb + s["max_candidates"] * 120 / 2**20) * attempt)


def _shard_bases(wildcards):
    """Bases of a shard (its row of the plan's shards.tsv; a human chromosome before there is one)."""
    plan = Path(f"results/{wildcards.sample}/scan_plan/shards.tsv")
    for line in plan.read_text().splitlines()[1:] if plan.is_file() else []:
        f = line.split("\t")
        if f[0] == wildcards.shard:
            return int(f[2])
    return 250_000_000


def scan_shard_runtime(wildcards, attempt):
    # minutes; measured ~0.3-1 Mb/s per shard on 2 loaded CPU cores, a GPU is faster
    return int((10 + 2 * _shard_bases(wildcards) / 1e6) * attempt)


def scan_shards(wildcards):
    plan = Path(checkpoints.scan_plan.get(sample=wildcards.sample).output[0]) / "shards.tsv"
    names = [line.split("\t")[0] for line in plan.read_text().splitlines()[1:] if line]
    return [f"results/{wildcards.sample}/scan_shards/{s}/scan.json" for s in names]


def scan_filters(wildcards):
    # cluster labels and JASPAR names from rule motifs, when the workflow has it
    if not rules.has("motifs"):
        return []
    return [f"results/{wildcards.sample}/interpret/filters.tsv"]


def scan_gather_options(wildcards, input):
    # q and the merging of calls are the shards' own (their scan.json)
    opts = ["--shards " + " ".join(str(Path(p).parent) for p in input.shards)]
    if input.filters:
        opts.append(f"--filters-tsv {input.filters[0]}")
    return " ".join(opts)


def scan_gather_mem_mb(wildcards, attempt):
    # the merged bigWig's zoom levels are built in memory (~14 bytes per base / bin)
    bases = sum(_fai_sizes(scan_genome(wildcards)).values())
    return int((2048 + 16 * bases / config["scan"]["bin"] / 2**20) * attempt)


# --- report ----------------------------------------------------------------------------------
# the stages whose outputs the page shows; a stage whose rule is not part of the workflow
# is left out of the inputs (the page then says the files are missing)
REPORTED_RULES = ("train", "motifs", "sites", "scan")
# config.yaml's `report:` section; a config without it gets these
REPORT_DEFAULTS = {
    "max_motifs": 30,
    "max_sites": 25,
    "featuremaps": 4,
    "embed_downloads": True,
}


def config_digest(config):
    """A short, stable digest of the configuration (as seqfm.report.config_digest)."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def report_truth(wildcards):
    """Known sites of a simulated sample (config `sites.truth`: sample -> BED), drawn on the
    feature maps when the archive of `seqfm sites` has none."""
    return ((config.get("sites") or {}).get("truth") or {}).get(wildcards.sample, "")


def report_inputs(wildcards):
    files = [
        f"results/{wildcards.sample}/prepared.tsv",
        f"results/{wildcards.sample}/dataset",
    ]
    targets = set(final_targets(wildcards))
    for name in REPORTED_RULES:
        if not rules.has(name):
            continue
        outputs = []
        for pattern in getattr(rules, name).output:
            try:  # outputs with other wildcards (e.g. per-chromosome shards) are not inputs here
                outputs += expand(str(pattern), sample=wildcards.sample)
            except WildcardError:
                pass
        # a stage counts for this sample when the workflow makes it (e.g. scan: samples with a genome)
        if any(o in targets for o in outputs):
            files += outputs
    truth = report_truth(wildcards)
    return files + ([truth] if truth else [])


def report_options(wildcards):
    row, r = sample(wildcards), {**REPORT_DEFAULTS, **config.get("report", {})}
    opts = [f"--sample {wildcards.sample}"]
    for key in ("positives", "negatives", "genome", "conservation"):
        value = str(row.get(key, "") or "")
        if value:
            opts.append(f"--input {shlex.quote(f'{key}={value}')}")
    truth = report_truth(wildcards)
    if truth:
        opts.append(f"--truth {truth}")
    opts += [
        f"--config-digest {config_digest(config)}",
        f"--max-motifs {r['max_motifs']}",
        f"--max-sites {r['max_sites']}",
        f"--featuremaps {r['featuremaps']}",
        "--embed-downloads" if r["embed_downloads"] else "--no-embed-downloads",
    ]
    return " ".join(opts)
