"""Average precision under resample counts equals scikit-learn's ``average_precision_score`` on the resampled units
(repeated as many times as they are drawn), ties included; the prevalence is the share of positives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from chexpertnet.evaluate.precision_recall import average_precision, prevalence


@pytest.mark.parametrize("tied", [False, True])
def test_average_precision_equals_scikit_learns_on_each_resample(tied):
    rng = np.random.default_rng(0)
    n = 150
    y = (rng.uniform(0, 1, n) < 0.2).astype(int)
    s = rng.normal(0, 1, n) + 1.2 * y
    if tied:
        s = np.round(s * 2) / 2
    counts = np.vstack([np.ones(n, dtype=int), rng.multinomial(n, np.full(n, 1 / n), size=20)])
    got = average_precision(s, y, counts)
    for b, c in enumerate(counts):
        expected = average_precision_score(np.repeat(y, c), np.repeat(s, c))
        assert got[b] == pytest.approx(expected, abs=1e-12), b
    assert prevalence(y, counts)[0] == pytest.approx(y.mean())


def test_a_resample_without_a_positive_has_no_average_precision():
    y = np.array([1, 0, 0])
    assert math.isnan(average_precision(np.array([0.9, 0.1, 0.2]), y, np.array([[0, 2, 1]]))[0])
