# Genome-wide scan: `seqfm scan` over a sample's genome, one job per shard (a chromosome of at
# least scan.shard_bases, or a pack of smaller sequences up to that size), then a gather job
# with genome-wide q-values. Shards write candidates and bigWigs without zoom levels (flat
# memory per chromosome); the gather job writes the calls and the merged bigWig's zooms.
# Settings: config.yaml's `scan:` section (config/README.md).
#
#   scan_plan (checkpoint)    genome -> results/{sample}/scan_plan/{shards.tsv,<shard>.txt}
#   scan_null                 model + genome -> results/{sample}/scan_shards/null.npz (once)
#   scan_shard                one shard -> results/{sample}/scan_shards/{shard}/...
#   scan (gather)             shards -> results/{sample}/scan/{sites.bed,sites.gff3,cam.bw,summary.json}
#
# Only samples with a DNA genome are scanned.

SCAN_SAMPLES = [s for s in SAMPLE_NAMES
                if SAMPLES.loc[s].alphabet == "dna" and str(SAMPLES.loc[s].genome or "")]


wildcard_constraints:
    shard="[A-Za-z0-9._+-]+",


def _scan_genome(wildcards):
    return sample(wildcards).genome


def _scan_tracks(wildcards):
    return conservation_files(wildcards)


def scan_common_options(wildcards):
    s = config["scan"]
    opts = [
        f"--tile {s['tile']}",
        f"--batch-size {s['batch_size']}",
        f"--q {s['q']}",
        f"--null-bases {s['null_bases']}",
        f"--strata '{csv(s.get('strata', [0.5, 0.9, 0.97, 0.99]))}'",
        f"--null-window {s['null_window']}",
        f"--tail-fraction {s['tail_fraction']}",
        f"--merge-calls {s['merge']}",
        f"--bin {s['bin']}",
        f"--max-candidates {s['max_candidates']}",
        f"--device {s['device']}",
        f"--seed {config['seed']}",
        f"--fill {config['encode']['fill']}",
        "--cam" if s["cam"] else "--no-cam",
    ]
    if s["tracks"]:
        opts.append(f"--tracks {csv(s['tracks'])}")
    tracks = _scan_tracks(wildcards)
    if tracks:
        opts.append(f"--conservation '{csv(tracks)}'")
    return " ".join(opts)


def _fai_sizes(genome):
    """Chromosome sizes from the genome's .fai (empty while there is none)."""
    fai = Path(f"{genome}.fai")
    if not fai.is_file():
        return {}
    return {f[0]: int(f[1]) for f in (l.split("\t") for l in fai.read_text().splitlines()) if len(f) > 1}


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


checkpoint scan_plan:
    input:
        genome=_scan_genome,
    output:
        directory("results/{sample}/scan_plan"),
    params:
        wanted=lambda w: list(config["scan"]["chroms"]),
        shard_bases=config["scan"].get("shard_bases", 50_000_000),
    threads: 1
    resources:
        mem_mb=300,  # reads the .fai (indexing a genome without one streams it)
        runtime=10,
    run:
        from seqfm.io import Genome
        from seqfm.scan import plan_shards, write_shard_plan

        sizes = Genome(input.genome).sizes  # builds the .fai when there is none
        wanted = params.wanted or list(sizes)
        missing = [c for c in wanted if c not in sizes]
        if missing:
            raise ValueError(f"config scan.chroms: {missing[0]!r} is not in {input.genome}")
        wanted = sorted(set(wanted), key=list(sizes).index)
        write_shard_plan(plan_shards(sizes, wanted, int(params.shard_bases)), sizes, output[0])


localrules:
    scan_plan,


rule scan_null:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        genome=_scan_genome,
        tracks=_scan_tracks,
    output:
        "results/{sample}/scan_shards/null.npz",
    params:
        opts=scan_common_options,
    log:
        "results/{sample}/logs/scan_null.log",
    threads: config["scan"]["threads"]
    resources:
        gpu=1 if config["scan"]["gpu"] else 0,
        mem_mb=lambda w, attempt: 2048 * attempt,
        runtime=lambda w, attempt: int((10 + 2 * config["scan"]["null_bases"] / 1e6) * attempt),
    shell:
        "seqfm scan --model {input.model} --model-json {input.json} --genome {input.genome} "
        "--make-null --null {output} --out $(dirname {output}) {params.opts} --threads {threads} "
        "--no-progress --log {log} > /dev/null"


rule scan_shard:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        genome=_scan_genome,
        tracks=_scan_tracks,
        null="results/{sample}/scan_shards/null.npz",
        plan="results/{sample}/scan_plan",
    output:
        json="results/{sample}/scan_shards/{shard}/scan.json",
        candidates="results/{sample}/scan_shards/{shard}/candidates.npz",
        cam="results/{sample}/scan_shards/{shard}/cam.bw",
    params:
        out=lambda w, output: Path(output.json).parent,
        opts=scan_common_options,
    log:
        "results/{sample}/logs/scan_{shard}.log",
    threads: config["scan"]["threads"]
    resources:
        gpu=1 if config["scan"]["gpu"] else 0,
        mem_mb=scan_shard_mem_mb,
        runtime=scan_shard_runtime,
    shell:
        "seqfm scan --model {input.model} --model-json {input.json} --genome {input.genome} "
        "--chroms-file {input.plan}/{wildcards.shard}.txt --null {input.null} --out {params.out} "
        "{params.opts} --shard "
        "--threads {threads} --no-progress --log {log} > /dev/null"


def scan_shards(wildcards):
    plan = Path(checkpoints.scan_plan.get(sample=wildcards.sample).output[0]) / "shards.tsv"
    names = [line.split("\t")[0] for line in plan.read_text().splitlines()[1:] if line]
    return [f"results/{wildcards.sample}/scan_shards/{s}/scan.json" for s in names]


def scan_filters(wildcards):
    # cluster labels and JASPAR names from rule motifs, when the workflow has it
    return [f"results/{wildcards.sample}/interpret/filters.tsv"] if rules.has("motifs") else []


rule scan:
    input:
        shards=scan_shards,
        filters=scan_filters,
    output:
        bed="results/{sample}/scan/sites.bed",
        gff="results/{sample}/scan/sites.gff3",
        cam="results/{sample}/scan/cam.bw",
        summary="results/{sample}/scan/summary.json",
    params:
        shards=lambda w, input: " ".join(str(Path(p).parent) for p in input.shards),
        out=lambda w, output: Path(output.bed).parent,
        filters=lambda w, input: f"--filters-tsv {input.filters[0]}" if input.filters else "",
        s=config["scan"],
    log:
        "results/{sample}/logs/scan_merge.log",
    threads: 1
    resources:
        # the merged bigWig's zoom levels are built in memory (~14 bytes per base / bin)
        mem_mb=lambda w, attempt: int((2048 + 16 * sum(_fai_sizes(_scan_genome(w)).values())
                                       / config["scan"]["bin"] / 2**20) * attempt),
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "seqfm scan --merge {params.shards} --out {params.out} --q {params.s[q]} "
        "--merge-calls {params.s[merge]} {params.filters} --log {log} > /dev/null"


EXTRA_TARGETS.extend(f"results/{s}/scan/{f}" for s in SCAN_SAMPLES
                     for f in ("sites.bed", "sites.gff3", "cam.bw", "summary.json"))
