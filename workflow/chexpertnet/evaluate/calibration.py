"""Calibration of P(positive): whether a probability of 0.7 means 70%. Pure functions of labels and probabilities
(one observation's patients).

- Brier score: the mean squared difference between the probability and the 0/1 label.
- Expected calibration error over equal-mass bins: the patients sorted by probability and cut into ``bins`` groups of
  equal size (sizes differ by at most one), ECE = sum over bins of (bin size / n) x |mean label - mean probability|.
  Equal mass, not equal width: with few positives and probabilities crowded near 0, equal-width bins leave most bins
  empty or nearly so.
- Temperature scaling: one temperature T per observation, fitted on the validation patients by maximum likelihood
  (binary cross-entropy of sigmoid(logit(p) / T)); applied unchanged to the test set. A monotone map: it changes no
  ranking, so no AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-12
#: The temperatures searched (log-uniform bounds): a model can be over- or underconfident by a factor of 100 at most
T_BOUNDS = (1e-2, 1e2)


def _checked(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and probabilities must be 1-D of one length, got {y.shape} and {p.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    if ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return y, p


def brier(y, p) -> float:
    y, p = _checked(y, p)
    return float(np.mean((p - y) ** 2))


@dataclass(frozen=True)
class Bin:
    n: int
    mean_probability: float
    observed: float  # the share of positives


def reliability(y, p, bins: int) -> list[Bin]:
    """Equal-mass bins of the patients sorted by probability (ties kept in their given order): each bin's size, mean
    probability and share of positives. Fewer patients than bins: one bin per patient."""
    y, p = _checked(y, p)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    order = np.argsort(p, kind="stable")
    parts = [part for part in np.array_split(order, min(bins, len(p))) if len(part)]
    return [Bin(len(part), float(p[part].mean()), float(y[part].mean())) for part in parts]


def ece(y, p, bins: int) -> float:
    """Expected calibration error over ``bins`` equal-mass bins (see the module's docstring)."""
    table = reliability(y, p, bins)
    n = sum(b.n for b in table)
    return float(sum(b.n / n * abs(b.observed - b.mean_probability) for b in table))


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def apply_temperature(p, temperature: float) -> np.ndarray:
    """sigmoid(logit(p) / T): T > 1 softens overconfident probabilities, T < 1 sharpens."""
    return 1.0 / (1.0 + np.exp(-logit(p) / temperature))


def _nll(y: np.ndarray, z: np.ndarray, temperature: float) -> float:
    s = z / temperature
    return float(np.mean(np.logaddexp(0.0, s) - y * s))  # binary cross-entropy of sigmoid(s), stable


def fit_temperature(y, p) -> float:
    """The temperature that minimises the binary cross-entropy on (y, p): a bounded search over log T."""
    from scipy.optimize import minimize_scalar

    y, p = _checked(y, p)
    if y.min() == y.max():
        raise ValueError("a temperature needs positive and negative patients")
    z = logit(p)
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    found = minimize_scalar(lambda log_t: _nll(y, z, float(np.exp(log_t))), bounds=(lo, hi), method="bounded",
                            options={"xatol": 1e-6})  # fmt: skip
    return float(np.exp(found.x))
