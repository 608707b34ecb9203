#!/usr/bin/env bash
# The prepared GPU check (benchmarks/gpu_check.py) as one command for a lent GPU machine:
#   bash benchmarks/gpu_check.sh [gpu_check.py options]
# Results go to $OUT (the device tool's output folder), else results/gpu_check. Uses python3 (the machine's torch).
set -o pipefail
cd "$(dirname "$0")/.." || exit 1
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" benchmarks/gpu_check.py --out "${OUT:-results/gpu_check}" "$@" 2>&1
