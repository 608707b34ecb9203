"""ROC-AUC per observation: pure functions over arrays (no file I/O).

Where one class is absent the AUC is undefined: NaN, excluded from every mean, never an exception.
"""

from __future__ import annotations

import math
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
