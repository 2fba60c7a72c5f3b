# Inputs: the embedded example (simulated, seeded) and `seqfm prepare` per sample.


rule simulate_example:
    output:
        genome="resources/example/genome.fa",
        fai="resources/example/genome.fa.fai",
        positives="resources/example/positives.bed",
        narrowpeak="resources/example/positives.narrowPeak",
        truth="resources/example/truth.bed",
        decoys="resources/example/decoys.bed",
        decoy_elements="resources/example/decoy_elements.bed",
        conservation="resources/example/conservation.bw",
    params:
        out=lambda w, output: Path(output.genome).parent,
        s=config["simulate"],
    log:
        "logs/simulate_example.log",
    threads: 1
    resources:
        # measured: ~20 bytes per simulated base, ~1.2 s per Mb; generous margins
        mem_mb=lambda w: int(300 + 40 * config["simulate"]["genome_size"] / 1e6),
        runtime=lambda w: int(5 + 0.2 * config["simulate"]["genome_size"] / 1e6),
    shell:
        "seqfm simulate --out {params.out} --seed {params.s[seed]} "
        "--genome-size {params.s[genome_size]} --n-positives {params.s[n_positives]} > {log} 2>&1"


def _mb(paths):
    """Total size in MiB of the files among `paths` that exist (0 for those not made yet)."""
    paths = [Path(str(p)) for p in paths]
    return sum(p.stat().st_size for p in paths if p.is_file()) / 2**20


def _largest_chrom_mb(genome):
    """Longest chromosome in Mb, from the genome's .fai when there is one, else the FASTA's size."""
    fai = Path(f"{genome}.fai")
    if fai.is_file():
        lengths = [int(line.split("\t")[1]) for line in fai.read_text().splitlines() if line.strip()]
        return max(lengths, default=0) / 1e6
    return _mb([genome])


def prepare_mem_mb(wildcards, input, attempt):
    # `background` negatives encode one whole chromosome at a time (codes + cumulative sums:
    # ~40 bytes per base of the longest one); sequence files are read into memory
    row = sample(wildcards)
    genome_mb = _largest_chrom_mb(row.genome) if row.genome else 0.0
    return int((400 + 40 * genome_mb + 10 * _mb([row.positives, row.negatives])) * attempt)


def prepare_runtime(wildcards, input, attempt):
    # minutes; measured ~2.5 s for a 20 Mb genome with 16,000 positives
    return int((10 + 0.02 * _mb(input)) * attempt)


rule simulate_protein_example:
    output:
        positives="resources/example/protein/positives.fa",
        negatives="resources/example/protein/negatives.fa",
        msa=directory("resources/example/protein/msa"),
        truth="resources/example/protein/truth.tsv",
        meme="resources/example/protein/motifs.meme",
    params:
        out=lambda w, output: Path(output.positives).parent,
        s=config["simulate"],
    log:
        "logs/simulate_protein_example.log",
    threads: 1
    resources:
        # measured: ~80 MB for 400 proteins, ~125 MB for 4,000 (63 s on a busy core)
        mem_mb=lambda w: int(300 + config["simulate"]["n_proteins"] / 50),
        runtime=lambda w: int(5 + config["simulate"]["n_proteins"] / 1000),
    shell:
        "seqfm simulate-protein --out {params.out} --seed {params.s[seed]} "
        "--n-positives {params.s[n_proteins]} --n-negatives {params.s[n_proteins]} > {log} 2>&1"


def prepare_options(wildcards):
    row, p = sample(wildcards), config["prepare"]
    opts = [
        f"--positives {row.positives}",
        f"--negatives {row.negatives}",
        f"--genome {row.genome}" if row.genome else "",
        f"--alphabet {row.alphabet}",
        f"--length {p['protein_length'] if row.alphabet == 'protein' else p['length']}",
        f"--seed {config['seed']}",
        f"--test-chroms '{csv(p['test_chroms'])}'",
        f"--valid-chroms '{csv(p['valid_chroms'])}'",
        f"--test-fraction {p['test_fraction']}",
        f"--valid-fraction {p['valid_fraction']}",
        f"--negatives-per-positive {p['negatives_per_positive']}",
        # 'background' negatives are matched on the sample's tracks as well as on GC
        f"--conservation '{row.conservation}'"
        if row.alphabet == "dna" and row.negatives == "background" and row.conservation
        else "",
    ]
    return " ".join(o for o in opts if o)


rule prepare:
    input:
        sample_files,
    output:
        "results/{sample}/prepared.tsv",
    params:
        opts=prepare_options,
    log:
        "results/{sample}/logs/prepare.log",
    threads: 1
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    shell:
        "seqfm prepare {params.opts} --out {output} > {log} 2>&1"
