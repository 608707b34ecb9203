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
    d = C.lesion_loses_most(full, runs(noisy(y, noise, 2), y=y), LL, resamples=200, seed=0)
    assert d["largest"] == "Lung Lesion" and d["rank"] == 1 and d["delta"] < -0.2
    assert d["rivals"] == 12 and (d["low"] > 0).all() and C.lesion_verdict(d) == C.SUPPORTED
    noise[LL], noise[0] = 0.55, 5.0  # now No Finding loses most
    d = C.lesion_loses_most(full, runs(noisy(y, noise, 2), y=y), LL, resamples=200, seed=0)
    assert d["largest"] == "No Finding" and d["below"] == ["No Finding"] and C.lesion_verdict(d) == C.CONTRADICTED


def test_the_simultaneous_intervals_are_max_t_over_the_rivals():
    """Recomputed by hand from the same resamples: each D_j ± c·se_j with c the 95% quantile of the largest
    studentized deviation; wider than each rival's own 95% interval, so that all cover together."""
    from chexpertnet.evaluate.metrics import bootstrap_auc, bootstrap_counts

    y = labels()
    full, reduced = runs(noisy(y, 0.5, 1), y=y), runs(noisy(y, 0.7, 2), y=y)
    d = C.lesion_loses_most(full, reduced, LL, resamples=300, seed=4)
    counts = bootstrap_counts(N, 300, 4)
    delta = bootstrap_auc(reduced.scores[0], y, counts) - bootstrap_auc(full.scores[0], y, counts)
    rivals = [j for j in range(J) if j not in (LL, FRACTURE)]
    point = np.array([np.nan if j == FRACTURE else roc_auc_score(y[:, j], reduced.scores[0][:, j])
                      - roc_auc_score(y[:, j], full.scores[0][:, j]) for j in range(J)])  # fmt: skip
    diffs = point[rivals] - point[LL]
    samples = delta[:, rivals] - delta[:, [LL]]
    se = samples.std(axis=0, ddof=1)
    c = np.quantile((np.abs(samples - diffs) / se).max(axis=1), 0.95)
    assert d["critical"] == pytest.approx(c) and c > 1.96
    assert np.allclose(d["low"], diffs - c * se) and np.allclose(d["high"], diffs + c * se)


def test_the_lesion_rule_covers_together_in_simulation():
    """Where Lung Lesion truly loses the most by a wide margin the rule says supported; where it ties with four
    rivals it never says contradicted (the old share-of-resamples rule did, in 29% of such runs)."""
    y = labels()
    full = runs(noisy(y, 0.5, 1), y=y)
    contradicted = 0
    for seed in range(8):
        noise = np.full(J, 0.55)
        noise[[LL, 0, 2, 3, 5]] = 1.2  # Lung Lesion and four rivals lose alike
        d = C.lesion_loses_most(full, runs(noisy(y, noise, 100 + seed), y=y), LL, resamples=200, seed=seed)
        contradicted += C.lesion_verdict(d) == C.CONTRADICTED
    assert contradicted <= 1


def test_last_epoch_gains_count_wins_losses_and_ties():
    y = labels()
    epochs = [runs(noisy(y, n, 10 + k), y=y) for k, n in enumerate((2.0, 1.0, 0.5))]  # improving every epoch
    d = C.last_epoch_gains(epochs, resamples=200, seed=0)
    assert d["wins"] == d["defined"] == d["count"] == 13 and d["losses"] == 0 and (d["low"] > 0).all()
    j = OBSERVATIONS.index("Edema")
    k = d["observations"].index("Edema")
    aucs = [roc_auc_score(y[:, j], e.scores[0][:, j]) for e in epochs]
    assert d["gain"][k] == pytest.approx(aucs[2] - max(aucs[:2]))
    table = epoch_table(epochs)
    assert (table["best_epoch"].iloc[:13].dropna() == 3).all() and pd.isna(table.loc[FRACTURE, "best_epoch"])
    assert table.loc[0, "epoch_2"] == pytest.approx(roc_auc_score(y[:, 0], epochs[1].scores[0][:, 0]))
    worse = [runs(noisy(y, n, 10 + k), y=y) for k, n in enumerate((0.5, 1.0, 2.0))]  # best at epoch 1
    d = C.last_epoch_gains(worse, resamples=200, seed=0)
    assert d["count"] == d["wins"] == 0 and d["losses"] == 13
    assert C.last_epoch_verdict({"defined": 11, "wins": 6, "losses": 0}) == C.SUPPORTED
    assert C.last_epoch_verdict({"defined": 11, "wins": 5, "losses": 0}) == C.INCONCLUSIVE  # ties are not wins
    assert C.last_epoch_verdict({"defined": 10, "wins": 0, "losses": 5}) == C.CONTRADICTED


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
    assert verdicts["2"] == C.INCONCLUSIVE  # the frontal model loses evenly: no observation loses significantly more
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


def _verdict(claim: str, scored: dict, epochs: dict | None = None, margin: float = C.MARGIN,
             phantom: bool = False) -> pd.Series:  # fmt: skip
    factors = {name: FACTORS[name] for name in scored}
    if claim == "6":
        factors["scratch"] = FACTORS["scratch"]
        scored.setdefault("scratch", runs(noisy(labels(), WORSE, 5), y=labels()))
    table = C.evaluate_claims(factors, "baseline", scored, epochs or {}, resamples=300, seed=0, margin=margin,
                              phantom=phantom)  # fmt: skip
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
    assert "simultaneous over 12 rivals" in r["ours"]
    phantom = _verdict("2", _scored(y, frontal=_lesion_scores(y, blind)), phantom=True)
    assert phantom["verdict"] == f"{C.NOT_TESTABLE} ({outcome} on the phantom)" and phantom["ours"] == r["ours"]


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
    d = C.last_epoch_gains(epochs, resamples=200, seed=0)
    assert d["defined"] == 12 and "Lung Lesion" not in d["observations"] and not np.isnan(d["low"]).any()


@pytest.mark.parametrize(
    "long, outcome",
    [("same", C.SUPPORTED), ("worse", C.CONTRADICTED), ("better", C.SUPPORTED), ("near", C.INCONCLUSIVE)],
)
def test_claim_6_is_non_inferiority_with_a_margin(long, outcome):
    """Longer training closes the gap when it is no worse than the baseline by more than the margin: a model as good
    (the same AUCs) or better supports it; a clearly worse one contradicts it; a CI that reaches below −margin without
    lying below it is inconclusive."""
    y = labels()
    base = noisy(y, GOOD, 1)
    scores = {"same": base + 0.01, "worse": noisy(y, WORSE, 4), "better": noisy(y, 0.2, 4),
              "near": noisy(y, GOOD, 78)}[long]  # fmt: skip
    r = _verdict("6", _scored(y, scratch_long=scores))
    assert r["verdict"] == outcome, r["ours"]
    assert "margin 0.010" in r["ours"] and "−0.010" in r["rule"] and "one-sided test at 2.5%" in r["rule"]
    low, high = (float(x) for x in r["ours"].split("[")[1].split("]")[0].split(", "))
    if long == "near":  # a wide CI is a lack of power, never support; a wider margin can decide it
        assert low < -C.MARGIN < high
        wide = _verdict("6", _scored(y, scratch_long=scores), margin=-low + 0.01)
        assert wide["verdict"] == C.SUPPORTED
        # the patients a CI of half-width 0.01 would need, at this CI's half-width (a width goes as 1/sqrt(n))
        needed = int(r["ours"].split("would need about ")[1].split(" ")[0].replace(",", ""))
        assert needed == pytest.approx(N * ((high - low) / 2 / C.MARGIN) ** 2, rel=0.05)


def test_noninferiority_verdict_boundaries():
    assert C.noninferiority_verdict(-0.009, 0.03, 0.01) == C.SUPPORTED
    assert C.noninferiority_verdict(0.02, 0.05, 0.01) == C.SUPPORTED  # above +margin: better, so no worse
    assert C.noninferiority_verdict(-0.05, -0.011, 0.01) == C.CONTRADICTED
    assert C.noninferiority_verdict(-0.02, 0.005, 0.01) == C.INCONCLUSIVE
    assert C.noninferiority_verdict(float("nan"), 0.0, 0.01) == C.INCONCLUSIVE
    assert C.patients_for_margin(200, -0.036, 0.036, 0.01) == 2592  # 200 x 3.6²: about 13x the patients


def test_claim_1b_says_why_it_equals_claim_1_when_lung_lesion_is_outside_the_mean():
    y = labels()
    y[:, LL] = 0
    y[3, LL] = 1
    scored = _scored(y, frontal=noisy(y, WORSE, 2))
    one, one_b = _verdict("1", dict(scored)), _verdict("1b", dict(scored))
    assert one["ours"].split("; ours over")[0] in one_b["ours"]
    assert "the paper's over 13, whose gap rests on one Lung Lesion patient" in one["ours"]
    assert "Lung Lesion, 1 positive patient, is already outside the mean" in one_b["ours"]
