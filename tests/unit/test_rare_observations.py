"""Rare observations, with the real CheXpert validation set's counts of positive patients (200 patients; Lung Lesion
and Pleural Other 1, Fracture 0): a difference carried by one patient is never bold, starred, tested or counted in a
verdict, and every CI'd mean is over one fixed set of observations. Expected values come from scikit-learn on
explicitly expanded resamples, not from the bootstrap code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate import tables as T
from chexpertnet.evaluate.claims import evaluate_claims, mean_difference
from chexpertnet.evaluate.metrics import bootstrap_counts
from chexpertnet.evaluate.scoring import (
    MEAN_DEFINED,
    MEAN_ESTIMABLE,
    PatientScores,
    compare,
    estimable,
    experiment_table,
)
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS

REAL_VALID_POSITIVES = {"No Finding": 26, "Enlarged Cardiomediastinum": 105, "Cardiomegaly": 66, "Lung Opacity": 116,
                        "Lung Lesion": 1, "Edema": 42, "Consolidation": 32, "Pneumonia": 8, "Atelectasis": 75,
                        "Pneumothorax": 6, "Pleural Effusion": 64, "Pleural Other": 1, "Fracture": 0,
                        "Support Devices": 99}  # fmt: skip
ENOUGH = [o for o, n in REAL_VALID_POSITIVES.items() if n >= 10]  # 9 observations
LL = OBSERVATIONS.index("Lung Lesion")


def real_counts(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(200, 14) labels with the real counts and (200, 14) scores with a moderate signal."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((200, 14))
    for j, o in enumerate(OBSERVATIONS):
        labels[rng.choice(200, REAL_VALID_POSITIVES[o], replace=False), j] = 1
    return labels, rng.normal(labels * 1.0, 1.0)


def scores(labels, s, seeds: int = 1) -> PatientScores:
    return PatientScores(np.array([f"p{i:03d}" for i in range(200)]), np.repeat(s[None], seeds, axis=0), labels)


def ruined_lesion(labels, s) -> tuple[np.ndarray, np.ndarray]:
    """Two models alike but for the one Lung Lesion patient's score: at the top (AUC 1), then at the bottom (0)."""
    patient = np.flatnonzero(labels[:, LL])[0]
    before, after = s.copy(), s.copy()
    before[:, LL] = after[:, LL] = 0.0
    before[patient, LL], after[patient, LL] = 5.0, -5.0
    return before, after


def test_which_observations_are_estimable():
    labels, _ = real_counts()
    assert [OBSERVATIONS[j] for j in np.flatnonzero(estimable(labels))] == ENOUGH
    assert estimable(labels, min_positives=1)[LL] and not estimable(labels, min_positives=1)[12]
    tight = np.zeros((20, 14))
    tight[:15] = 1  # 15 positives, 5 negatives: too few negatives
    assert not estimable(tight).any()


def test_one_patients_difference_is_a_point_estimate_never_bold_starred_or_tested():
    labels, s = real_counts()
    before, after = ruined_lesion(labels, s)
    comparison = compare(scores(labels, before), scores(labels, after), resamples=400).set_index("abbreviation")
    ll = comparison.loc["LL"]
    assert ll["delta"] == pytest.approx(-1.0)  # carried by one patient
    for column in ("ci_low", "ci_high", "p", "p_holm", "p_delong", "delong_low", "delong_high"):
        assert math.isnan(ll[column]), column
    grid = T.delta_grid({"x": comparison.reset_index()}).iloc[0]
    assert grid["LL"] == f"-1.000{T.UNSTABLE_MARK}" and "*" not in grid["LL"]
    assert T.delong_grid({"x": comparison.reset_index()}).iloc[0]["LL"] == "n/a"
    # the CI'd means do not move: Lung Lesion is not among their observations
    assert comparison.loc["mean", "delta"] == 0 and comparison.loc["mean", "ci_low"] == 0
    # the paper's mean over every defined observation moves, as a point estimate only
    assert comparison.loc["mean_all", "delta"] == pytest.approx(-1.0 / 13)
    assert math.isnan(comparison.loc["mean_all", "ci_low"]) and math.isnan(comparison.loc["mean_all", "p"])
    # with min_positives 1 the same Δ is tested (and its resamples without the patient drop out)
    loose = compare(scores(labels, before), scores(labels, after), resamples=400, min_positives=1)
    assert not math.isnan(loose.set_index("abbreviation").loc["LL", "p"])


def test_the_mean_and_its_interval_are_over_one_fixed_set_of_observations():
    labels, s = real_counts(1)
    resamples = 60
    table = experiment_table(scores(labels, s), resamples=resamples, seed=3).set_index("observation")
    fixed = [OBSERVATIONS.index(o) for o in ENOUGH]
    assert table.loc[MEAN_ESTIMABLE, "positives"] == 9 and table.loc[MEAN_DEFINED, "positives"] == 13
    point = np.mean([roc_auc_score(labels[:, j], s[:, j]) for j in fixed])
    assert table.loc[MEAN_ESTIMABLE, "auc"] == pytest.approx(point, abs=1e-12)
    # every resample's mean over the same 9 observations, from expanded resamples
    counts = bootstrap_counts(200, resamples, 3)
    means = []
    for c in counts:
        rows = np.repeat(np.arange(200), c)
        means.append(np.mean([roc_auc_score(labels[rows, j], s[rows, j]) for j in fixed]))
    low, high = np.percentile(means, [2.5, 97.5])
    assert table.loc[MEAN_ESTIMABLE, "ci_low"] == pytest.approx(low, abs=1e-12)
    assert table.loc[MEAN_ESTIMABLE, "ci_high"] == pytest.approx(high, abs=1e-12)
    # rare observations: their AUC, no CI, marked; the paper's 13-observation mean is a point estimate
    for o in ("Lung Lesion", "Pleural Other", "Pneumonia", "Pneumothorax"):
        assert not math.isnan(table.loc[o, "auc"]) and math.isnan(table.loc[o, "ci_low"]) and table.loc[o, "unstable"]
    assert math.isnan(table.loc[MEAN_DEFINED, "ci_low"])
    notes = T.experiment_notes(table.reset_index(), resamples, "mean")
    assert "over the 9 observations with enough patients" in notes and "(LL, PN, PNX, PlO)" in notes


def test_claims_ignore_a_one_patient_difference_and_claim_2_says_why_it_cannot_decide():
    labels, s = real_counts(2)
    before, after = ruined_lesion(labels, s)
    factors = {"baseline": {"views": "both", "normalization": "imagenet", "init": "pretrained",
                            "uncertainty": "multiclass", "epochs": 3},
               "frontal": {"views": "frontal", "normalization": "imagenet", "init": "pretrained",
                           "uncertainty": "multiclass", "epochs": 3}}  # fmt: skip
    scored = {"baseline": scores(labels, before), "frontal": scores(labels, after)}
    claims = evaluate_claims(factors, "baseline", scored, {}, resamples=300, seed=0).set_index("claim")
    # Lung Lesion loses the most (1.0), but on one patient: never contradicted, never supported
    assert claims.loc["2", "verdict"] == "inconclusive: 1 positive patient"
    assert "a point estimate" in claims.loc["2", "ours"]
    # claims 1 and 1b: the whole loss is Lung Lesion's, which no mean counts
    for claim in ("1", "1b"):
        assert claims.loc[claim, "verdict"] == "inconclusive", claim
    d = mean_difference(scored["baseline"], scored["frontal"], 300, 0)
    assert d["delta"] == 0 and d["defined"] == 9


@pytest.mark.parametrize("abbreviation", ["LL", "PlO"])
def test_rare_observations_are_outside_the_holm_family(abbreviation):
    """Holm over the estimable observations only: with a rare one tested, the others' adjusted p would be larger."""
    labels, s = real_counts(4)
    other = s + 0.3 * labels * np.linspace(0, 1, 14)  # small gains everywhere
    comparison = compare(scores(labels, s), scores(labels, other), resamples=400).set_index("abbreviation")
    tested = comparison.loc[[a for a in ABBREVIATIONS if a not in ("LL", "PlO", "PN", "PNX", "F")]]
    m = len(tested)
    assert m == 9 and math.isnan(comparison.loc[abbreviation, "p_holm"])
    smallest = tested["p"].idxmin()
    assert comparison.loc[smallest, "p_holm"] == pytest.approx(min(1.0, m * tested["p"].min()))
