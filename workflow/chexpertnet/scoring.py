"""The patient-level score table of one model: AUC, bootstrap CI, counts and stability per observation, and means."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from chexpertnet.metrics import (
    aggregate_by_patient,
    bootstrap_auc,
    bootstrap_counts,
    per_observation_auc,
    percentile_ci,
)
from chexpertnet.observations import ABBREVIATIONS, COMPETITION_TASKS, OBSERVATIONS

UNSTABLE_BELOW = 10  # positives
MEAN_DEFINED = "mean (defined observations)"
MEAN_COMPETITION = "mean (5 competition tasks)"


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def score_table(
    patients, image_scores: np.ndarray, image_labels: np.ndarray, aggregate: str = "mean", resamples: int = 2000,
    seed: int = 0, level: float = 0.95,
) -> pd.DataFrame:  # fmt: skip
    """One row per observation and two mean rows. Undefined AUCs are NaN and excluded from the means."""
    _, scores, labels = aggregate_by_patient(np.asarray(patients), image_scores, image_labels, aggregate)
    point = np.array(per_observation_auc(labels, scores))
    samples = bootstrap_auc(scores, labels, bootstrap_counts(len(scores), resamples, seed))
    defined = ~np.isnan(point)
    competition = np.array([o in COMPETITION_TASKS for o in OBSERVATIONS]) & defined
    means = np.column_stack([
        _nanmean(samples[:, defined], axis=1) if defined.any() else np.full(resamples, np.nan),
        _nanmean(samples[:, competition], axis=1) if competition.any() else np.full(resamples, np.nan),
    ])  # fmt: skip
    low, high = percentile_ci(np.column_stack([samples, means]), level)
    positives = labels.sum(axis=0).astype(int)
    negatives = (len(labels) - positives).astype(int)
    table = pd.DataFrame({
        "observation": [*OBSERVATIONS, MEAN_DEFINED, MEAN_COMPETITION],
        "abbreviation": [*ABBREVIATIONS, "mean", "mean5"],
        "auc": np.r_[point, point[defined].mean() if defined.any() else np.nan,
                     point[competition].mean() if competition.any() else np.nan],
        "ci_low": low,
        "ci_high": high,
        "positives": [*positives, int(defined.sum()), int(competition.sum())],
        "negatives": [*negatives, 0, 0],
        "unstable": [*(positives < UNSTABLE_BELOW), False, False],
    })  # fmt: skip
    undefined = np.r_[~defined, ~defined.any(), ~competition.any()]
    table.loc[undefined, ["ci_low", "ci_high"]] = np.nan
    return table
