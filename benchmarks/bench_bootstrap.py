"""Benchmark: the vectorised patient bootstrap (2,000 resamples x 14 observations x 200 patients) on one core,
against the loop a reader would write (index the resample, call sklearn's roc_auc_score), measured in the same run.

    .venv/bin/python benchmarks/bench_bootstrap.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate.metrics import bootstrap_auc, bootstrap_counts

RESAMPLES, OBSERVATIONS, PATIENTS = 2000, 14, 200


def sklearn_loop(scores: np.ndarray, labels: np.ndarray, resamples: int) -> float:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(resamples):
        idx = rng.integers(0, PATIENTS, PATIENTS)
        for j in range(OBSERVATIONS):
            y = labels[idx, j]
            if 0 < y.sum() < len(y):
                roc_auc_score(y, scores[idx, j])
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((PATIENTS, OBSERVATIONS)) < 0.3).astype(float)
    scores = rng.random((PATIENTS, OBSERVATIONS))
    start = time.perf_counter()
    bootstrap_auc(scores, labels, bootstrap_counts(PATIENTS, RESAMPLES, seed=0))
    ours = time.perf_counter() - start
    subset = 100  # the loop is slow: time 100 resamples and scale
    loop = sklearn_loop(scores, labels, subset) * RESAMPLES / subset
    print(f"# bench_bootstrap: {RESAMPLES} resamples x {OBSERVATIONS} observations x {PATIENTS} patients, one core")
    print(f"vectorised (chexpertnet.evaluate.metrics.bootstrap_auc): {ours:.3f} s")
    print(f"baseline, sklearn roc_auc_score per resample (timed on {subset}, scaled): {loop:.1f} s")
    print(f"ratio: {loop / ours:.0f}x")


if __name__ == "__main__":
    main()
