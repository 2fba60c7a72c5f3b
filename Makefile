# seqfm: `make demo` runs the workflow on the embedded example, `make test` runs the tests.
# Both create the environment (.venv) first; see scripts/setup-env.sh for how torch is chosen.
VENV   ?= .venv
CORES  ?= 2
BIN    := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env demo test bench clean

env: $(VENV)/.seqfm-env

$(VENV)/.seqfm-env: pyproject.toml scripts/setup-env.sh
	bash scripts/setup-env.sh $(VENV) dev,bench
	touch $@

demo: env
	snakemake --cores $(CORES) --workflow-profile workflow/profiles/default

test: env
	pytest -q -rs

bench: env
	python bench/run.py

clean:
	rm -rf results resources/example .snakemake logs
