"""Binary decisions against 0/1 labels, over many bootstrap resamples at once: pure functions over arrays.

A bootstrap resample is a vector of counts (how often each unit, a patient or a study, is drawn), so every metric is a
function of the four weighted confusion counts. ``counts`` is (B, n); a single evaluation on the data as they are is
``np.ones((1, n))``. Undefined ratios are NaN (sensitivity with no positive, PPV with no positive decision, ...),
except the Matthews correlation, which is 0 where its denominator is, as scikit-learn's ``matthews_corrcoef`` has it.
"""

from __future__ import annotations

import numpy as np

METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1", "mcc")


def confusion(decisions: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted true/false positives/negatives, each (B,), for (n,) 0/1 ``decisions`` and ``labels``."""
    d = np.asarray(decisions).astype(bool)
    y = np.asarray(labels).astype(bool)
    w = np.asarray(counts, dtype=np.float64)
    return {
        "tp": w @ (d & y).astype(np.float64),
        "fp": w @ (d & ~y).astype(np.float64),
        "fn": w @ (~d & y).astype(np.float64),
        "tn": w @ (~d & ~y).astype(np.float64),
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def mcc(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """Matthews correlation from confusion counts; 0 where a row or column of the confusion matrix is empty."""
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.where(denominator > 0, denominator, 1.0))
        return np.where(denominator > 0, (tp * tn - fp * fn) / root, 0.0)


def metrics(decisions: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of METRICS, each (B,), of 0/1 ``decisions`` against ``labels`` under each resample's counts."""
    c = confusion(decisions, labels, counts)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": mcc(tp, fp, fn, tn),
    }
