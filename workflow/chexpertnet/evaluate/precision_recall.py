"""Average precision, the area under the precision-recall curve as scikit-learn's ``average_precision_score``
computes it (the step-wise sum over thresholds of the recall gained times the precision there, no interpolation),
under bootstrap resamples: pure functions over arrays. It is read against the prevalence, the AP of a model that
ranks at random, which is reported beside it."""

from __future__ import annotations

import numpy as np


def average_precision(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B,) average precision of (n,) scores and 0/1 labels under (B, n) resample counts (a unit counted k times
    weighs k); NaN for a resample without a positive."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], np.asarray(labels)[order].astype(bool)
    w = np.asarray(counts, dtype=np.float64)[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # tied scores form one threshold, highest first
    tp = np.cumsum(np.add.reduceat(w * y, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(w * ~y, starts, axis=1), axis=1)
    positives = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1.0), 0.0)
        recall = tp / np.where(positives > 0, positives, np.nan)
    gained = np.diff(np.hstack([np.zeros((len(w), 1)), recall]), axis=1)
    return np.sum(gained * precision, axis=1)


def prevalence(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B,) share of positives under (B, n) resample counts: the AP of a random ranking."""
    w = np.asarray(counts, dtype=np.float64)
    return (w * np.asarray(labels, dtype=np.float64)).sum(axis=1) / w.sum(axis=1)
