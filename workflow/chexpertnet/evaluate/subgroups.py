"""Patient subgroups from CheXpert's own columns, and the gap in AUC between two disjoint groups. Pure functions.

Groups: sex (`Sex`: Female, Male), age band at the study (`Age`: <40, 40-59, 60-79, 80+) and the frontal projection
(`AP/PA`: AP, PA). A value that is missing or not one of these ("Unknown", blank, a lateral's "LL") falls in the
group ``Unknown``, which is reported like any other, never dropped.

The gap between groups a and b is AUC(a) - AUC(b) over their patients. The groups are disjoint patients, so its
interval resamples patients within each group, each group keeping its size in every resample (a stratified
bootstrap): the interval covers the sampling of patients within both groups, as two independent samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

UNKNOWN = "Unknown"
AGE_BANDS = (("<40", -math.inf, 40), ("40-59", 40, 60), ("60-79", 60, 80), ("80+", 80, math.inf))
SEXES = ("Female", "Male")
PROJECTIONS = ("AP", "PA")


def age_band(age) -> str:
    """The band of an age in years (``Age`` as CheXpert writes it: an integer, maybe as text); Unknown when missing."""
    try:
        years = float(age)
    except (TypeError, ValueError):
        return UNKNOWN
    if not math.isfinite(years) or years < 0:
        return UNKNOWN
    return next(name for name, lo, hi in AGE_BANDS if lo <= years < hi)


def sex_group(sex) -> str:
    return sex if sex in SEXES else UNKNOWN


def projection_group(projection) -> str:
    return projection if projection in PROJECTIONS else UNKNOWN


def group_resamples(sizes: Sequence[int], resamples: int, seed: int) -> list[np.ndarray]:
    """Per group, a (resamples, size) array of indices into that group's patients, drawn with replacement: every
    resample keeps each group's size."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=(resamples, n)) for n in sizes]


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted one half; NaN without both classes."""
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return math.nan
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auc_gap(y_a, s_a, y_b, s_b, resamples: int = 2000, seed: int = 0, level: float = 0.95
            ) -> tuple[float, float, float]:  # fmt: skip
    """AUC(a) - AUC(b) and its percentile interval from a bootstrap that resamples patients within each group
    (resamples without both classes in a group are left out of the interval)."""
    y_a, s_a, y_b, s_b = (np.asarray(v, dtype=float) for v in (y_a, s_a, y_b, s_b))
    gap = _auc(y_a, s_a) - _auc(y_b, s_b)
    idx_a, idx_b = group_resamples([len(y_a), len(y_b)], resamples, seed)
    draws = np.array([_auc(y_a[i], s_a[i]) - _auc(y_b[j], s_b[j]) for i, j in zip(idx_a, idx_b, strict=True)])
    draws = draws[np.isfinite(draws)]
    if not len(draws) or not math.isfinite(gap):
        return gap, math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return float(gap), float(lo), float(hi)
