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
    # at least a normal draw's s²/3 + s²/3: the seeds' part is a t with 2 degrees of freedom, heavier-tailed
    assert added > 0.9 * seeds_var
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


def test_the_seeds_part_is_a_t_with_s_minus_1_degrees_of_freedom():
    """s/sqrt(S) · t_{S−1}: the distribution of a mean of S trainings about its expectation when s² comes from the
    same S seeds (scipy's t quantiles)."""
    from scipy import stats

    from chexpertnet.evaluate.metrics import seed_draws

    per_seed = np.array([[0.70], [0.76], [0.79]])
    draws = seed_noise(per_seed, seed_draws(400_000, 3, seed=2))[:, 0]
    scale = np.std(per_seed[:, 0], ddof=1) / np.sqrt(3)
    for q in (0.9, 0.975):
        assert np.quantile(draws, q) == pytest.approx(scale * stats.t.ppf(q, 2), rel=0.03)
    assert (seed_draws(5, 1, seed=2) == np.random.default_rng([2, 1_000_003, 0]).standard_normal((5, 1))).all()


def test_the_seed_aware_interval_covers_where_the_seeds_vary_nine_times_the_patients():
    """Three seeds whose AUCs vary with nine times the variance of patient sampling: the experiment's 95% CI of the
    seed-averaged AUC covers the expected AUC over seeds in at least 93% of 200 simulated runs (a normal draw of the
    seeds' part covered about 90%). Binormal scores: a seed's separation is mu + delta, delta ~ N(0, tau²), so its
    AUC is Phi((mu + delta)/sqrt(2)) and the expectation over seeds Phi(mu / sqrt(2 + tau²))."""
    from scipy import stats

    from chexpertnet.evaluate.auc import auc

    mu, tau, n, trials = 1.2, 0.5, 200, 200
    rng = np.random.default_rng(5)
    truth = stats.norm.cdf(mu / np.sqrt(2 + tau**2))
    seed_var = np.var(stats.norm.cdf((mu + rng.normal(0, tau, 200_000)) / np.sqrt(2)))
    patient_var = np.var([auc(y, y * mu + rng.normal(0, 1, n)) for y in (rng.random((400, n)) < 0.3)])
    assert 7 < seed_var / patient_var < 12  # about nine times
    j = OBSERVATIONS.index("Edema")
    covered = 0
    for t in range(trials):
        y = (rng.random((n, J)) < 0.3).astype(float)
        deltas = rng.normal(0, tau, 3)
        scores = np.stack([y * (mu + d) + rng.normal(0, 1, (n, J)) for d in deltas])
        row = experiment_table(PatientScores(np.arange(n), scores, y), resamples=500, seed=t).iloc[j]
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert covered / trials >= 0.93, covered / trials


def test_experiments_with_the_same_seeds_are_paired_seed_by_seed():
    """Seed k of two experiments shares its random streams: where the seeds' quality moves both alike, the per-seed
    differences hardly vary, and the paired interval of Δ is the patients' alone; unpaired, it adds both sides' seed
    variation."""
    y = _labels()
    a = _runs(y, (0.6, 0.9, 1.3), 10)  # three trainings of very different quality
    b_scores = a.scores + 0.3 * y  # the same trainings, each better by a like amount
    paired = compare(PatientScores(a.patients, a.scores, y, (0, 1, 2)), PatientScores(a.patients, b_scores, y,
                     (0, 1, 2)), resamples=1000).set_index("observation")  # fmt: skip
    unpaired = compare(PatientScores(a.patients, a.scores, y, (0, 1, 2)), PatientScores(a.patients, b_scores, y,
                       (3, 4, 5)), resamples=1000).set_index("observation")  # fmt: skip
    patients = compare(a, PatientScores(a.patients, b_scores, y), resamples=1000, seed=0)  # no seed ids: unpaired
    width = {k: (t.loc[MEAN_ESTIMABLE, "ci_high"] - t.loc[MEAN_ESTIMABLE, "ci_low"]) for k, t in
             (("paired", paired), ("unpaired", unpaired))}  # fmt: skip
    assert paired.loc[MEAN_ESTIMABLE, "delta"] == unpaired.loc[MEAN_ESTIMABLE, "delta"] > 0
    assert width["paired"] < 0.5 * width["unpaired"]
    assert np.allclose(patients.set_index("observation").loc[MEAN_ESTIMABLE, "ci_low"], unpaired.loc[
        MEAN_ESTIMABLE, "ci_low"])  # fmt: skip
    d = mean_difference(PatientScores(a.patients, a.scores, y, (0, 1, 2)),
                        PatientScores(a.patients, b_scores, y, (0, 1, 2)), resamples=1000, seed=0)  # the claims too
    assert d["high"] - d["low"] == pytest.approx(width["paired"], rel=0.05)
