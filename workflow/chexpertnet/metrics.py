"""ROC-AUC and friends: pure functions over arrays (no file I/O).

Where one class is absent the AUC is undefined: NaN, excluded from every mean, never an exception.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of 0/1 ``labels`` against ``scores``; NaN when only one class is present."""
    labels = np.asarray(labels)
    if labels.min(initial=1) == labels.max(initial=0):
        return math.nan
    return float(roc_auc_score(labels, scores))


def per_observation_auc(labels: np.ndarray, scores: np.ndarray, use: np.ndarray | None = None) -> list[float]:
    """AUC per column of (N, J) 0/1 labels and scores, over the entries where ``use`` (N, J) is true."""
    if use is None:
        use = np.ones(labels.shape, dtype=bool)
    return [auc(labels[use[:, j], j], scores[use[:, j], j]) for j in range(labels.shape[1])]


def mean_defined(values: Sequence[float]) -> float:
    """Mean over the values that are defined (not NaN); NaN if none is."""
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan


# --- patient level -------------------------------------------------------------------------------------------------
def aggregate_by_patient(
    patients: np.ndarray, scores: np.ndarray, labels: np.ndarray, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image rows -> one row per patient: (patient ids sorted, scores (P, J), labels (P, J)).

    Scores are the mean (default) or the max (CheXpert's protocol) of the patient's images; a patient is positive
    for an observation when any of its images is labelled positive.
    """
    if how not in ("mean", "max"):
        raise ValueError(f"aggregate {how!r} is not 'mean' or 'max'")
    ids, inverse = np.unique(np.asarray(patients), return_inverse=True)
    j = scores.shape[1]
    out_labels = np.zeros((len(ids), j))
    np.maximum.at(out_labels, inverse, labels)
    if how == "max":
        out_scores = np.full((len(ids), j), -np.inf)
        np.maximum.at(out_scores, inverse, scores)
    else:
        out_scores = np.zeros((len(ids), j))
        np.add.at(out_scores, inverse, scores)
        out_scores /= np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, out_scores, out_labels


def weighted_auc(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of one observation for many resamples at once.

    ``counts`` (B, n) says how often each of the n patients appears in each of B resamples (a bootstrap resample is a
    vector of counts). Exact, ties counted one half, as roc_auc_score on the expanded data; NaN where a resample has
    no positive or no negative. O(B * n) after one sort.
    """
    order = np.argsort(scores, kind="mergesort")
    s, y, w = scores[order], labels[order].astype(bool), counts[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def bootstrap_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) multinomial counts: patients drawn with replacement, seeded."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


def bootstrap_auc(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, J) AUC per resample and observation for patient-level (n, J) scores and labels."""
    return np.stack([weighted_auc(scores[:, j], labels[:, j], counts) for j in range(scores.shape[1])], axis=1)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring NaN resamples (an all-NaN column gives NaN)."""
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, tail, axis=0), np.nanpercentile(samples, 100 - tail, axis=0)


def paired_bootstrap(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, counts: np.ndarray, level: float = 0.95
) -> dict:
    """ΔAUC = AUC(b) - AUC(a) per observation and of the mean over defined observations, on the same resampled
    patients for both: the point estimate, the percentile CI and the two-sided bootstrap p-value
    p = min(1, 2 * min(P(Δ* <= 0), P(Δ* >= 0)))."""
    auc_a = np.array(per_observation_auc(labels, scores_a))
    auc_b = np.array(per_observation_auc(labels, scores_b))
    defined = ~np.isnan(auc_a) & ~np.isnan(auc_b)
    boot_a, boot_b = bootstrap_auc(scores_a, labels, counts), bootstrap_auc(scores_b, labels, counts)
    delta = boot_b - boot_a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_delta = np.nanmean(delta[:, defined], axis=1) if defined.any() else np.full(len(delta), np.nan)
    samples = np.column_stack([delta, mean_delta])
    point = np.r_[auc_b - auc_a, np.mean((auc_b - auc_a)[defined]) if defined.any() else np.nan]
    low, high = percentile_ci(samples, level)
    valid = ~np.isnan(samples)
    with np.errstate(all="ignore"):
        below = np.where(valid, samples <= 0, False).sum(axis=0) / valid.sum(axis=0)
        above = np.where(valid, samples >= 0, False).sum(axis=0) / valid.sum(axis=0)
    p = np.minimum(1.0, 2 * np.minimum(below, above))
    p[np.isnan(point)] = np.nan
    return {"delta": point, "low": low, "high": high, "p": p}
