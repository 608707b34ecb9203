"""Calibration's pure functions against independent computations: Brier against scikit-learn, the ECE against a
hand computation, the reliability bins' sizes, and temperature scaling (the likelihood's minimum found by a grid;
a monotone map that keeps every AUC)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from chexpertnet.evaluate import calibration as K


def test_brier_equals_scikit_learns():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = rng.uniform(0, 1, 500)
    assert K.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_ece_by_hand_on_a_small_case():
    """Six patients in 3 equal-mass bins of 2 (sorted by probability):
    bin 1: p 0.1, 0.2 (mean 0.15), labels 0, 0 (0.0): |0.0 - 0.15| = 0.15
    bin 2: p 0.4, 0.5 (mean 0.45), labels 1, 0 (0.5): |0.5 - 0.45| = 0.05
    bin 3: p 0.8, 0.9 (mean 0.85), labels 1, 1 (1.0): |1.0 - 0.85| = 0.15
    ECE = (2/6)(0.15 + 0.05 + 0.15) = 0.11666..."""
    p = [0.9, 0.1, 0.5, 0.4, 0.2, 0.8]
    y = [1, 0, 0, 1, 0, 1]
    assert K.ece(y, p, 3) == pytest.approx(0.35 / 3, abs=1e-12)
    table = K.reliability(y, p, 3)
    assert [(b.n, round(b.mean_probability, 12), b.observed) for b in table] == [(2, 0.15, 0.0), (2, 0.45, 0.5),
                                                                                (2, 0.85, 1.0)]  # fmt: skip


def test_equal_mass_bins_differ_in_size_by_at_most_one_and_cover_every_patient():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 103), rng.uniform(0, 1, 103)
    sizes = [b.n for b in K.reliability(y, p, 10)]
    assert sum(sizes) == 103 and max(sizes) - min(sizes) <= 1 and len(sizes) == 10
    assert len(K.reliability(y[:4], p[:4], 10)) == 4  # fewer patients than bins: one each


def test_a_perfectly_calibrated_model_has_a_small_ece_and_a_miscalibrated_one_a_large_one():
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)  # P(y=1 | p) = p
    assert K.ece(y, p, 10) < 0.02
    assert K.ece(y, p**3, 10) > 0.15  # pushed towards 0: underestimates


def test_the_fitted_temperature_is_the_likelihoods_minimum_and_keeps_every_auc():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1.5, 2000)
    y = (rng.uniform(0, 1, z.size) < 1 / (1 + np.exp(-z))).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * z))  # logits three times too large: T should be about 3
    t = K.fit_temperature(y, overconfident)
    grid = np.exp(np.linspace(np.log(0.5), np.log(10), 4001))
    nll = [np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q))) for q in
           (np.clip(K.apply_temperature(overconfident, g), 1e-15, 1 - 1e-15) for g in grid)]  # fmt: skip
    assert t == pytest.approx(grid[int(np.argmin(nll))], rel=2e-3)
    assert 2.5 < t < 3.5
    recalibrated = K.apply_temperature(overconfident, t)
    assert roc_auc_score(y, recalibrated) == pytest.approx(roc_auc_score(y, overconfident), abs=1e-12)
    assert K.ece(y, recalibrated, 10) < K.ece(y, overconfident, 10)
    assert K.brier(y, recalibrated) < K.brier(y, overconfident)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [([0, 1], [0.2], "one length"), ([0, 2], [0.1, 0.2], "0 or 1"), ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
     ([0, 1], [0.1, np.nan], r"\[0, 1\]")],
)  # fmt: skip
def test_bad_input_is_refused(y, p, message):
    with pytest.raises(ValueError, match=message):
        K.brier(y, p)


def test_a_temperature_needs_both_classes():
    with pytest.raises(ValueError, match="positive and negative"):
        K.fit_temperature([1, 1, 1], [0.2, 0.5, 0.9])
