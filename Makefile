# seqfm: `make demo` runs the workflow on the embedded example, `make test` runs the tests.
# Both create the environment (.venv) first; see scripts/setup-env.sh for how torch is chosen.
VENV   ?= .venv
CORES  ?= 2
BIN    := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env demo test lint bench clean

env: $(VENV)/.seqfm-env

$(VENV)/.seqfm-env: pyproject.toml scripts/setup-env.sh
	bash scripts/setup-env.sh $(VENV) workflow,dev,bench
	touch $@

demo: env
	snakemake --cores $(CORES)

test: env
	pytest -q -rs

# snakemake --lint (but for the per-rule environment finding; README.md) and snakefmt
lint: env
	python scripts/lint-workflow.py
	snakefmt --check Snakefile workflow

bench: env
	python bench/run.py

clean:
	rm -rf results resources/example .snakemake logs
