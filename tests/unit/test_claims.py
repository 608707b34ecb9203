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
    "dataset_norm": {"views": "both", "normalization": "dataset", "init": "pretrained", "uncertainty": "multiclass",
                     "epochs": 3},
    "frozen": {"views": "both", "normalization": "imagenet", "init": "frozen", "uncertainty": "multiclass",
               "epochs": 3},
}  # fmt: skip


def test_roles_are_found_by_the_one_factor_that_differs():
    assert C.find_role(FACTORS, "baseline", views="frontal") == "frontal"
    assert C.find_role(FACTORS, "baseline", init="scratch") == "scratch"  # not scratch_long (its epochs differ)
    assert C.find_role(FACTORS, "baseline", init="frozen") == "frozen"
    assert C.find_role(FACTORS, "baseline", uncertainty="ones") is None
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
    assert d["largest"] == "Lung Lesion" and d["rank"] == 1 and d["share"] > 0.95 and d["delta"] < -0.2
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
    factors = {k: v for k, v in FACTORS.items() if k not in ("dataset_norm", "frozen")}
    scored = {"baseline": runs(noisy(y, 0.5, 1), y=y), "frontal": runs(noisy(y, 0.9, 2), y=y),
              "scratch": runs(noisy(y, 1.5, 3), y=y), "scratch_long": runs(noisy(y, 0.5, 1) + 0.01, y=y)}  # fmt: skip
    epochs = {"scratch": [runs(noisy(y, n, 20 + k), y=y) for k, n in enumerate((4.0, 1.5, 0.6))]}
    table = C.evaluate_claims(factors, "baseline", scored, epochs, resamples=200, seed=0)
    verdicts = dict(zip(table["claim"], table["verdict"], strict=True))
    assert list(table["claim"]) == ["1", "1b", "2", "3", "4", "5", "6", "7"]
    assert verdicts["1"] == verdicts["1b"] == verdicts["4"] == verdicts["5"] == C.SUPPORTED
    assert verdicts["6"] == C.SUPPORTED  # 9 epochs of scratch: the baseline's AUCs exactly (shifted scores)
    assert verdicts["2"] == C.CONTRADICTED  # the frontal model loses evenly: Lung Lesion rarely loses most
    assert verdicts["3"] == verdicts["7"] == C.NOT_RUN
    assert "normalization: dataset" in table.set_index("claim").loc["3", "compared"]
    assert "init: frozen" in table.set_index("claim").loc["7", "compared"]


# --- every claim reaches each verdict on data built for it ----------------------------------------------------------
GOOD, WORSE, BETTER = 0.5, 1.1, 0.3  # noise levels: the baseline, a clearly worse and a clearly better model


def _scored(y: np.ndarray, **others: np.ndarray) -> dict:
    base = noisy(y, GOOD, 1)
    near = noisy(y, GOOD, 78)  # another model as good as the baseline: a Δ whose CI includes 0
    out = {"baseline": runs(base, y=y)}
    for name, scores in others.items():
        out[name] = runs(near if scores is None else scores, y=y)
    return out


def _verdict(claim: str, scored: dict, epochs: dict | None = None, margin: float = C.MARGIN) -> pd.Series:
    factors = {name: FACTORS[name] for name in scored}
    if claim == "6":
        factors["scratch"] = FACTORS["scratch"]
        scored.setdefault("scratch", runs(noisy(labels(), WORSE, 5), y=labels()))
    table = C.evaluate_claims(factors, "baseline", scored, epochs or {}, resamples=300, seed=0, margin=margin)
    return table.set_index("claim").loc[claim]


# claim, its experiment, the claimed sign of Δ = experiment − baseline
DIFFERENCE_CLAIMS = [("1", "frontal", -1), ("1b", "frontal", -1), ("3", "dataset_norm", +1), ("4", "scratch", -1),
                     ("7", "frozen", -1)]  # fmt: skip


@pytest.mark.parametrize("claim, experiment, sign", DIFFERENCE_CLAIMS)
@pytest.mark.parametrize("outcome", [C.SUPPORTED, C.CONTRADICTED, C.INCONCLUSIVE])
def test_each_difference_claim_reaches_each_verdict(claim, experiment, sign, outcome):
    y = labels()
    noise = {C.SUPPORTED: BETTER if sign > 0 else WORSE, C.CONTRADICTED: WORSE if sign > 0 else BETTER}
    other = noisy(y, noise[outcome], 2) if outcome in noise else None
    r = _verdict(claim, _scored(y, **{experiment: other}))
    assert r["verdict"] == outcome, r["ours"]
    assert r["compared"] == f"{experiment} − baseline"  # one sign convention: experiment − baseline
    delta = float(r["ours"].split("Δ ")[1].split(" ")[0])
    if outcome != C.INCONCLUSIVE:  # Δ's printed sign is the sign of the effect, as in comparison.md
        assert np.sign(delta) == (sign if outcome == C.SUPPORTED else -sign)
    assert all(word in r["rule"] for word in ("supported", "contradicted", "inconclusive"))


def _lesion_scores(y: np.ndarray, blind: tuple[int, ...]) -> np.ndarray:
    noise = np.full(J, GOOD + 0.05)
    noise[list(blind)] = 5.0  # the frontal-only model is nearly blind to these
    return noisy(y, noise, 2)


@pytest.mark.parametrize(
    "blind, outcome",
    [((LL,), C.SUPPORTED), ((0,), C.CONTRADICTED), ((LL, 0), C.INCONCLUSIVE)],
)
def test_claim_2_reaches_each_verdict(blind, outcome):
    y = labels()
    if blind == (LL, 0):  # Lung Lesion and No Finding lose alike: either may lose most
        y[:, 0] = y[:, LL]
    r = _verdict("2", _scored(y, frontal=_lesion_scores(y, blind)))
    assert r["verdict"] == outcome, r["ours"]
    assert all(word in r["rule"] for word in ("supported", "contradicted", "inconclusive"))


def test_claim_2_with_one_positive_patient_is_inconclusive_never_contradicted():
    y = labels()
    y[:, LL] = 0
    y[7, LL] = 1
    r = _verdict("2", _scored(y, frontal=_lesion_scores(y, (0,))))
    assert r["verdict"] == "inconclusive: 1 positive patient"


@pytest.mark.parametrize(
    "noise, outcome",
    [((2.0, 1.0, 0.5), C.SUPPORTED), ((0.5, 1.0, 2.0), C.CONTRADICTED), ((0.8, 0.8), C.INCONCLUSIVE)],
)
def test_claim_5_reaches_each_verdict(noise, outcome):
    y = labels()
    if outcome == C.INCONCLUSIVE:  # two equally good epochs: about half the observations are best at the last
        base = noisy(y, 0.8, 30)
        epochs = [runs(base + noisy(np.zeros_like(y), 0.25, 31 + k), y=y) for k in range(2)]
    else:
        epochs = [runs(noisy(y, n, 20 + k), y=y) for k, n in enumerate(noise)]
    r = _verdict("5", _scored(y, scratch=noisy(y, WORSE, 3)), {"scratch": epochs})
    assert r["verdict"] == outcome, r["ours"]
    assert all(word in r["rule"] for word in ("supported", "contradicted", "inconclusive"))


def test_claim_5_counts_only_observations_with_enough_patients():
    y = labels()
    y[:, LL] = 0
    y[:3, LL] = 1  # 3 positive patients: not one of the observations counted
    epochs = [runs(noisy(y, n, 20 + k), y=y) for k, n in enumerate((2.0, 1.0, 0.5))]
    d = C.best_at_last_epoch(epochs, resamples=200, seed=0)
    assert d["defined"] == 12 and d["count"] <= 12 and not np.isnan(d["low"])


@pytest.mark.parametrize(
    "long, outcome",
    [("same", C.SUPPORTED), ("worse", C.CONTRADICTED), ("better", C.CONTRADICTED), ("near", C.INCONCLUSIVE)],
)
def test_claim_6_is_an_equivalence_with_a_margin(long, outcome):
    y = labels()
    base = noisy(y, GOOD, 1)
    scores = {"same": base + 0.01, "worse": noisy(y, WORSE, 4), "better": noisy(y, 0.2, 4),
              "near": noisy(y, GOOD, 78)}[long]  # fmt: skip
    r = _verdict("6", _scored(y, scratch_long=scores))
    assert r["verdict"] == outcome, r["ours"]
    assert "margin ±0.010" in r["ours"] and "±0.010" in r["rule"]
    if long == "near":  # a wide CI around 0 is a lack of power, never support; a wider margin can decide it
        low, high = (float(x) for x in r["ours"].split("[")[1].split("]")[0].split(", "))
        assert low < -C.MARGIN or high > C.MARGIN
        wide = _verdict("6", _scored(y, scratch_long=scores), margin=max(-low, high) + 0.01)
        assert wide["verdict"] == C.SUPPORTED


def test_equivalence_verdict_boundaries():
    assert C.equivalence_verdict(-0.009, 0.009, 0.01) == C.SUPPORTED
    assert C.equivalence_verdict(-0.03, -0.011, 0.01) == C.CONTRADICTED
    assert C.equivalence_verdict(0.011, 0.03, 0.01) == C.CONTRADICTED
    assert C.equivalence_verdict(-0.02, 0.005, 0.01) == C.INCONCLUSIVE
    assert C.equivalence_verdict(float("nan"), 0.0, 0.01) == C.INCONCLUSIVE


def test_claim_1b_says_why_it_equals_claim_1_when_lung_lesion_is_outside_the_mean():
    y = labels()
    y[:, LL] = 0
    y[3, LL] = 1
    scored = _scored(y, frontal=noisy(y, WORSE, 2))
    one, one_b = _verdict("1", dict(scored)), _verdict("1b", dict(scored))
    assert one["ours"] in one_b["ours"]
    assert "Lung Lesion, 1 positive patient, is already outside the mean" in one_b["ours"]
