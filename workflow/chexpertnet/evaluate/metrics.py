"""Patient-level aggregation, the vectorised patient bootstrap and the paired test: pure functions over arrays.

The AUC itself is defined in :mod:`chexpertnet.evaluate.auc` (which training also uses for its logged validation AUC).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

from chexpertnet.evaluate.auc import per_observation_auc


# --- patient level -------------------------------------------------------------------------------------------------
def aggregate_by_patient(
    patients: np.ndarray, scores: np.ndarray, labels: np.ndarray, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image rows -> one row per patient: (patient ids sorted, scores (P, J), labels (P, J)).

    Scores are the mean (default) or the max (CheXpert's protocol) of the patient's images; a patient is positive
    for an observation when any of its images is labelled positive.
    """
    if how not in ("mean", "max"):
        raise ValueError(f"aggregate {how!r} is not 'mean' or 'max'")
    ids, inverse = np.unique(np.asarray(patients), return_inverse=True)
    j = scores.shape[1]
    out_labels = np.zeros((len(ids), j))
    np.maximum.at(out_labels, inverse, labels)
    if how == "max":
        out_scores = np.full((len(ids), j), -np.inf)
        np.maximum.at(out_scores, inverse, scores)
    else:
        out_scores = np.zeros((len(ids), j))
        np.add.at(out_scores, inverse, scores)
        out_scores /= np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, out_scores, out_labels


def weighted_auc(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of one observation for many resamples at once.

    ``counts`` (B, n) says how often each of the n patients appears in each of B resamples (a bootstrap resample is a
    vector of counts). Exact, ties counted one half, as roc_auc_score on the expanded data; NaN where a resample has
    no positive or no negative. O(B * n) after one sort.
    """
    order = np.argsort(scores, kind="mergesort")
    s, y, w = scores[order], labels[order].astype(bool), counts[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def bootstrap_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) multinomial counts: patients drawn with replacement, seeded."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


def bootstrap_auc(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, J) AUC per resample and observation for patient-level (n, J) scores and labels."""
    return np.stack([weighted_auc(scores[:, j], labels[:, j], counts) for j in range(scores.shape[1])], axis=1)


def seed_draws(resamples: int, seeds: int, seed: int, stream: int = 0) -> np.ndarray:
    """(resamples, seeds) draws for :func:`seed_noise`: standard normals, each resample's row divided by
    sqrt(χ²/(S − 1)) with χ² ~ chi-square(S − 1), so that :func:`seed_noise` draws a (multivariate) t with S − 1
    degrees of freedom: the distribution of a mean of S trainings about its expectation when s² is estimated from
    the same S seeds (a normal draw would treat s² as known, and with 3 seeds under-cover). Seeded apart from the
    patient resampling (so one seed's intervals are exactly the patient bootstrap's); ``stream`` keeps independent
    trainings apart."""
    rng = np.random.default_rng([seed, 1_000_003, stream])
    normals = rng.standard_normal((resamples, seeds))
    if seeds < 2:
        return normals
    return normals / np.sqrt(rng.chisquare(seeds - 1, resamples) / (seeds - 1))[:, None]


def seed_noise(per_seed: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The variation between training seeds, added to a patient bootstrap of their mean: (S, K) values per seed ->
    (B, K) draws with mean 0 and variance s²/S per column (s² the seeds' sample variance: the variance of a mean
    of S independent trainings), correlated between columns as the seeds' deviations are (so a mean of columns
    gets the seeds' variance of that mean). Zero with one seed, or when the seeds agree."""
    per_seed = np.asarray(per_seed, dtype=np.float64)
    s = len(per_seed)
    if s < 2:
        return np.zeros((len(normals), per_seed.shape[1]))
    deviations = np.nan_to_num(per_seed - per_seed.mean(axis=0))  # undefined columns stay NaN elsewhere
    return normals[:, :s] @ deviations / math.sqrt(s * (s - 1))


def seed_part(per_seed_a: np.ndarray, per_seed_b: np.ndarray, resamples: int, seed: int, paired: bool = False
              ) -> np.ndarray:  # fmt: skip
    """(B, K) draws of the seeds' variation of Δ = mean over b's seeds − mean over a's: from the per-seed differences
    when the seeds are ``paired`` (the same training seeds, S of each), else from each side independently."""
    a, b = np.asarray(per_seed_a), np.asarray(per_seed_b)
    if paired and len(a) == len(b) and len(a) > 1:
        return seed_noise(b - a, seed_draws(resamples, len(a), seed, 3))
    return seed_noise(b, seed_draws(resamples, len(b), seed, 2)) - seed_noise(a, seed_draws(resamples, len(a), seed, 1))


_AUC_GRID = np.linspace(0.0, 1.0, 100_001)


def newcombe_auc_ci(auc: np.ndarray, positives: np.ndarray, negatives: np.ndarray, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Newcombe's (2006) score-type interval of an AUC (his method 5), per entry: the θ in [0, 1] with
    (AUC − θ)² <= z² V(θ), V(θ) = θ(1 − θ)/(mn) [1 + (N* − 1)((1 − θ)/(2 − θ) + θ/(1 + θ))], Hanley and McNeil's
    variance at θ with N* = (m + n)/2, on a grid of step 1e-5. With 10 positive patients it covers at least 0.95
    for AUCs of 0.75-0.95, where the percentile bootstrap covers 0.81-0.91 (docs/benchmarks.md). NaN where the AUC
    is undefined."""
    auc, m, n = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (auc, positives, negatives))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    low, high = np.full(len(auc), np.nan), np.full(len(auc), np.nan)
    t = _AUC_GRID
    for k in np.flatnonzero(~np.isnan(auc) & (m > 0) & (n > 0)):
        n_star = (m[k] + n[k]) / 2
        variance = t * (1 - t) / (m[k] * n[k]) * (1 + (n_star - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
        inside = t[(auc[k] - t) ** 2 <= z**2 * variance]
        low[k], high[k] = (inside.min(), inside.max()) if len(inside) else (auc[k], auc[k])
    return low, high


def mover(point: np.ndarray, low_a: np.ndarray, high_a: np.ndarray, low_b: np.ndarray, high_b: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Zou and Donner's MOVER: the interval of a sum of two independent parts, each given as its distances below
    and above the point (``point − low``, ``high − point``), combined by root sum of squares on each side."""
    return (point - np.sqrt((point - low_a) ** 2 + low_b**2), point + np.sqrt((high_a - point) ** 2 + high_b**2))


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring NaN resamples (an all-NaN column gives NaN)."""
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, tail, axis=0), np.nanpercentile(samples, 100 - tail, axis=0)


def _mean_defined_columns(values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """(..., J) -> (..., 1): the mean over the defined observations."""
    if not defined.any():
        return np.full((*values.shape[:-1], 1), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values[..., defined], axis=-1)[..., None]


def paired_bootstrap(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, counts: np.ndarray, level: float = 0.95,
    means: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, seed_seed: int | None = 0,
    paired: bool = False,
) -> dict:  # fmt: skip
    """ΔAUC = AUC(b) - AUC(a) per observation and of summary means, on the same resampled patients for both.

    Scores are (n, J) for one model or (S, n, J) for S seeds, whose AUCs are averaged (per resample too). With
    several seeds, each resample also draws the variation between seeds (:func:`seed_noise`, seeded by
    ``seed_seed``; None: patient sampling only), so the interval and p cover patients and training seeds.
    ``paired``: the two experiments' seeds are the same training seeds (seed k of one shares its random streams with
    seed k of the other): the seeds' part is then drawn from the per-seed differences (s² of b_k − a_k, a t with
    S − 1 degrees of freedom); otherwise each experiment's part is drawn independently (two t's, whose sum
    approximates Welch-Satterthwaite's t).
    ``means(values (..., J), defined (J,)) -> (..., M)`` gives the summary columns (default: the mean over the
    observations defined for both). Returns the seed-averaged AUCs of a and b, the point estimates of Δ, the
    percentile CI and the two-sided bootstrap p-value (:func:`bootstrap_p`), each of length J + M.
    """
    means = means or _mean_defined_columns
    a, b = (np.asarray(s)[None] if np.ndim(s) == 2 else np.asarray(s) for s in (scores_a, scores_b))
    auc_a = np.array([per_observation_auc(labels, s) for s in a])
    auc_b = np.array([per_observation_auc(labels, s) for s in b])
    defined = ~np.isnan(auc_a[0]) & ~np.isnan(auc_b[0])
    boot_a = np.mean([bootstrap_auc(s, labels, counts) for s in a], axis=0)
    boot_b = np.mean([bootstrap_auc(s, labels, counts) for s in b], axis=0)
    samples = np.column_stack([boot_b - boot_a, means(boot_b, defined) - means(boot_a, defined)])
    seeds_a = np.column_stack([auc_a, means(auc_a, defined)])  # (S, J + M) per seed
    seeds_b = np.column_stack([auc_b, means(auc_b, defined)])
    if seed_seed is not None:
        samples += seed_part(seeds_a, seeds_b, len(counts), seed_seed, paired)
    point_a, point_b = seeds_a.mean(axis=0), seeds_b.mean(axis=0)
    point = point_b - point_a
    low, high = percentile_ci(samples, level)
    p = bootstrap_p(samples)
    p[np.isnan(point)] = np.nan
    low[np.isnan(point)], high[np.isnan(point)] = np.nan, np.nan
    return {"auc_a": point_a, "auc_b": point_b, "delta": point, "low": low, "high": high, "p": p}


def bootstrap_p(samples: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value per column of (B, K) resampled differences (NaN resamples left out): with k the
    smaller of the counts of resamples at or below 0 and at or above 0, p = min(1, 2 (k + 1) / (B + 1)), never 0
    (the observed data count as one resample: a p-value below 2 / (B + 1) cannot be resolved by B resamples)."""
    valid = ~np.isnan(samples)
    with np.errstate(all="ignore"):
        below = np.where(valid, samples <= 0, False).sum(axis=0)
        above = np.where(valid, samples >= 0, False).sum(axis=0)
        resamples = valid.sum(axis=0)
        p = np.minimum(1.0, 2 * (np.minimum(below, above) + 1) / (resamples + 1))
    return np.where(resamples > 0, p, np.nan)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries are not part of the family)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    index = np.flatnonzero(~np.isnan(p))
    if not len(index):
        return out
    order = index[np.argsort(p[index], kind="mergesort")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(1.0, adjusted)
    return out
