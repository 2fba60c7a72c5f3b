# seqfm: which motifs did a sequence model learn, and where are the binding sites?
# Run:  snakemake --cores 2 --workflow-profile workflow/profiles/default
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"

report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/scan.smk"


rule all:
    input:
        final_targets,
    default_target: True
