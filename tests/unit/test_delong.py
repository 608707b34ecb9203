"""DeLong's test: the fast algorithm against an O(n·m) implementation written from the definition (every
positive-negative pair compared), scikit-learn's AUC, and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate.delong import delong_difference, delong_per_observation, midranks, structural_components


def psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def reference(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(Δ, variance, p) from the definition: for each model (seeds averaged), V10_i = mean_j psi(X_i, Y_j) and
    V01_j = mean_i psi(X_i, Y_j) over all pairs; covariance matrices of the components; Var(Δ) = (S10_aa + S10_bb -
    2 S10_ab) / m + (S01_aa + S01_bb - 2 S01_ab) / n; p = 2 (1 - Φ(|Δ| / sd))."""
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    m, n = len(pos), len(neg)
    comps = []
    for model in (a, b):
        seeds = np.atleast_2d(model)
        v10 = np.zeros(m)
        v01 = np.zeros(n)
        for s in seeds:
            pairs = np.array([[psi(s[i], s[j]) for j in neg] for i in pos])  # (m, n)
            v10 += pairs.mean(axis=1)
            v01 += pairs.mean(axis=0)
        comps.append((v10 / len(seeds), v01 / len(seeds)))
    (v10a, v01a), (v10b, v01b) = comps
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    delta = v10b.mean() - v10a.mean()
    z = abs(delta) / math.sqrt(variance)
    p = 2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2))))
    return delta, variance, p


def test_midranks_average_ties():
    np.testing.assert_array_equal(midranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])), [4.0, 1.0, 4.0, 2.0, 4.0])


@pytest.mark.parametrize("seed", range(6))
def test_fast_delong_equals_the_pairwise_definition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 90))
    labels = (rng.random(n) < rng.uniform(0.15, 0.6)).astype(int)
    labels[:2], labels[2:4] = 1, 0
    a = rng.normal(labels * 0.8, 1.0)
    b = 0.6 * a + rng.normal(labels * 1.0, 0.8)
    if seed % 2:  # ties within and across classes
        a, b = np.round(a, 1), np.round(b, 1)
    got = delong_difference(a, b, labels)
    delta, variance, p = reference(a, b, labels)
    assert got["delta"] == pytest.approx(delta, abs=1e-12)
    assert got["se"] ** 2 == pytest.approx(variance, rel=1e-10)
    assert abs(got["p"] - p) < 1e-9
    assert got["auc_a"] == pytest.approx(roc_auc_score(labels, a), abs=1e-12)
    assert got["auc_b"] == pytest.approx(roc_auc_score(labels, b), abs=1e-12)
    assert got["low"] == pytest.approx(delta - 1.959963984540054 * math.sqrt(variance), abs=1e-12)


def test_several_seeds_use_the_seeds_mean_components_plus_the_seeds_variance():
    rng = np.random.default_rng(9)
    labels = (rng.random(60) < 0.4).astype(int)
    labels[:2], labels[2:4] = 1, 0
    a = rng.normal(labels * 0.7, 1.0, size=(3, 60))
    b = rng.normal(labels * 1.1, 1.0, size=(3, 60))
    got = delong_difference(a, b, labels)
    delta, patients_variance, _ = reference(a, b, labels)
    auc_a = [roc_auc_score(labels, s) for s in a]
    auc_b = [roc_auc_score(labels, s) for s in b]
    # the seeds' variance, from sklearn's AUCs: var of a mean of 3 independent trainings, per model
    seeds_variance = np.var(auc_a, ddof=1) / 3 + np.var(auc_b, ddof=1) / 3
    variance = patients_variance + seeds_variance
    p = math.erfc(abs(delta) / math.sqrt(variance) / math.sqrt(2))
    assert abs(got["p"] - p) < 1e-9 and got["se"] ** 2 == pytest.approx(variance, rel=1e-10)
    assert got["delta"] == pytest.approx(np.mean(auc_b) - np.mean(auc_a), abs=1e-12)
    assert seeds_variance > 0.05 * patients_variance  # the seeds' part is not negligible here


def test_identical_seeds_add_no_variance():
    rng = np.random.default_rng(4)
    labels = (rng.random(50) < 0.4).astype(int)
    labels[:2], labels[2:4] = 1, 0
    a, b = rng.normal(labels * 0.7, 1.0), rng.normal(labels * 1.1, 1.0)
    one = delong_difference(a, b, labels)
    three = delong_difference(np.stack([a] * 3), np.stack([b] * 3), labels)
    assert three["se"] == pytest.approx(one["se"], rel=1e-12) and three["p"] == pytest.approx(one["p"], rel=1e-12)


def test_one_positive_patient_gives_no_test():
    labels = np.array([1] + [0] * 199)
    rng = np.random.default_rng(0)
    got = delong_difference(rng.random(200), rng.random(200), labels)
    assert all(math.isnan(got[k]) for k in ("delta", "se", "low", "high", "p"))


def test_identical_models_and_a_hand_worked_case():
    labels = np.array([1, 1, 0, 0])
    same = delong_difference(np.array([0.9, 0.4, 0.5, 0.1]), np.array([0.9, 0.4, 0.5, 0.1]), labels)
    assert same["delta"] == 0 and same["p"] == 1.0 and same["se"] == 0
    # a: positives 0.9, 0.4; negatives 0.5, 0.1 -> V10 = (1, 0.5), V01 = (0.5, 1), AUC 0.75
    auc, v10, v01 = structural_components(np.array([0.9, 0.4, 0.5, 0.1]), labels)
    assert auc == 0.75 and list(v10) == [1.0, 0.5] and list(v01) == [0.5, 1.0]
    # b perfect: V10 = (1, 1), V01 = (1, 1). D10 = (0, 0.5), D01 = (0.5, 0): Var = 0.125/2 + 0.125/2 = 0.125
    b = delong_difference(np.array([0.9, 0.4, 0.5, 0.1]), np.array([0.9, 0.8, 0.5, 0.1]), labels)
    assert b["delta"] == 0.25 and b["se"] == pytest.approx(math.sqrt(0.125))
    assert b["p"] == pytest.approx(math.erfc(0.25 / math.sqrt(0.125) / math.sqrt(2)))


def test_per_observation_columns_and_undefined_ones():
    rng = np.random.default_rng(3)
    labels = (rng.random((50, 3)) < 0.4).astype(int)
    labels[:, 2] = 0
    a, b = rng.random((50, 3)), rng.random((2, 50, 3))
    out = delong_per_observation(a, b, labels)
    assert out["p"].shape == (3,) and math.isnan(out["p"][2])
    assert out["p"][1] == pytest.approx(delong_difference(a[:, 1], b[:, :, 1], labels[:, 1])["p"], abs=1e-15)
