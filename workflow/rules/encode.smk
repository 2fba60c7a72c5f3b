# `seqfm encode`: prepared sequences + conservation -> dataset folder (uint8 codes, float16 tracks).


rule encode:
    input:
        prepared="results/{sample}/prepared.tsv",
        conservation=conservation_files,
    output:
        directory("results/{sample}/dataset"),
    params:
        alphabet=lambda w: sample(w).alphabet,
        tracks=lambda w, input: csv(input.conservation),
        e=config["encode"],
    log:
        "results/{sample}/logs/encode.log",
    shell:
        "seqfm encode {input.prepared} --alphabet {params.alphabet} --policy {params.e[policy]} "
        "--conservation '{params.tracks}' --fill {params.e[fill]} --seed {config[seed]} "
        "--out {output} > {log} 2>&1"


TARGETS.append("dataset")
