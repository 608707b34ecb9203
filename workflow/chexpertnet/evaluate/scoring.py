"""Patient-level score tables: one model, several seeds of one experiment, and paired comparisons between experiments.

Pure functions over arrays and data frames (no file I/O). Undefined AUCs are NaN and are excluded from every mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chexpertnet.evaluate.delong import delong_per_observation
from chexpertnet.evaluate.metrics import (
    aggregate_by_patient,
    bootstrap_auc,
    bootstrap_counts,
    holm,
    mover,
    newcombe_auc_ci,
    paired_bootstrap,
    per_observation_auc,
    percentile_ci,
    seed_draws,
    seed_noise,
)
from chexpertnet.observations import ABBREVIATIONS, COMPETITION_TASKS, OBSERVATIONS

MIN_POSITIVES = 10  # positive (and negative) patients for an observation's CI, p and place in the CI'd means
MEAN_ESTIMABLE = "mean (observations with enough patients)"
MEAN_COMPETITION = "mean (5 competition tasks)"
MEAN_DEFINED = "mean (defined observations)"
MEAN_ROWS = (MEAN_ESTIMABLE, MEAN_COMPETITION, MEAN_DEFINED)
MEAN_ABBREVIATIONS = ("mean", "mean5", "mean_all")
_COMPETITION = np.array([o in COMPETITION_TASKS for o in OBSERVATIONS])


@dataclass(frozen=True)
class PatientScores:
    """The runs (seeds) of one experiment at patient level, on the same patients.

    ``scores`` is (seeds, patients, 14) P(positive) aggregated per patient; ``labels`` (patients, 14) is 0/1;
    ``seeds`` the training seeds in the order of ``scores`` (empty where unknown): two experiments with the same
    seeds are paired seed by seed (seed k of each shares its random streams).
    """

    patients: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    seeds: tuple[int, ...] = ()

    @classmethod
    def from_images(cls, patients, image_scores: list[np.ndarray], image_labels: np.ndarray, aggregate: str = "mean",
                    seeds: tuple[int, ...] = ()):  # fmt: skip
        """One entry of ``image_scores`` per seed, each (images, 14) over the same images as ``image_labels``."""
        per_seed = [aggregate_by_patient(np.asarray(patients), s, image_labels, aggregate) for s in image_scores]
        ids, _, labels = per_seed[0]
        return cls(ids, np.stack([s for _, s, _ in per_seed]), labels, tuple(seeds))

    def paired_with(self, other: PatientScores) -> bool:
        """Whether the two experiments ran the same training seeds (at least two): their seeds pair up."""
        return len(self.seeds) > 1 and self.seeds == other.seeds

    def subset(self, patients: np.ndarray) -> PatientScores:
        """The rows of the given patients (each must be present), in the order given."""
        index = np.searchsorted(self.patients, patients)
        if len(patients) and (index.max() >= len(self.patients) or (self.patients[index] != patients).any()):
            raise ValueError("subset: some patients are not scored in this experiment")
        return PatientScores(np.asarray(patients), self.scores[:, index], self.labels[index], self.seeds)


def join_labels(predictions: pd.DataFrame, labels: pd.DataFrame, predictions_name: str = "predictions",
                labels_name: str = "labels") -> tuple[list[str], np.ndarray, np.ndarray]:  # fmt: skip
    """Match a predict step's rows (Path + 14 probabilities) to 0/1 labels by Path: (paths, scores, labels).

    Every predicted image must have a label; the error names both files and some of the images at fault.
    """
    merged = predictions[["Path", *OBSERVATIONS]].merge(labels[["Path", *OBSERVATIONS]], on="Path", how="left",
                                                        suffixes=("", " label"), indicator=True)  # fmt: skip
    missing = merged.loc[merged["_merge"] != "both", "Path"].tolist()
    if missing:
        raise ValueError(
            f"{predictions_name}: {len(missing)} image(s) have no label in {labels_name}, e.g. {missing[:3]}: "
            f"score predictions against the labels of the same dataset"
        )
    label_values = merged[[f"{o} label" for o in OBSERVATIONS]].apply(pd.to_numeric, errors="raise").to_numpy()
    return merged["Path"].tolist(), merged[list(OBSERVATIONS)].to_numpy(dtype=float), label_values


def estimable(labels: np.ndarray, min_positives: int = MIN_POSITIVES) -> np.ndarray:
    """(J,) bool: observations with at least ``min_positives`` positive and as many negative patients. Only these
    get a CI, a p-value, a place in the Holm family and in the CI'd means; the others get their AUC as a point
    estimate (one patient cannot make a difference significant)."""
    positives = np.asarray(labels).sum(axis=0)
    return (positives >= min_positives) & (len(labels) - positives >= min_positives)


def mean_sets(defined: np.ndarray, enough: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observations each mean row averages, in MEAN_ROWS order: the estimable ones, the estimable competition
    tasks, every defined one (the paper's mean, a point estimate only)."""
    fixed = defined & enough
    return fixed, fixed & _COMPETITION, defined


def _means_over(values: np.ndarray, sets: tuple[np.ndarray, ...]) -> np.ndarray:
    """(..., 14) -> (..., 3): the mean over each set. A fixed set: the same observations in every resample (a
    resample where one of them is undefined has no mean, NaN, and drops out of the interval)."""
    out = []
    for mask in sets:
        out.append(values[..., mask].mean(axis=-1) if mask.any() else np.full(values.shape[:-1], np.nan))
    return np.stack(out, axis=-1)


def experiment_table(runs: PatientScores, resamples: int = 2000, seed: int = 0, level: float = 0.95,
                     min_positives: int = MIN_POSITIVES) -> pd.DataFrame:  # fmt: skip
    """One row per observation and the three mean rows (MEAN_ROWS; ``positives`` holds how many observations each
    averages).

    ``auc`` is the mean over seeds, ``sd`` its standard deviation over seeds (NaN with one seed). An observation's
    CI is Newcombe's score interval over patients (:func:`~chexpertnet.evaluate.metrics.newcombe_auc_ci`, which
    covers with as few as 10 positive patients where the percentile bootstrap does not) with, for several seeds, the
    seeds' t part (:func:`~chexpertnet.evaluate.metrics.seed_noise`) added by MOVER; a mean's CI is the patient
    bootstrap of the seed-averaged mean (the same resampled patients for every seed) plus the seeds' part. No CI for an
    observation with fewer than ``min_positives`` positive or negative patients (``unstable``) nor for the mean
    over every defined observation (the paper's mean, a point estimate beside the CI'd mean over a fixed set).
    """
    labels = runs.labels
    per_seed = np.array([per_observation_auc(labels, s) for s in runs.scores])  # (S, 14)
    defined = ~np.isnan(per_seed[0])
    enough = estimable(labels, min_positives)
    sets = mean_sets(defined, enough)
    per_seed_all = np.concatenate([per_seed, _means_over(per_seed, sets)], axis=1)  # (S, 17)
    counts = bootstrap_counts(len(labels), resamples, seed)
    samples = np.mean([bootstrap_auc(s, labels, counts) for s in runs.scores], axis=0)  # (B, 14)
    samples = np.concatenate([samples, _means_over(samples, sets)], axis=1)
    seeds_part = seed_noise(per_seed_all, seed_draws(resamples, len(per_seed), seed))  # 0 with one seed
    low, high = percentile_ci(samples + seeds_part, level)  # the means: the percentile bootstrap
    point = per_seed_all.mean(axis=0)
    positives = labels.sum(axis=0).astype(int)
    # each observation: Newcombe's interval over patients, with the seeds' t part added by MOVER
    patients_low, patients_high = newcombe_auc_ci(point[:14], positives, len(labels) - positives, level)
    seeds_low, seeds_high = percentile_ci(seeds_part[:, :14], level)
    low[:14], high[:14] = mover(point[:14], patients_low, patients_high, -seeds_low, seeds_high)
    sd = per_seed_all.std(axis=0, ddof=1) if len(per_seed) > 1 else np.full(point.shape, np.nan)
    no_ci = np.r_[~enough, False, False, True] | np.isnan(point)
    low[no_ci], high[no_ci] = np.nan, np.nan
    table = pd.DataFrame({
        "observation": [*OBSERVATIONS, *MEAN_ROWS],
        "abbreviation": [*ABBREVIATIONS, *MEAN_ABBREVIATIONS],
        "auc": point,
        "sd": sd,
        "ci_low": low,
        "ci_high": high,
        "positives": [*positives, *(int(s.sum()) for s in sets)],
        "negatives": [*(len(labels) - positives).astype(int), 0, 0, 0],
        "unstable": [*~enough, False, False, False],
        "seeds": len(per_seed),
    })  # fmt: skip
    table.loc[np.isnan(point), "sd"] = np.nan
    return table


def score_table(
    patients, image_scores: np.ndarray, image_labels: np.ndarray, aggregate: str = "mean", resamples: int = 2000,
    seed: int = 0, level: float = 0.95, min_positives: int = MIN_POSITIVES,
) -> pd.DataFrame:  # fmt: skip
    """The score table of one model (one seed): AUC, CI, positives, negatives and the unstable flag."""
    runs = PatientScores.from_images(patients, [image_scores], image_labels, aggregate)
    return experiment_table(runs, resamples, seed, level, min_positives).drop(columns=["sd", "seeds"])


def compare(
    baseline: PatientScores, other: PatientScores, resamples: int = 2000, seed: int = 0, level: float = 0.95,
    min_positives: int = MIN_POSITIVES,
) -> pd.DataFrame:
    """Paired bootstrap of ``other`` against ``baseline`` on the patients both scored (the same resampled patients
    for both; seed-averaged AUCs where there are several seeds, and the variation between seeds drawn into every
    resample, so that the CI and p cover patients and seeds): per observation and for the means, the AUCs,
    ΔAUC, its CI, the two-sided p-value, and the Holm-adjusted p-value over the estimable observations (NaN for the
    means, which are not part of the family); beside them, per observation, DeLong's test of the same Δ
    (``delong_low``, ``delong_high``, ``p_delong``; NaN for the means). An observation with fewer than
    ``min_positives`` positive or negative patients among the common patients gets Δ as a point estimate only (no
    CI, no p, outside the Holm family and the CI'd means); so does the mean over every defined observation."""
    common = np.intersect1d(baseline.patients, other.patients)
    if not len(common):
        raise ValueError("compare: the two experiments share no scored patient")
    a, b = baseline.subset(common), other.subset(common)
    if not np.array_equal(a.labels, b.labels):
        bad = [OBSERVATIONS[j] for j in np.flatnonzero((a.labels != b.labels).any(axis=0))]
        raise ValueError(f"compare: patient labels differ between the two experiments for {bad}")
    counts = bootstrap_counts(len(common), resamples, seed)
    enough = estimable(a.labels, min_positives)
    result = paired_bootstrap(a.scores, b.scores, a.labels, counts, level,
                              means=lambda values, defined: _means_over(values, mean_sets(defined, enough)),
                              seed_seed=seed, paired=a.paired_with(b))  # fmt: skip
    no_test = np.r_[~enough, False, False, True]
    for key in ("low", "high", "p"):
        result[key][no_test] = np.nan
    p_holm = np.r_[holm(result["p"][:14]), np.full(len(MEAN_ROWS), np.nan)]  # the means are not in the family
    delong = delong_per_observation(a.scores, b.scores, a.labels, level, paired=a.paired_with(b))
    for key in ("low", "high", "p"):
        delong[key][~enough] = np.nan
    none = np.full(len(MEAN_ROWS), np.nan)
    return pd.DataFrame({
        "observation": [*OBSERVATIONS, *MEAN_ROWS],
        "abbreviation": [*ABBREVIATIONS, *MEAN_ABBREVIATIONS],
        "patients": len(common),
        "auc_baseline": result["auc_a"],
        "auc": result["auc_b"],
        "delta": result["delta"],
        "ci_low": result["low"],
        "ci_high": result["high"],
        "p": result["p"],
        "p_holm": p_holm,
        "delong_low": np.r_[delong["low"], none],
        "delong_high": np.r_[delong["high"], none],
        "p_delong": np.r_[delong["p"], none],
    })  # fmt: skip
