# Shared set-up: config and samples validated at start-up, input functions, final targets.
import sys
from pathlib import Path

from seqfm.errors import InputError
from seqfm.samples import read_samples


def _fail(message):
    # one clear line and a non-zero exit, no traceback
    print(f"seqfm: error: {message}", file=sys.stderr)
    sys.exit(1)


def _check_config(config):
    import jsonschema
    import yaml

    schema = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if err is not None:
        where = ".".join(map(str, err.absolute_path)) or "top level"
        _fail(f"config: {where}: {err.message}")


SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
_check_config(config)

try:
    SAMPLES = read_samples(config["samples"], SCHEMAS / "samples.schema.yaml")
except InputError as err:
    _fail(str(err))

SAMPLE_NAMES = list(SAMPLES.index)

# Light rules run where snakemake runs, not as cluster jobs (the SLURM profile submits the rest).
localrules:
    all,
    simulate_example,
    simulate_protein_example,


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLE_NAMES)) if SAMPLE_NAMES else "[A-Za-z0-9._-]+",

# Each stage's rule file appends the per-sample files it contributes to `rule all`.
TARGETS = []
# ...and the files that are not per sample (e.g. results/index.html).
EXTRA_TARGETS = []


def final_targets(wildcards):
    return [f"results/{s}/{t}" for s in SAMPLE_NAMES for t in TARGETS] + EXTRA_TARGETS


def sample(wildcards):
    return SAMPLES.loc[wildcards.sample]


def sample_files(wildcards):
    """Every input file a sample names (so rules rerun when an input changes)."""
    row = sample(wildcards)
    files = [row.positives] + ([row.negatives] if row.negatives not in ("shuffle", "background") else [])
    files += [row.genome] if row.genome else []
    return files


def conservation_files(wildcards):
    return [c for c in sample(wildcards).conservation.split(",") if c]


def cfg(section, key):
    return config[section][key]


def csv(values):
    return ",".join(str(v) for v in values)
