# Quick start:  make run   (set up .venv if needed, run the built-in default workflow)
#               make test  (set up .venv if needed, lint, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slurm lint unit integration slurm bench setup clean-results

setup: $(STAMP)

# (Re)install when pyproject.toml changes; idempotent. torch/torchvision are pinned in pyproject.toml.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores all

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

# The SLURM profile on a one-node SLURM brought up on this machine (root; installs SLURM if missing), and its dry run
slurm: $(STAMP)
	CHEXPERTNET_TEST_SLURM=1 $(BIN)/python -m pytest tests/slurm

# everything, the real-SLURM test included (installs SLURM with apt as root when it is not there)
test-slurm: lint
	CHEXPERTNET_TEST_SLURM=1 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cache.py

# The built-in default's results, all but the archived table versions (results/phantom/archive/), which stay.
# Only results/phantom/: other datasets' results and .snakemake/ (Snakemake's records of every run in this checkout,
# real-data runs' and their SLURM logs included) are left as they are; Snakemake redoes whatever is missing.
clean-results:
	test ! -d results/phantom || find results/phantom -mindepth 1 -maxdepth 1 ! -name archive -exec rm -rf {} +
