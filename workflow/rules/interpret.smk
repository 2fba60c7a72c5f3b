# Interpretation: trained model -> motifs (filter PWMs, clusters, JASPAR) and binding sites.


# --- motifs: `seqfm motifs`, filter PWMs, influence, clusters, JASPAR matches, logos (config `motifs:`)
def _motifs_dataset_mb(input):
    """Size of the encoded dataset in MiB (0 while it does not exist yet)."""
    folder = Path(str(input.dataset))
    if not folder.is_dir():
        return 0.0
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 2**20


def motifs_mem_mb(wildcards, input, attempt):
    # torch + activations of one batch + TomTom's scratch (about 0.5 GB against JASPAR)
    return int((2048 + 2 * _motifs_dataset_mb(input)) * attempt)


def motifs_runtime(wildcards, input, attempt):
    # minutes; the first run on a machine also compiles memelite's TomTom (about 2 min)
    return int((15 + 0.5 * _motifs_dataset_mb(input)) * attempt)


def motifs_options(wildcards):
    m = config["motifs"]
    j = m["jaspar"]
    return " ".join([
        f"--frac {m['frac']}",
        f"--min-sites {m['min_sites']}",
        f"--trim-bits {m['trim_bits']}",
        f"--pseudocount {m['pseudocount']}",
        f"--influence {m['influence']}",
        f"--cluster-similarity {m['cluster_similarity']}",
        "--coactivation" if m["coactivation"] else "--no-coactivation",
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
        f"--motif-db {motif_db(wildcards)}" if motif_db(wildcards) else "",
    ])


def motif_db(wildcards):
    """The sample's own motif database (MEME), if config motifs.databases names one."""
    return (config["motifs"].get("databases") or {}).get(wildcards.sample, "")


rule motifs:
    input:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        dataset="results/{sample}/dataset",
        db=lambda w: [motif_db(w)] if motif_db(w) else [],
    output:
        meme="results/{sample}/filters.meme",
        tsv=report("results/{sample}/motifs.tsv", caption="../report/motifs.rst", category="Motifs",
                   labels={"sample": "{sample}", "motif": "all clusters (table)"}),
        logos=report(directory("results/{sample}/logos"), patterns=["motif_{rank,[0-9]+}.png"],
                     caption="../report/logos.rst", category="Motifs",
                     labels={"sample": "{sample}", "motif": "motif_{rank} logo"}),
        filters="results/{sample}/interpret/filters.tsv",
        clusters="results/{sample}/interpret/motifs.meme",
    params:
        out=lambda w: f"results/{w.sample}",
        opts=motifs_options,
    log:
        "results/{sample}/logs/motifs.log",
    threads: config["motifs"]["threads"]
    resources:
        mem_mb=motifs_mem_mb,
        runtime=motifs_runtime,
    shell:
        "seqfm motifs --model {input.model} --model-json {input.json} --dataset {input.dataset} "
        "--out {params.out} {params.opts} --threads {threads} --no-progress > {log} 2>&1"


TARGETS.extend(["filters.meme", "motifs.tsv", "logos", "interpret/filters.tsv", "interpret/motifs.meme"])



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
    # interpret/filters.tsv and motifs.tsv (rule motifs) label calls with clusters and matches
    if not rules.has("motifs"):
        return []
    return [f"results/{wildcards.sample}/interpret/filters.tsv", f"results/{wildcards.sample}/motifs.tsv"]


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
