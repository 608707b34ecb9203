"""The paper's claims: roles found by factors, verdict rules, and estimates checked against sklearn's AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from chexpertnet.evaluate import claims as C
from chexpertnet.evaluate.epochs import epoch_table
from chexpertnet.evaluate.scoring import PatientScores
from chexpertnet.observations import OBSERVATIONS

N, J = 300, len(OBSERVATIONS)
LL = OBSERVATIONS.index("Lung Lesion")
FRACTURE = OBSERVATIONS.index("Fracture")


def labels(seed: int = 0) -> np.ndarray:
    y = (np.random.default_rng(seed).random((N, J)) < 0.3).astype(float)
    y[:, FRACTURE] = 0  # undefined, as in the real validation set
    return y


def noisy(y: np.ndarray, noise: np.ndarray | float, seed: int) -> np.ndarray:
    """Scores that separate the classes less as ``noise`` (per observation) grows."""
    rng = np.random.default_rng(seed)
    return y + rng.normal(0, 1, y.shape) * np.broadcast_to(noise, (J,))


def runs(*scores: np.ndarray, y: np.ndarray) -> PatientScores:
    return PatientScores(np.arange(N), np.stack(scores), y)


FACTORS = {
    "baseline": {"views": "both", "normalization": "imagenet", "init": "pretrained", "uncertainty": "multiclass",
                 "epochs": 3},
    "frontal": {"views": "frontal", "normalization": "imagenet", "init": "pretrained", "uncertainty": "multiclass",
                "epochs": 3},
    "scratch": {"views": "both", "normalization": "imagenet", "init": "scratch", "uncertainty": "multiclass",
                "epochs": 3},
    "scratch_long": {"views": "both", "normalization": "imagenet", "init": "scratch", "uncertainty": "multiclass",
                     "epochs": 9},
}  # fmt: skip


def test_roles_are_found_by_the_one_factor_that_differs():
    assert C.find_role(FACTORS, "baseline", views="frontal") == "frontal"
    assert C.find_role(FACTORS, "baseline", init="scratch") == "scratch"  # not scratch_long (its epochs differ)
    assert C.find_role(FACTORS, "baseline", init="frozen") is None
    assert C.find_long_scratch(FACTORS, "baseline") == "scratch_long"


def test_mean_difference_matches_sklearn_and_its_ci_covers_it():
    y = labels()
    a = runs(noisy(y, 0.6, 1), noisy(y, 0.6, 2), y=y)  # two seeds
    b = runs(noisy(y, 1.2, 3), y=y)
    d = C.mean_difference(a, b, resamples=300, seed=0)
    defined = [j for j in range(J) if j != FRACTURE]
    auc_a = np.mean([np.mean([roc_auc_score(y[:, j], s[:, j]) for j in defined]) for s in a.scores])
    auc_b = np.mean([roc_auc_score(y[:, j], b.scores[0][:, j]) for j in defined])
    assert d["a"] == pytest.approx(auc_a) and d["b"] == pytest.approx(auc_b)
    assert d["delta"] == pytest.approx(auc_b - auc_a) and d["defined"] == 13
    assert d["low"] < d["delta"] < d["high"] < 0  # clearly worse
    without = C.mean_difference(a, b, resamples=300, seed=0, exclude=[LL])
    assert without["defined"] == 12


def test_verdicts_follow_the_direction_of_the_ci():
    assert C._direction_verdict(0.01, 0.05, +1) == C.SUPPORTED
    assert C._direction_verdict(-0.05, -0.01, +1) == C.CONTRADICTED
    assert C._direction_verdict(-0.01, 0.05, +1) == C.INCONCLUSIVE
    assert C._direction_verdict(-0.05, -0.01, -1) == C.SUPPORTED
    assert C._direction_verdict(float("nan"), 0.1, -1) == C.INCONCLUSIVE


def test_the_largest_loss_is_found_where_it_was_planted():
    y = labels()
    full = runs(noisy(y, 0.5, 1), y=y)
    noise = np.full(J, 0.55)
    noise[LL] = 5.0  # the reduced model is nearly blind to Lung Lesion only
    d = C.largest_loss(full, runs(noisy(y, noise, 2), y=y), LL, resamples=200, seed=0)
    assert d["largest"] == "Lung Lesion" and d["rank"] == 1 and d["share"] > 0.95
    noise[LL], noise[0] = 0.55, 5.0  # now No Finding loses most
    d = C.largest_loss(full, runs(noisy(y, noise, 2), y=y), LL, resamples=200, seed=0)
    assert d["largest"] == "No Finding" and d["share"] < 0.05


def test_best_at_last_epoch_counts_and_epoch_table_agree():
    y = labels()
    epochs = [runs(noisy(y, n, 10 + k), y=y) for k, n in enumerate((2.0, 1.0, 0.5))]  # improving every epoch
    d = C.best_at_last_epoch(epochs, resamples=200, seed=0)
    assert d["count"] == 13 and d["defined"] == 13 and d["low"] > 6.5
    table = epoch_table(epochs)
    assert (table["best_epoch"].iloc[:13].dropna() == 3).all() and pd.isna(table.loc[FRACTURE, "best_epoch"])
    assert table.loc[0, "epoch_2"] == pytest.approx(roc_auc_score(y[:, 0], epochs[1].scores[0][:, 0]))
    worse = [runs(noisy(y, n, 10 + k), y=y) for k, n in enumerate((0.5, 1.0, 2.0))]  # best at epoch 1
    d = C.best_at_last_epoch(worse, resamples=200, seed=0)
    assert d["count"] == 0 and d["high"] <= 6.5


def test_claims_table_has_every_claim_and_says_what_is_missing():
    y = labels()
    scored = {"baseline": runs(noisy(y, 0.5, 1), y=y), "frontal": runs(noisy(y, 0.9, 2), y=y),
              "scratch": runs(noisy(y, 1.5, 3), y=y), "scratch_long": runs(noisy(y, 0.5, 4), y=y)}  # fmt: skip
    epochs = {"scratch": [runs(noisy(y, n, 20 + k), y=y) for k, n in enumerate((4.0, 1.5, 0.6))]}
    table = C.evaluate_claims(FACTORS, "baseline", scored, epochs, resamples=200, seed=0)
    verdicts = dict(zip(table["claim"], table["verdict"], strict=True))
    assert list(table["claim"]) == ["1", "1b", "2", "3", "4", "5", "6", "7"]
    assert verdicts["1"] == verdicts["1b"] == verdicts["4"] == verdicts["5"] == C.SUPPORTED
    assert verdicts["6"] == C.SUPPORTED  # 9 epochs of scratch: as good as the baseline, better than 3 epochs
    assert verdicts["2"] == C.CONTRADICTED  # the frontal model loses evenly: Lung Lesion rarely loses most
    assert verdicts["3"] == verdicts["7"] == C.NOT_RUN
    assert "normalization: dataset" in table.set_index("claim").loc["3", "compared"]
    assert "init: frozen" in table.set_index("claim").loc["7", "compared"]
