"""Training seeds in the intervals: with several seeds the CI and p of an experiment and of every difference cover the
variation between seeds as well as patient sampling; with one seed (or seeds that agree) nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate import tables as T
from chexpertnet.evaluate.claims import mean_difference
from chexpertnet.evaluate.metrics import bootstrap_auc, bootstrap_counts, paired_bootstrap, percentile_ci, seed_noise
from chexpertnet.evaluate.scoring import MEAN_ESTIMABLE, PatientScores, compare, experiment_table
from chexpertnet.observations import OBSERVATIONS

N, J = 400, len(OBSERVATIONS)
Z95 = 1.959963984540054


def _labels() -> np.ndarray:
    return (np.random.default_rng(0).random((N, J)) < 0.3).astype(float)


def _model(y: np.ndarray, noise: float, seed: int) -> np.ndarray:
    return y + np.random.default_rng(seed).normal(0, noise, y.shape)


def _runs(y: np.ndarray, noises, first_seed: int) -> PatientScores:
    return PatientScores(np.arange(N), np.stack([_model(y, n, first_seed + k) for k, n in enumerate(noises)]), y)


def test_seed_noise_has_the_variance_of_a_mean_of_seeds():
    per_seed = np.array([[0.70, 0.9], [0.76, 0.9], [0.79, 0.9]])  # the second column: seeds that agree
    normals = np.random.default_rng(1).standard_normal((200_000, 3))
    draws = seed_noise(per_seed, normals)
    assert draws[:, 0].var() == pytest.approx(np.var(per_seed[:, 0], ddof=1) / 3, rel=0.02)
    assert draws[:, 0].mean() == pytest.approx(0, abs=1e-3)
    assert (draws[:, 1] == 0).all()
    assert (seed_noise(per_seed[:1], normals) == 0).all()  # one seed: patient sampling only


def test_three_seeds_that_differ_widen_the_interval_of_delta_by_their_variance():
    y = _labels()
    a = _runs(y, (0.8, 0.8, 0.8), 10)
    b = _runs(y, (0.6, 0.9, 1.3), 20)  # three trainings of very different quality
    counts = bootstrap_counts(N, 2000, 0)
    means = lambda values, defined: values[..., defined].mean(axis=-1, keepdims=True)  # noqa: E731
    both = paired_bootstrap(a.scores, b.scores, y, counts, means=means, seed_seed=0)
    patients = paired_bootstrap(a.scores, b.scores, y, counts, means=means, seed_seed=None)  # the seeds' mean alone
    assert both["delta"] == pytest.approx(patients["delta"], abs=1e-15)  # the same estimate, a wider interval
    width = both["high"] - both["low"]
    width_patients = patients["high"] - patients["low"]
    assert (width > width_patients).all()
    # the added variance is the seeds' (from sklearn's AUCs): s²_a / 3 + s²_b / 3, on the mean row
    auc = {k: np.array([[roc_auc_score(y[:, j], s[:, j]) for j in range(J)] for s in r.scores]) for k, r in
           (("a", a), ("b", b))}  # fmt: skip
    seeds_var = sum(np.var(v.mean(axis=1), ddof=1) / 3 for v in auc.values())
    added = (width[-1] / (2 * Z95)) ** 2 - (width_patients[-1] / (2 * Z95)) ** 2
    assert added == pytest.approx(seeds_var, rel=0.2)
    assert both["p"][-1] >= patients["p"][-1]


def test_compare_and_the_claims_carry_the_seeds_and_the_notes_say_so():
    y = _labels()
    a = _runs(y, (0.8, 0.8, 0.8), 10)
    b = _runs(y, (0.6, 0.9, 1.3), 20)
    c = compare(a, b, resamples=1000).set_index("observation")
    counts = bootstrap_counts(N, 1000, 0)
    patients_only = [np.mean([bootstrap_auc(s, y, counts) for s in r.scores], axis=0).mean(axis=1) for r in (a, b)]
    low, high = percentile_ci((patients_only[1] - patients_only[0])[:, None])
    assert c.loc[MEAN_ESTIMABLE, "ci_high"] - c.loc[MEAN_ESTIMABLE, "ci_low"] > (high - low)[0]
    d = mean_difference(a, b, resamples=1000, seed=0)
    assert d["high"] - d["low"] > (high - low)[0]
    table = experiment_table(b, resamples=1000).set_index("observation")
    alone = np.mean([bootstrap_auc(s, y, counts) for s in b.scores], axis=0).mean(axis=1)
    lo, hi = percentile_ci(alone[:, None])
    assert table.loc[MEAN_ESTIMABLE, "ci_high"] - table.loc[MEAN_ESTIMABLE, "ci_low"] > (hi - lo)[0]
    assert "variation between training seeds" in T.experiment_notes(table.reset_index(), 1000, "mean")
    one = experiment_table(PatientScores(b.patients, b.scores[:1], y), resamples=1000)
    assert "patient sampling only" in T.experiment_notes(one, 1000, "mean")
    assert "patient sampling only" in T.covers(1) and "seeds" in T.delong_notes(3)


def test_identical_seeds_give_the_one_seed_interval():
    y = _labels()
    one = PatientScores(np.arange(N), _model(y, 0.8, 3)[None], y)
    three = PatientScores(np.arange(N), np.repeat(one.scores, 3, axis=0), y)
    other = PatientScores(np.arange(N), _model(y, 1.0, 4)[None], y)
    pd_one = compare(one, other, resamples=500)
    pd_three = compare(three, other, resamples=500)
    np.testing.assert_allclose(pd_three["ci_low"], pd_one["ci_low"], atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(pd_three["p"], pd_one["p"], atol=1e-12, equal_nan=True)
