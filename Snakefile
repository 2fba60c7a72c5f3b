# seqfm: the entry users run from the repository root (`snakemake --cores 2`); the workflow
# itself is workflow/Snakefile, where the Snakemake catalog and deployments find it.


include: "workflow/Snakefile"


# an included file's `default_target` does not carry over to the including one
workflow.default_target = "all"
