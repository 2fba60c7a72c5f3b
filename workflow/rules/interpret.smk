# Interpretation: trained model -> motifs (filter PWMs, clusters, JASPAR) and binding sites.


# --- sites: `seqfm sites`, binding-site calls with empirical q-values (config `sites:`) -------
def _sites_dataset_mb(input):
    """Size of the encoded dataset in MiB (0 while it does not exist yet)."""
    folder = Path(str(input.dataset))
    if not folder.is_dir():
        return 0.0
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 2**20


def sites_mem_mb(wildcards, input, attempt):
    # torch + the null's peak values (about 4 bytes per filter peak of the shuffled copies)
    return int((1536 + 4 * _sites_dataset_mb(input)) * attempt)


def sites_runtime(wildcards, input, attempt):
    # minutes; the dinucleotide shuffles of the null dominate on CPU
    return int((10 + 0.5 * _sites_dataset_mb(input)) * attempt)


def sites_filters(wildcards):
    # interpret/filters.tsv (rule motifs) labels calls with clusters and JASPAR matches
    return [f"results/{wildcards.sample}/interpret/filters.tsv"] if rules.has("motifs") else []


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
        f"--null-max-seqs {s['null_max_seqs']}",
        f"--merge {s['merge']}",
        f"--top-n {s['top_n']}",
        f"--device {s['device']}",
        f"--seed {config['seed']}",
        "--cam" if s["cam"] else "--no-cam",
    ]
    if input.filters:
        opts.append(f"--motifs {input.filters[0]}")
    if input.truth:
        opts.append(f"--truth {input.truth[0]}")
    return " ".join(opts)


rule sites:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        dataset="results/{sample}/dataset",
        filters=sites_filters,
        truth=sites_truth,
    output:
        bed=report("results/{sample}/sites.bed", caption="../report/sites.rst", category="Binding sites",
                   labels={"sample": "{sample}", "file": "sites.bed"}),
        gff="results/{sample}/sites.gff3",
        npz="results/{sample}/interpret/featuremaps.npz",
    params:
        out=lambda w: f"results/{w.sample}",
        opts=sites_options,
    log:
        "results/{sample}/logs/sites.log",
    threads: config["sites"]["threads"]
    resources:
        mem_mb=sites_mem_mb,
        runtime=sites_runtime,
    shell:
        "seqfm sites --model {input.model} --model-json {input.json} --dataset {input.dataset} "
        "--out {params.out} {params.opts} --threads {threads} --no-progress > {log} 2>&1"


TARGETS.extend(["sites.bed", "sites.gff3", "interpret/featuremaps.npz"])
