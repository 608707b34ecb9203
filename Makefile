# Quick start:  make run   (set up .venv if needed, run the built-in default workflow)
#               make test  (set up .venv if needed, lint, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package that setup installs, each at one version (the direct pins are pyproject.toml's): made by `make lock`
LOCK := requirements.lock
# The test suite runs on one process per core, at most 4 (pytest-xdist). Each process starts with a contiguous part
# of the tests (so a module's tests mostly share one process and its module fixtures) and takes over tests from a
# busier one when it runs out (worksteal)
PYTEST := $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist worksteal

.PHONY: run test test-slurm lint unit integration slurm bench setup lock clean-results

setup: $(STAMP)

# (Re)install when pyproject.toml or the lock changes; idempotent. The lock constrains every package installed
# (pip's own and the build's setuptools included) to its locked version.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) --build-constraint $(LOCK) -e ".[test]"
	touch $(STAMP)

# Remake the lock after a change of pyproject.toml's pins: pyproject.toml with its test extra installed into a new
# virtual environment (the newest pip and setuptools, the newest versions of everything it does not pin), frozen.
lock:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip setuptools; \
	"$$tmp/venv/bin/python" -m pip install --quiet --no-build-isolation -e ".[test]"; \
	{ echo "# Every package that \`make setup\` installs (pyproject.toml with its test extra, pip and setuptools),"; \
	  echo "# each at one version; \`make setup\` installs with this file as constraints. Made by \`make lock\`"; \
	  echo "# (pip freeze of a new virtual environment, $$("$$tmp/venv/bin/python" -c 'import platform as p; \
	  print(f"Python {p.python_version()} on {p.system()} {p.machine()}")')); do not edit by hand."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude-editable; } > "$$tmp/lock"; \
	mv "$$tmp/lock" $(LOCK)

run: $(STAMP)
	$(BIN)/snakemake --cores all

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

test: lint
	$(PYTEST)

unit: $(STAMP)
	$(PYTEST) tests/unit

integration: $(STAMP)
	$(PYTEST) tests/integration

# The SLURM profile on a one-node SLURM brought up on this machine (root; installs SLURM if missing), and its dry run
slurm: $(STAMP)
	CHEXPERTNET_TEST_SLURM=1 $(PYTEST) tests/slurm

# everything, the real-SLURM test included (installs SLURM with apt as root when it is not there)
test-slurm: lint
	CHEXPERTNET_TEST_SLURM=1 $(PYTEST)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cache.py

# The built-in default's results, all but the archived table versions (results/phantom/archive/), which stay.
# Only results/phantom/: other datasets' results and .snakemake/ (Snakemake's records of every run in this checkout,
# real-data runs' and their SLURM logs included) are left as they are; Snakemake redoes whatever is missing.
clean-results:
	test ! -d results/phantom || find results/phantom -mindepth 1 -maxdepth 1 ! -name archive -exec rm -rf {} +
