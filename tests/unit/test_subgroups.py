"""Subgroups' pure functions: the bands and groups from CheXpert's columns, the AUC against scikit-learn, the
stratified bootstrap keeping each group's size, and the gap's interval by simulation: a planted gap is found, and
without one the interval includes 0 in at least 90% of 50 seeded simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate import subgroups as S


@pytest.mark.parametrize(
    ("age", "band"),
    [(18, "<40"), (39, "<40"), ("39.9", "<40"), (40, "40-59"), ("59", "40-59"), (60, "60-79"), (79.5, "60-79"),
     (80, "80+"), ("90", "80+"), ("", "Unknown"), (None, "Unknown"), ("Unknown", "Unknown"), (math.nan, "Unknown"),
     (-1, "Unknown")],
)  # fmt: skip
def test_age_bands_at_their_edges(age, band):
    assert S.age_band(age) == band


def test_sex_and_projection_groups_keep_unknowns():
    assert [S.sex_group(v) for v in ("Female", "Male", "Unknown", "", None)] == ["Female", "Male", *["Unknown"] * 3]
    assert [S.projection_group(v) for v in ("AP", "PA", "LL", "")] == ["AP", "PA", "Unknown", "Unknown"]


def test_the_auc_equals_scikit_learns_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 5, 300) / 4  # many ties
    assert S._auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(S._auc(np.ones(4), np.arange(4.0)))


def test_each_group_keeps_its_size_in_every_resample():
    a, b = S.group_resamples([37, 112], 200, seed=3)
    assert a.shape == (200, 37) and b.shape == (200, 112)
    assert a.min() >= 0 and a.max() < 37 and b.min() >= 0 and b.max() < 112


def scores(rng, n: int, prevalence: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose positives sit ``shift`` standard deviations above the negatives."""
    y = (rng.uniform(0, 1, n) < prevalence).astype(float)
    return y, rng.normal(0, 1, n) + shift * y


def test_a_planted_gap_is_found():
    rng = np.random.default_rng(4)
    y_f, s_f = scores(rng, 300, 0.3, 0.6)  # women's positives scored lower: AUC about 0.66
    y_m, s_m = scores(rng, 250, 0.3, 2.0)  # men's: about 0.92
    gap, lo, hi = S.auc_gap(y_f, s_f, y_m, s_m, resamples=1000, seed=0)
    assert gap == pytest.approx(roc_auc_score(y_f, s_f) - roc_auc_score(y_m, s_m), abs=1e-12)
    assert lo < gap < hi < 0


def test_without_a_gap_the_interval_includes_0_in_at_least_90_percent_of_50_simulations():
    covered = 0
    for seed in range(50):
        rng = np.random.default_rng(100 + seed)
        y_a, s_a = scores(rng, 120, 0.3, 1.2)
        y_b, s_b = scores(rng, 200, 0.25, 1.2)
        _, lo, hi = S.auc_gap(y_a, s_a, y_b, s_b, resamples=400, seed=seed)
        covered += lo <= 0 <= hi
    assert covered >= 45, covered
