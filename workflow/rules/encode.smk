# `seqfm encode`: prepared sequences + conservation -> dataset folder (uint8 codes, float16 tracks).


rule encode:
    input:
        prepared="results/{sample}/prepared.tsv",
        conservation=conservation_files,
    output:
        directory("results/{sample}/dataset"),
    log:
        "results/{sample}/logs/encode.log",
    threads: 1
    resources:
        mem_mb=encode_mem_mb,
        runtime=encode_runtime,
    params:
        opts=encode_options,
    shell:
        "seqfm encode --prepared {input.prepared} {params.opts} --out {output} > {log} 2>&1"
