# `seqfm report`: every result of a sample -> results/{sample}/report.html (self-contained);
# all samples -> results/index.html. Both pages are also items of `snakemake --report`.


rule report:
    input:
        report_inputs,
    output:
        report(
            "results/{sample}/report.html",
            caption="../report/report_html.rst",
            category="Motif report",
            labels={"sample": "{sample}", "page": "motif report"},
        ),
    log:
        "results/{sample}/logs/report.log",
    threads: 1
    resources:
        # measured ~145 MB and 7 s for an 18 MB results folder; downloads are embedded
        mem_mb=lambda w, input, attempt: int((500 + 4 * _mb(input)) * attempt),
        runtime=lambda w, input, attempt: int((10 + 0.1 * _mb(input)) * attempt),
    params:
        results=lambda w: f"results/{w.sample}",
        opts=report_options,
    shell:
        "seqfm report --results {params.results} --out {output} {params.opts} > {log} 2>&1"


rule report_index:
    input:
        expand("results/{sample}/report.html", sample=SAMPLE_NAMES),
    output:
        report(
            "results/index.html",
            caption="../report/index_html.rst",
            category="Motif report",
            labels={"sample": "all samples", "page": "index"},
        ),
    log:
        "logs/report_index.log",
    threads: 1
    resources:
        mem_mb=300,  # measured ~75 MB
        runtime=5,
    params:
        results=[f"results/{s}" for s in SAMPLE_NAMES],
    shell:
        "seqfm report --index --results {params.results} --out {output} > {log} 2>&1"
