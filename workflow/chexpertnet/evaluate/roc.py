"""The ROC curve at every threshold, under bootstrap resamples, and a curve's sensitivity at a given false-positive
rate: pure functions over arrays.

The curve is scikit-learn's ``roc_curve(drop_intermediate=False)``: one point per distinct score (a unit is called
positive when its score is at least the threshold), from (0, 0) at an infinite threshold to (1, 1). Between two
points it is a straight line (linear interpolation). Where the curve is vertical (several points at one false-positive
rate, each threshold adding only positives) the sensitivity at that rate is the highest of them: the curve's upper
point, which is what ``numpy.interp`` returns on the same points. A point exactly on the curve (at a vertex, or on a
segment) has the curve's sensitivity at its rate: it is not below it.
"""

from __future__ import annotations

import numpy as np


def roc_points(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr), each (B, K + 1) for K distinct scores, of (n,) scores and 0/1 labels under (B, n) resample counts.
    A resample without a positive (negative) has NaN sensitivities (false-positive rates)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], np.asarray(labels)[order].astype(bool)
    w = np.asarray(counts, dtype=np.float64)[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores, highest first
    tp = np.cumsum(np.add.reduceat(w * y, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(w * ~y, starts, axis=1), axis=1)
    zero = np.zeros((len(w), 1))
    tp, fp = np.hstack([zero, tp]), np.hstack([zero, fp])
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / np.where(tp[:, -1:] > 0, tp[:, -1:], np.nan)
        fpr = fp / np.where(fp[:, -1:] > 0, fp[:, -1:], np.nan)
    return fpr, tpr


def sensitivity_at(fpr: np.ndarray, tpr: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """(B,) the curves' sensitivity at (B,) false-positive rates, linearly interpolated between the curve's points
    (the highest point where the curve is vertical; see the module). NaN where a curve or a rate is undefined."""
    fpr, tpr = np.atleast_2d(fpr), np.atleast_2d(tpr)
    rate = np.asarray(rate, dtype=np.float64).reshape(-1)
    defined = ~np.isnan(rate) & ~np.isnan(fpr[:, -1]) & ~np.isnan(tpr[:, -1])
    x = np.where(defined, rate, 0.0)
    f, t = np.nan_to_num(fpr), np.nan_to_num(tpr)
    last = (f <= x[:, None]).sum(axis=1) - 1  # the last point at or left of the rate: its sensitivity is the highest
    rows = np.arange(len(x))
    nxt = np.minimum(last + 1, f.shape[1] - 1)
    f0, f1, t0, t1 = f[rows, last], f[rows, nxt], t[rows, last], t[rows, nxt]
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where(f1 > f0, (t1 - t0) * (x - f0) / np.where(f1 > f0, f1 - f0, 1.0), 0.0)
    return np.where(defined, t0 + step, np.nan)
