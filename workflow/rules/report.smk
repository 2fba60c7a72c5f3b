# `seqfm report`: every result of a sample -> results/{sample}/report.html (self-contained);
# all samples -> results/index.html. Both pages are also items of `snakemake --report`.
import shlex

from snakemake.exceptions import WildcardError

from seqfm.report import config_digest as _config_digest

# the stages whose outputs the page shows; a stage whose rule is not part of the workflow
# is left out of the inputs (the page then says the files are missing)
REPORTED_RULES = ("train", "motifs", "sites", "scan")
# config.yaml's `report:` section; a config without it gets these
REPORT_DEFAULTS = {"max_motifs": 30, "max_sites": 25, "featuremaps": 4, "embed_downloads": True}


def report_inputs(wildcards):
    files = [f"results/{wildcards.sample}/prepared.tsv", f"results/{wildcards.sample}/dataset"]
    targets = set(final_targets(wildcards))
    for name in REPORTED_RULES:
        if not rules.has(name):
            continue
        outputs = []
        for pattern in getattr(rules, name).output:
            try:  # outputs with other wildcards (e.g. per-chromosome shards) are not inputs here
                outputs += expand(str(pattern), sample=wildcards.sample)
            except WildcardError:
                pass
        # a stage counts for this sample when the workflow makes it (e.g. scan: samples with a genome)
        if any(o in targets for o in outputs):
            files += outputs
    truth = report_truth(wildcards)
    return files + ([truth] if truth else [])


def report_truth(wildcards):
    """Known sites of a simulated sample (config `sites.truth`: sample -> BED), drawn on the
    feature maps when the archive of `seqfm sites` has none."""
    return ((config.get("sites") or {}).get("truth") or {}).get(wildcards.sample, "")


def report_options(wildcards):
    row, r = sample(wildcards), {**REPORT_DEFAULTS, **config.get("report", {})}
    opts = [f"--sample {wildcards.sample}"]
    for key in ("positives", "negatives", "genome", "conservation"):
        value = str(row.get(key, "") or "")
        if value:
            opts.append("--input " + shlex.quote(f"{key}={value}"))
    truth = report_truth(wildcards)
    if truth:
        opts.append(f"--truth {truth}")
    opts += [
        f"--config-digest {_config_digest(config)}",
        f"--max-motifs {r['max_motifs']}",
        f"--max-sites {r['max_sites']}",
        f"--featuremaps {r['featuremaps']}",
        "--embed-downloads" if r["embed_downloads"] else "--no-embed-downloads",
    ]
    return " ".join(opts)


localrules:
    report,
    report_index,


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
    params:
        results=lambda w: f"results/{w.sample}",
        opts=report_options,
    log:
        "results/{sample}/logs/report.log",
    threads: 1
    resources:
        # measured ~145 MB and 7 s for an 18 MB results folder; downloads are embedded
        mem_mb=lambda w, input, attempt: int((500 + 4 * _mb(input)) * attempt),
        runtime=lambda w, input, attempt: int((10 + 0.1 * _mb(input)) * attempt),
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
    params:
        results=[f"results/{s}" for s in SAMPLE_NAMES],
    log:
        "logs/report_index.log",
    threads: 1
    resources:
        mem_mb=300,  # measured ~75 MB
        runtime=5,
    shell:
        "seqfm report --index --results {params.results} --out {output} > {log} 2>&1"


TARGETS.append("report.html")
EXTRA_TARGETS.append("results/index.html")
