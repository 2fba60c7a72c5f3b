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
    log:
        "logs/simulate_example.log",
    threads: 1
    resources:
        mem_mb=simulate_mem_mb,
        runtime=simulate_runtime,
    params:
        out=lambda w, output: Path(output.genome).parent,
        s=config["simulate"],
    shell:
        "seqfm simulate --out {params.out} --seed {params.s[seed]} "
        "--genome-size {params.s[genome_size]} --n-positives {params.s[n_positives]} > {log} 2>&1"


rule simulate_protein_example:
    output:
        positives="resources/example/protein/positives.fa",
        negatives="resources/example/protein/negatives.fa",
        msa=directory("resources/example/protein/msa"),
        truth="resources/example/protein/truth.tsv",
        meme="resources/example/protein/motifs.meme",
    log:
        "logs/simulate_protein_example.log",
    threads: 1
    resources:
        # measured: ~80 MB for 400 proteins, ~125 MB for 4,000 (63 s on a busy core)
        mem_mb=lambda w: int(300 + config["simulate"]["n_proteins"] / 50),
        runtime=lambda w: int(5 + config["simulate"]["n_proteins"] / 1000),
    params:
        out=lambda w, output: Path(output.positives).parent,
        s=config["simulate"],
    shell:
        "seqfm simulate-protein --out {params.out} --seed {params.s[seed]} "
        "--n-positives {params.s[n_proteins]} --n-negatives {params.s[n_proteins]} > {log} 2>&1"


rule prepare:
    input:
        sample_files,
    output:
        "results/{sample}/prepared.tsv",
    log:
        "results/{sample}/logs/prepare.log",
    threads: 1
    resources:
        mem_mb=prepare_mem_mb,
        runtime=prepare_runtime,
    params:
        opts=prepare_options,
    shell:
        "seqfm prepare {params.opts} --out {output} > {log} 2>&1"
