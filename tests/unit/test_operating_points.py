"""Operating points: each rule's threshold against a search over scikit-learn's ROC curve, the metrics at it against
scikit-learn, rules that validation cannot resolve, and the command (the test threshold is the validation one; the
test decisions in the leaderboard's format; bad input exits 2 and writes nothing)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef, precision_score, recall_score, roc_curve

from chexpertnet.cli import main
from chexpertnet.evaluate.binary import metrics
from chexpertnet.evaluate.operating_points import choose, needed, parse_rule
from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS


def by_hand(scores, labels, kind, target=None) -> float:
    """The rule, as a plain search over scikit-learn's points (the infinite threshold left out)."""
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]
    if kind == "youden":
        j = tpr - fpr
        return float(thresholds[next(k for k in range(len(j)) if j[k] == j.max())])
    if kind == "sensitivity":
        return float(max(t for t, s in zip(thresholds, tpr, strict=True) if s >= target))
    return float(min(t for t, f in zip(thresholds, fpr, strict=True) if 1 - f >= target))


@pytest.mark.parametrize("seed", range(6))
def test_each_rule_picks_the_threshold_a_search_over_the_curve_picks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 200))
    y = (rng.random(n) < rng.uniform(0.2, 0.6)).astype(int)
    s = np.round(y * rng.uniform(0.5, 2) + rng.normal(0, 1, n), 1)  # rounded: ties
    for kind, target in (("youden", None), ("sensitivity", 0.9), ("sensitivity", 0.75), ("specificity", 0.9),
                         ("specificity", 0.8)):  # fmt: skip
        threshold, note = choose(s, y, kind, target, min_positives=10)
        assert note == "" and threshold == by_hand(s, y, kind, target), (kind, target)
        calls = s >= threshold
        if kind == "sensitivity":
            assert recall_score(y, calls) >= target
        if kind == "specificity":
            assert recall_score(1 - y, 1 - calls) >= target


def test_metrics_at_a_threshold_equal_scikit_learns():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 150)
    calls = (y + rng.normal(0, 0.8, 150)) > 0.5
    m = {k: v[0] for k, v in metrics(calls, y, np.ones((1, 150))).items()}
    assert m["sensitivity"] == pytest.approx(recall_score(y, calls), abs=1e-12)
    assert m["specificity"] == pytest.approx(recall_score(1 - y, ~calls), abs=1e-12)
    assert m["ppv"] == pytest.approx(precision_score(y, calls), abs=1e-12)
    assert m["npv"] == pytest.approx(precision_score(1 - y, ~calls), abs=1e-12)
    assert m["f1"] == pytest.approx(f1_score(y, calls), abs=1e-12)
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, calls), abs=1e-12)
    # a resample is its studies repeated: counts give the metrics of the expanded data
    counts = rng.multinomial(150, np.full(150, 1 / 150))
    take = np.repeat(np.arange(150), counts)
    m = {k: v[0] for k, v in metrics(calls, y, counts[None]).items()}
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y[take], calls[take]), abs=1e-12)
    assert m["f1"] == pytest.approx(f1_score(y[take], calls[take]), abs=1e-12)
    # undefined ratios are NaN; the MCC of constant decisions is 0, as scikit-learn has it
    none = {k: v[0] for k, v in metrics(np.zeros(150, bool), y, np.ones((1, 150))).items()}
    assert math.isnan(none["ppv"]) and none["mcc"] == matthews_corrcoef(y, np.zeros(150)) == 0


def test_a_rule_validation_cannot_resolve_says_so():
    y = np.r_[np.ones(3), np.zeros(40)].astype(int)
    s = np.linspace(1, 0, 43)
    threshold, note = choose(s, y, "sensitivity", 0.9, min_positives=2)
    assert math.isnan(threshold)
    assert note == "not met on validation: 3 positive patients; sensitivity 0.90 needs at least 10"
    threshold, note = choose(s, y, "youden", None, min_positives=10)
    assert math.isnan(threshold) and "3 positive and 40 negative patients (fewer than 10)" in note
    y = np.r_[np.ones(12), np.zeros(15)].astype(int)
    threshold, note = choose(np.linspace(1, 0, 27), y, "specificity", 0.95, min_positives=10)
    assert math.isnan(threshold) and "15 negative patients; specificity 0.95 needs at least 20" in note
    assert needed(0.9, 10) == 10 and needed(0.95, 10) == 20 and needed(0.5, 10) == 10 and needed(0.99, 5) == 100


def test_rules_are_parsed_or_refused():
    assert [parse_rule(r).file_stem for r in ("youden", "sensitivity=0.9", "specificity=.95")] == [
        "youden", "sensitivity_0.9", "specificity_0.95"]
    for bad in ("sensitivity=1", "sensitivity=0", "sens=0.9", "specificity=1.5"):
        with pytest.raises(ValueError, match="operating point"):
            parse_rule(bad)


# --- the command on CheXpert-format files ---------------------------------------------------------------------------
def chexpert_csv(path, split: str, labels: np.ndarray) -> list[str]:
    paths = [f"CheXpert-v1.0-small/{split}/patient{i + (60000 if split == 'test' else 50000):05d}/study1/"
             f"view1_frontal.jpg" for i in range(len(labels))]  # fmt: skip
    frame = pd.DataFrame(labels.astype(float), columns=list(OBSERVATIONS))
    for column in ("Sex", "Age", "Frontal/Lateral", "AP/PA"):
        frame[column] = ""
    frame["Path"] = paths
    frame[list(CSV_COLUMNS)].to_csv(path, index=False)
    return paths


@pytest.fixture
def split_files(tmp_path):
    rng = np.random.default_rng(4)
    out = {}
    for split, n in (("valid", 80), ("test", 60)):
        y = (rng.random((n, 14)) < 0.4).astype(int)
        y[:, OBSERVATIONS.index("Fracture")] = 0
        y[:3, OBSERVATIONS.index("Fracture")] = 1  # 3 positives: no rule can be met
        paths = chexpert_csv(tmp_path / f"{split}.csv", split, y)
        scores = np.clip(0.5 * y + rng.normal(0.25, 0.2, y.shape), 0, 1)
        pd.DataFrame({"Path": paths, **{o: scores[:, j] for j, o in enumerate(OBSERVATIONS)}}).to_csv(
            tmp_path / f"{split}_predictions.csv", index=False)  # fmt: skip
        out[split] = (y, scores)
    return out


def run_op(tmp_path, *extra: str) -> int:
    return main(["operating-points", "--predictions", str(tmp_path / "valid_predictions.csv"), "--labels",
                 str(tmp_path / "valid.csv"), "--resamples", "100", "--out", str(tmp_path / "out/op.csv"),
                 *extra])  # fmt: skip


def test_the_test_threshold_is_the_validation_one_and_the_decisions_follow_it(tmp_path, split_files):
    code = run_op(tmp_path, "--rule", "youden", "--rule", "sensitivity=0.9", "--test-predictions",
                  str(tmp_path / "test_predictions.csv"), "--test-labels", str(tmp_path / "test.csv"),
                  "--decisions-dir", str(tmp_path / "out/decisions"))  # fmt: skip
    assert code == 0
    table = pd.read_csv(tmp_path / "out/op.csv")
    valid_y, valid_s = split_files["valid"]
    test_y, test_s = split_files["test"]
    for rule, kind, target in (("youden", "youden", None), ("sensitivity=0.9", "sensitivity", 0.9)):
        decisions = pd.read_csv(tmp_path / f"out/decisions/{rule.replace('=', '_')}.csv")
        assert decisions["Study"].iloc[0] == "CheXpert-v1.0/test/patient60000/study1"
        assert "Fracture" not in decisions.columns  # no threshold kept for it
        for j, o in enumerate(OBSERVATIONS):
            rows = table[(table["rule"] == rule) & (table["observation"] == o)].set_index("split")
            if o == "Fracture":
                assert rows["threshold"].isna().all() and rows.loc["valid", "note"].startswith("not met")
                continue
            threshold = rows.loc["valid", "threshold"]
            assert rows.loc["test", "threshold"] == threshold
            assert threshold == pytest.approx(by_hand(valid_s[:, j], valid_y[:, j], kind, target), abs=1e-7)
            calls = (test_s[:, j] >= threshold).astype(int)
            assert (decisions[o].to_numpy() == calls).all()
            assert rows.loc["test", "mcc"] == pytest.approx(matthews_corrcoef(test_y[:, j], calls), abs=1e-6)
            assert rows.loc["test", "sensitivity_low"] <= rows.loc["test", "sensitivity"] <= rows.loc[
                "test", "sensitivity_high"]  # fmt: skip


BAD_OP = [
    (("--rule", "sensitivity=2"), "--rule: operating point 'sensitivity=2'"),
    (("--rule", "readers_specificity"), "--rule readers_specificity needs --readers"),
    (("--rule", "youden", "--test-predictions", "x.csv"), "--test-predictions and --test-labels go together"),
    (("--rule", "youden", "--decisions-dir", "d"), "--decisions-dir writes the test set's decisions"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OP)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, split_files, capsys, args, message):
    assert run_op(tmp_path, *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
