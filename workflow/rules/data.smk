# Inputs: the embedded example (simulated, seeded) and `seqfm prepare` per sample.


rule simulate_example:
    output:
        genome="resources/example/genome.fa",
        fai="resources/example/genome.fa.fai",
        positives="resources/example/positives.bed",
        narrowpeak="resources/example/positives.narrowPeak",
        truth="resources/example/truth.bed",
        conservation="resources/example/conservation.bw",
    params:
        out=lambda w, output: Path(output.genome).parent,
        s=config["simulate"],
    log:
        "logs/simulate_example.log",
    shell:
        "seqfm simulate --out {params.out} --seed {params.s[seed]} "
        "--genome-size {params.s[genome_size]} --n-positives {params.s[n_positives]} > {log} 2>&1"


def prepare_options(wildcards):
    row, p = sample(wildcards), config["prepare"]
    opts = [
        f"--positives {row.positives}",
        f"--negatives {row.negatives}",
        f"--genome {row.genome}" if row.genome else "",
        f"--alphabet {row.alphabet}",
        f"--length {p['length']}",
        f"--seed {config['seed']}",
        f"--test-chroms '{csv(p['test_chroms'])}'",
        f"--valid-chroms '{csv(p['valid_chroms'])}'",
        f"--test-fraction {p['test_fraction']}",
        f"--valid-fraction {p['valid_fraction']}",
        f"--negatives-per-positive {p['negatives_per_positive']}",
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
    shell:
        "seqfm prepare {params.opts} --out {output} > {log} 2>&1"
