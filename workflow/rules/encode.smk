# `seqfm encode`: prepared sequences + conservation -> dataset folder (uint8 codes, float16 tracks).


def encode_mem_mb(wildcards, input, attempt):
    # codes (1 byte per base) + float16 tracks (2 bytes per base per track) and their float32
    # reads, all about the size of prepared.tsv each; measured ~150 MiB for 7.7 MiB / 1 track
    n_tracks = len(input.conservation)
    return int((500 + (4 + 4 * n_tracks) * _mb([input.prepared])) * attempt)


def encode_runtime(wildcards, input, attempt):
    # minutes; measured ~1.8 s per MiB of prepared.tsv with one bigWig track
    n_tracks = max(1, len(input.conservation))
    return int((10 + 0.1 * n_tracks * _mb([input.prepared])) * attempt)


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
    threads: 1
    resources:
        mem_mb=encode_mem_mb,
        runtime=encode_runtime,
    shell:
        "seqfm encode {input.prepared} --alphabet {params.alphabet} --policy {params.e[policy]} "
        "--conservation '{params.tracks}' --fill {params.e[fill]} --seed {config[seed]} "
        "--out {output} > {log} 2>&1"


TARGETS.append("dataset")
