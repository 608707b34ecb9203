"""DeLong's test of a paired AUC difference, with the fast algorithm of Sun & Xu (2014). Pure functions over arrays.

DeLong, DeLong & Clarke-Pearson (1988) write each AUC as a two-sample U-statistic, whose variance and covariance
come from its structural components: for positive patient i, V10_i = the share of negatives it outranks (ties one
half); for negative j, V01_j = the share of positives that outrank it. For the difference of two models scored on
the same patients, D10 = V10(b) - V10(a) and D01 = V01(b) - V01(a), and

    Var(AUC_b - AUC_a) = s²(D10) / m + s²(D01) / n        (m positives, n negatives; sample variances)

Sun & Xu compute the components from midranks in O((m + n) log(m + n)) instead of comparing every pair:
V10_i = (Tz_i - Tx_i) / n and V01_j = 1 - (Tz_j - Ty_j) / m, with Tz the midrank among all patients and Tx, Ty the
midranks among the positives, among the negatives.

Several seeds of a model: its AUC is the seeds' mean, a linear function of the components, so its components are
the seeds' mean components; that variance covers patient sampling with the seeds held fixed. The variation between
training seeds is added to it: s²_a / S_a + s²_b / S_b (each model's sample variance of its seeds' AUCs over its
number of seeds; the two models' trainings are independent), so the interval covers patients and seeds.

The difference is undefined (NaN) where either class has fewer than two patients: a variance from one patient does
not exist, so an observation carried by one positive patient never gets a p-value from this test.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank."""
    _, inverse, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.ravel()]


def structural_components(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, V10 per positive, V01 per negative) of one model's scores (n,), or the seeds' mean of (S, n)."""
    auc, v10, v01, _ = _components(scores, labels)
    return auc, v10, v01


def _components(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`structural_components` and the AUC of each seed (S,)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    positive = np.asarray(labels).astype(bool)
    m, n = int(positive.sum()), int((~positive).sum())
    v10 = np.zeros(m)
    v01 = np.zeros(n)
    per_seed = np.empty(len(scores))
    for k, s in enumerate(scores):
        x, y = s[positive], s[~positive]
        tz = midranks(np.r_[x, y])
        seed_v10 = (tz[:m] - midranks(x)) / n
        v10 += seed_v10
        v01 += 1.0 - (tz[m:] - midranks(y)) / m
        per_seed[k] = seed_v10.mean()
    v10 /= len(scores)
    v01 /= len(scores)
    return float(v10.mean()), v10, v01, per_seed


def seeds_variance(per_seed: np.ndarray) -> float:
    """The variance of a mean of S independent trainings' AUCs: s² / S (0 with one seed)."""
    return float(np.var(per_seed, ddof=1) / len(per_seed)) if len(per_seed) > 1 else 0.0


def delong_difference(scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, level: float = 0.95,
                      paired: bool = False) -> dict:  # fmt: skip
    """AUC(b) - AUC(a) on the same patients: the AUCs, Δ, its standard error, the normal-theory CI and the
    two-sided p-value of DeLong's test. Scores are (n,) or (S, n) for S seeds (the seeds' variance added: of the
    per-seed differences where the seeds are ``paired``, else each side's); NaN where either class has fewer than
    two patients."""
    labels = np.asarray(labels).astype(bool)
    m, n = int(labels.sum()), int((~labels).sum())
    if m < 2 or n < 2:
        return {"auc_a": math.nan, "auc_b": math.nan, "delta": math.nan, "se": math.nan, "low": math.nan,
                "high": math.nan, "p": math.nan}  # fmt: skip
    auc_a, v10_a, v01_a, seeds_a = _components(scores_a, labels)
    auc_b, v10_b, v01_b, seeds_b = _components(scores_b, labels)
    variance = np.var(v10_b - v10_a, ddof=1) / m + np.var(v01_b - v01_a, ddof=1) / n
    if paired and len(seeds_a) == len(seeds_b):
        variance += seeds_variance(seeds_b - seeds_a)
    else:
        variance += seeds_variance(seeds_a) + seeds_variance(seeds_b)
    delta = auc_b - auc_a
    se = math.sqrt(max(float(variance), 0.0))
    z_level = NormalDist().inv_cdf(0.5 + level / 2)
    # se 0: every component of the difference is the same, Δ is exact (0: p 1; else: p 0)
    p = math.erfc(abs(delta) / se / math.sqrt(2.0)) if se > 0 else float(delta == 0)
    p = max(p, math.ulp(0.0))  # never 0: a p-value below the smallest double is written as that
    return {"auc_a": auc_a, "auc_b": auc_b, "delta": delta, "se": se, "low": delta - z_level * se,
            "high": delta + z_level * se, "p": p}  # fmt: skip


def delong_per_observation(scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray,
                           level: float = 0.95, paired: bool = False) -> dict[str, np.ndarray]:  # fmt: skip
    """:func:`delong_difference` for each column of (n, J) labels and (n, J) or (S, n, J) scores: arrays of J."""
    a = np.asarray(scores_a)[None] if np.ndim(scores_a) == 2 else np.asarray(scores_a)
    b = np.asarray(scores_b)[None] if np.ndim(scores_b) == 2 else np.asarray(scores_b)
    results = [delong_difference(a[..., j], b[..., j], labels[:, j], level, paired) for j in range(labels.shape[1])]
    return {key: np.array([r[key] for r in results]) for key in results[0]}
