"""ROC-AUC per observation: pure functions over arrays (no file I/O).

Where one class is absent the AUC is undefined: NaN, excluded from every mean, never an exception.
"""

from __future__ import annotations

import math

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of 0/1 ``labels`` against ``scores``; NaN when only one class is present.

    The Mann-Whitney statistic from average ranks (ties count one half), which is the area under the ROC curve
    exactly (scikit-learn's `roc_auc_score` agrees; tested). Plain NumPy: importing scikit-learn would cost every
    training and scoring job most of a second.
    """
    labels = np.asarray(labels).astype(bool)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    _, inverse, counts = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank of each distinct score, ties averaged
    rank_sum = float(average_rank[inverse.ravel()][labels].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def per_observation_auc(labels: np.ndarray, scores: np.ndarray, use: np.ndarray | None = None) -> list[float]:
    """AUC per column of (N, J) 0/1 labels and scores, over the entries where ``use`` (N, J) is true."""
    if use is None:
        use = np.ones(labels.shape, dtype=bool)
    return [auc(labels[use[:, j], j], scores[use[:, j], j]) for j in range(labels.shape[1])]

