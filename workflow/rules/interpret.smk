# Interpretation: trained model -> motifs (filter PWMs, clusters, JASPAR) and binding sites.


# `seqfm motifs`: filter PWMs, influence, clusters, JASPAR matches, logos (config `motifs:`)
rule motifs:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        dataset="results/{sample}/dataset",
        db=motif_db_files,
    output:
        meme="results/{sample}/filters.meme",
        tsv=report(
            "results/{sample}/motifs.tsv",
            caption="../report/motifs.rst",
            category="Motifs",
            labels={"sample": "{sample}", "motif": "all clusters (table)"},
        ),
        logos=report(
            directory("results/{sample}/logos"),
            patterns=["motif_{rank,[0-9]+}.png"],
            caption="../report/logos.rst",
            category="Motifs",
            labels={"sample": "{sample}", "motif": "motif_{rank} logo"},
        ),
        filters="results/{sample}/interpret/filters.tsv",
        clusters="results/{sample}/interpret/motifs.meme",
    log:
        "results/{sample}/logs/motifs.log",
    threads: config["motifs"]["threads"]
    resources:
        mem_mb=motifs_mem_mb,
        runtime=motifs_runtime,
    params:
        out=lambda w: f"results/{w.sample}",
        opts=motifs_options,
    shell:
        "seqfm motifs --model {input.model} --model-json {input.json} --dataset {input.dataset} "
        "--out {params.out} {params.opts} --threads {threads} --no-progress > {log} 2>&1"


# `seqfm sites`: binding-site calls with empirical q-values (config `sites:`)
rule sites:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        dataset="results/{sample}/dataset",
        filters=sites_filters,
        truth=sites_truth,
    output:
        bed=report(
            "results/{sample}/sites.bed",
            caption="../report/sites.rst",
            category="Binding sites",
            labels={"sample": "{sample}", "file": "sites.bed"},
        ),
        gff="results/{sample}/sites.gff3",
        npz="results/{sample}/interpret/featuremaps.npz",
    log:
        "results/{sample}/logs/sites.log",
    threads: config["sites"]["threads"]
    resources:
        mem_mb=sites_mem_mb,
        runtime=sites_runtime,
    params:
        out=lambda w: f"results/{w.sample}",
        opts=sites_options,
    shell:
        "seqfm sites --model {input.model} --model-json {input.json} --dataset {input.dataset} "
        "--out {params.out} {params.opts} --threads {threads} --no-progress > {log} 2>&1"
