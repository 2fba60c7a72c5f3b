# Genome-wide scan: `seqfm scan` over a sample's genome, one job per shard (a chromosome of at
# least scan.shard_bases, or a pack of smaller sequences up to that size), then a gather job
# with genome-wide q-values. Shards write candidates and bigWigs without zoom levels (flat
# memory per chromosome); the gather job writes the calls and the merged bigWig's zooms.
# Settings: config.yaml's `scan:` section (config/README.md).
#
#   scan_plan (checkpoint)    seqfm scan-plan: genome -> results/{sample}/scan_plan/{shards.tsv,<shard>.txt}
#   scan_null                 seqfm scan-null: model + genome -> results/{sample}/scan_shards/null.npz (once)
#   scan_shard                seqfm scan --shard: one shard -> results/{sample}/scan_shards/{shard}/...
#   scan (gather)             seqfm scan-merge: shards -> results/{sample}/scan/{sites.bed,sites.gff3,cam.bw,summary.json}
#
# Only samples with a DNA genome are scanned (SCAN_SAMPLES, rules/common.smk).


checkpoint scan_plan:
    input:
        genome=scan_genome,
    output:
        directory("results/{sample}/scan_plan"),
    log:
        "results/{sample}/logs/scan_plan.log",
    threads: 1
    resources:
        mem_mb=300,  # reads the .fai (indexing a genome without one streams it)
        runtime=10,
    params:
        chroms=lambda w: csv(config["scan"]["chroms"]),
        shard_bases=config["scan"].get("shard_bases", 50_000_000),
    shell:
        "seqfm scan-plan --genome {input.genome} --chrom '{params.chroms}' "
        "--shard-bases {params.shard_bases} --out {output} > {log} 2>&1"


rule scan_null:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        genome=scan_genome,
        tracks=conservation_files,
    output:
        "results/{sample}/scan_shards/null.npz",
    log:
        "results/{sample}/logs/scan_null.log",
    threads: config["scan"]["threads"]
    resources:
        gpu=1 if config["scan"]["gpu"] else 0,
        mem_mb=lambda w, attempt: 2048 * attempt,
        runtime=scan_null_runtime,
    params:
        opts=scan_null_options,
    shell:
        "seqfm scan-null --model {input.model} --model-json {input.json} --genome {input.genome} "
        "--out {output} {params.opts} --threads {threads} --no-progress > {log} 2>&1"


rule scan_shard:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        genome=scan_genome,
        tracks=conservation_files,
        null="results/{sample}/scan_shards/null.npz",
        plan="results/{sample}/scan_plan",
    output:
        json="results/{sample}/scan_shards/{shard}/scan.json",
        candidates="results/{sample}/scan_shards/{shard}/candidates.npz",
        cam="results/{sample}/scan_shards/{shard}/cam.bw",
    log:
        "results/{sample}/logs/scan_{shard}.log",
    threads: config["scan"].get("shard_threads", 1)
    resources:
        gpu=1 if config["scan"]["gpu"] else 0,
        mem_mb=scan_shard_mem_mb,
        runtime=scan_shard_runtime,
    params:
        out=lambda w, output: Path(output.json).parent,
        opts=scan_shard_options,
    shell:
        "seqfm scan --model {input.model} --model-json {input.json} --genome {input.genome} "
        "--chroms-file {input.plan}/{wildcards.shard}.txt --null {input.null} --out {params.out} "
        "{params.opts} --shard --threads {threads} --no-progress > {log} 2>&1"


rule scan:
    input:
        shards=scan_shards,
        filters=scan_filters,
    output:
        bed="results/{sample}/scan/sites.bed",
        gff="results/{sample}/scan/sites.gff3",
        cam="results/{sample}/scan/cam.bw",
        summary="results/{sample}/scan/summary.json",
    log:
        "results/{sample}/logs/scan_merge.log",
    threads: 1
    resources:
        mem_mb=scan_gather_mem_mb,
        runtime=lambda w, attempt: 30 * attempt,
    params:
        out=lambda w, output: Path(output.bed).parent,
        opts=scan_gather_options,
    shell:
        "seqfm scan-merge {params.opts} --out {params.out} > {log} 2>&1"
