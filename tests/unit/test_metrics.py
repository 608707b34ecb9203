"""Patient-level AUC, the vectorised bootstrap and the paired test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate.auc import auc, per_observation_auc
from chexpertnet.evaluate.metrics import (
    aggregate_by_patient,
    bootstrap_auc,
    bootstrap_counts,
    paired_bootstrap,
    percentile_ci,
    weighted_auc,
)


@pytest.mark.parametrize("how", ["mean", "max"])
def test_patient_auc_equals_sklearn_on_aggregated_scores(how):
    rng = np.random.default_rng(0)
    patients = rng.integers(0, 60, 150)
    scores = rng.random((150, 3))
    labels = (rng.random((150, 3)) < 0.3).astype(float)
    ids, agg_scores, agg_labels = aggregate_by_patient(patients, scores, labels, how)
    for k, pid in enumerate(ids):
        rows = patients == pid
        expected = scores[rows].mean(axis=0) if how == "mean" else scores[rows].max(axis=0)
        np.testing.assert_allclose(agg_scores[k], expected, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(agg_labels[k], labels[rows].max(axis=0))
    for j in range(3):
        assert abs(auc(agg_labels[:, j], agg_scores[:, j]) - roc_auc_score(agg_labels[:, j], agg_scores[:, j])) < 1e-12


def test_undefined_auc_is_nan():
    assert math.isnan(auc(np.zeros(5), np.arange(5)))
    values = per_observation_auc(np.array([[0, 1], [1, 1], [0, 1]]), np.array([[0.1, 0.2], [0.9, 0.3], [0.2, 0.4]]))
    assert values[0] == 1.0 and math.isnan(values[1])


def test_weighted_auc_equals_sklearn_on_the_expanded_resample():
    rng = np.random.default_rng(1)
    scores = np.round(rng.random(40), 1)  # many ties
    labels = (rng.random(40) < 0.4).astype(int)
    counts = bootstrap_counts(40, 50, seed=2)
    got = weighted_auc(scores, labels, counts)
    for b in range(50):
        idx = np.repeat(np.arange(40), counts[b])
        y = labels[idx]
        expected = roc_auc_score(y, scores[idx]) if 0 < y.sum() < len(y) else math.nan
        assert (math.isnan(expected) and math.isnan(got[b])) or abs(got[b] - expected) < 1e-12


def test_bootstrap_ci_covers_the_truth_at_about_the_nominal_rate():
    # Simulated case with a known population AUC: scores ~ N(d, 1) for positives and N(0, 1) for negatives.
    from statistics import NormalDist

    d = 1.0
    truth = NormalDist().cdf(d / math.sqrt(2))
    rng = np.random.default_rng(3)
    hits, trials = 0, 200
    for t in range(trials):
        labels = (rng.random(200) < 0.3).astype(int)
        scores = rng.normal(d * labels, 1.0)
        samples = bootstrap_auc(scores[:, None], labels[:, None], bootstrap_counts(200, 500, seed=t))
        low, high = percentile_ci(samples)
        hits += low[0] <= truth <= high[0]
    assert 0.90 <= hits / trials <= 0.99, hits / trials


def test_paired_test_on_identical_predictions_gives_delta_0_and_p_1():
    rng = np.random.default_rng(4)
    labels = (rng.random((200, 14)) < 0.25).astype(float)
    labels[:, 12] = 0  # an undefined observation
    scores = rng.random((200, 14))
    result = paired_bootstrap(scores, scores.copy(), labels, bootstrap_counts(200, 300, seed=0))
    defined = np.r_[np.arange(12), 13, 14]
    np.testing.assert_array_equal(result["delta"][defined], 0.0)
    np.testing.assert_array_equal(result["p"][defined], 1.0)
    assert math.isnan(result["delta"][12]) and math.isnan(result["p"][12])


def test_paired_test_detects_a_real_difference():
    rng = np.random.default_rng(5)
    labels = (rng.random((200, 1)) < 0.4).astype(float)
    weak, strong = rng.normal(0.3 * labels, 1.0), rng.normal(1.5 * labels, 1.0)
    result = paired_bootstrap(weak, strong, labels, bootstrap_counts(200, 1000, seed=1))
    assert result["delta"][0] > 0.2 and result["low"][0] > 0 and result["p"][0] < 0.01


def test_score_cli_matches_sklearn_at_patient_level(tmp_path):
    import pandas as pd

    from chexpertnet.cli import main
    from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS

    rng = np.random.default_rng(7)
    paths = [f"CheXpert-v1.0-small/valid/patient{p:05d}/study1/view{v}_{'frontal' if v == 1 else 'lateral'}.jpg"
             for p in range(1, 61) for v in (1, 2)]  # fmt: skip
    labels = pd.DataFrame(rng.random((len(paths), 14)) < 0.3, columns=list(OBSERVATIONS)).astype(float)
    labels.iloc[:, 12] = 0.0  # Fracture: no positive, undefined
    label_csv = pd.DataFrame({"Path": paths, "Sex": "Male", "Age": 50, "Frontal/Lateral": "Frontal", "AP/PA": ""})
    label_csv = pd.concat([label_csv, labels], axis=1)[list(CSV_COLUMNS)]
    label_csv.to_csv(tmp_path / "valid.csv", index=False)
    predictions = pd.DataFrame({"Path": paths})
    predictions[list(OBSERVATIONS)] = rng.random((len(paths), 14))
    predictions.to_csv(tmp_path / "pred.csv", index=False)
    out = tmp_path / "scores.csv"
    assert main(["score", "--predictions", str(tmp_path / "pred.csv"), "--labels", str(tmp_path / "valid.csv"),
                 "--aggregate", "max", "--resamples", "200", "--out", str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out).set_index("observation")
    for o in OBSERVATIONS:
        s = predictions[o].to_numpy().reshape(60, 2).max(axis=1)
        y = labels[o].to_numpy().reshape(60, 2).max(axis=1)
        if o == "Fracture":
            assert math.isnan(table.loc[o, "auc"]) and table.loc[o, "positives"] == 0
        else:
            assert abs(table.loc[o, "auc"] - roc_auc_score(y, s)) < 1e-6  # written with 6 decimals
            assert table.loc[o, "ci_low"] <= table.loc[o, "auc"] <= table.loc[o, "ci_high"]
    defined = [o for o in OBSERVATIONS if o != "Fracture"]
    assert abs(table.loc["mean (defined observations)", "auc"] - table.loc[defined, "auc"].mean()) < 1e-6


def test_auc_equals_sklearn_with_ties_and_degenerate_labels():
    rng = np.random.default_rng(5)
    for trial in range(30):
        n = int(rng.integers(2, 60))
        labels = rng.integers(0, 2, n)
        scores = np.round(rng.random(n), int(rng.integers(0, 3)))  # 0-2 decimals: many ties
        if labels.min() == labels.max():
            assert math.isnan(auc(labels, scores))
        else:
            assert abs(auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-12, trial
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([0, 0, 1]), np.array([0.1, 0.2, 0.9])) == 1.0


def test_a_bootstrap_p_value_is_never_zero():
    """(k + 1) / (B + 1): with every one of 999 resamples on one side, p = 2 / 1000; with half on each side, 1."""
    from chexpertnet.evaluate.metrics import bootstrap_p

    one_sided = np.full((999, 1), 0.3)
    assert bootstrap_p(one_sided)[0] == 2 / 1000
    mixed = np.r_[np.full(500, -1.0), np.full(499, 1.0)][:, None]
    assert bootstrap_p(mixed)[0] == 1.0
    some = np.r_[np.full(10, -1.0), np.full(989, 1.0), np.full(5, np.nan)][:, None]  # NaN resamples left out
    assert bootstrap_p(some)[0] == pytest.approx(2 * 11 / 1000)
    assert np.isnan(bootstrap_p(np.full((5, 1), np.nan))[0])


def test_newcombes_interval_solves_its_quadratic():
    """The limits are the roots of (AUC − θ)² = z² V(θ) with Hanley and McNeil's V at θ (scipy's brentq on each
    side of the estimate), to the grid's 1e-5; an interval of the sum of independent parts by MOVER."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    from chexpertnet.evaluate.metrics import mover, newcombe_auc_ci

    z = norm.ppf(0.975)
    for a, m, n in ((0.8, 10, 190), (0.95, 10, 190), (0.62, 40, 160), (1.0, 12, 30)):
        def f(t, a=a, m=m, n=n):
            n_star = (m + n) / 2
            v = t * (1 - t) / (m * n) * (1 + (n_star - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
            return (a - t) ** 2 - z**2 * v

        low, high = newcombe_auc_ci(np.array([a]), np.array([m]), np.array([n]))
        assert low[0] == pytest.approx(brentq(f, 1e-12, a - 1e-12), abs=2e-5)
        assert high[0] == pytest.approx(1.0 if a == 1.0 else brentq(f, a + 1e-12, 1 - 1e-12), abs=2e-5)
        assert low[0] < a <= high[0]
    assert np.isnan(newcombe_auc_ci(np.array([np.nan]), np.array([0]), np.array([5]))[0][0])
    low, high = mover(np.array([0.8]), np.array([0.7]), np.array([0.85]), np.array([0.04]), np.array([0.03]))
    assert low[0] == pytest.approx(0.8 - math.hypot(0.1, 0.04))
    assert high[0] == pytest.approx(0.8 + math.hypot(0.05, 0.03))


def test_an_experiment_tables_observation_interval_is_newcombes_with_one_seed():
    from chexpertnet.evaluate.metrics import newcombe_auc_ci
    from chexpertnet.evaluate.scoring import PatientScores, experiment_table
    from chexpertnet.observations import OBSERVATIONS

    rng = np.random.default_rng(3)
    y = (rng.random((150, 14)) < 0.25).astype(float)
    table = experiment_table(PatientScores(np.arange(150), (y + rng.normal(0, 0.8, y.shape))[None], y), resamples=200)
    j = OBSERVATIONS.index("Edema")
    row = table.iloc[j]
    low, high = newcombe_auc_ci(np.array([row["auc"]]), np.array([row["positives"]]), np.array([row["negatives"]]))
    assert (row["ci_low"], row["ci_high"]) == (low[0], high[0])
