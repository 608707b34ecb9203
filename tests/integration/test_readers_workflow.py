"""Radiologists and operating points in the workflow: adding `dataset.test.readers` and
`evaluation.operating_points` to a finished run with a test set runs only the new evaluation steps (no training),
each test threshold is the one chosen on validation, the test decisions are those scores at it, and every number
agrees with scikit-learn on the workflow's own predictions and the readers' files."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, matthews_corrcoef, precision_score, recall_score, roc_curve

from workflow_helpers import copy_workflow, planned_jobs, real_data_config, snakemake

pytestmark = pytest.mark.integration

PACKAGE = str(Path(__file__).parents[2] / "workflow")


def chexpertnet(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "chexpertnet", *args], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": PACKAGE})  # fmt: skip


def models(results: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(results)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted((results / "models").rglob("model.pt"))}  # fmt: skip


def per_patient(predictions: pd.DataFrame) -> pd.DataFrame:
    """The workflow's rule, done by hand: a patient's score is the mean of its images' P(positive)."""
    return predictions.assign(patient=predictions["Path"].str.split("/").str[2]).groupby("patient").mean(
        numeric_only=True)


def test_readers_and_operating_points_are_added_without_retraining(tmp_path):
    data = tmp_path / "chexpert"
    chexpertnet("phantom", "--out", str(data), "--train-patients", "40", "--valid-patients", "40",
                "--test-patients", "40", "--seed", "5")  # fmt: skip
    chexpertnet("phantom-readers", "--labels", str(data / "test_groundtruth.csv"), "--out-dir", str(data / "readers"))
    readers = sorted((data / "readers").glob("*.csv"))
    workdir = copy_workflow(tmp_path / "wf")
    config = real_data_config("rad", data)
    config["experiments"]["frontal"] = {**config["experiments"]["baseline"], "views": "frontal"}
    config["train"].update(epochs=1)
    config["evaluation"].update(operating_points=[], min_positives=4, resamples=300)
    config["dataset"]["test"] = {"labels": str(data / "test_groundtruth.csv"),
                                 "images": str(data / "CheXpert-v1.0-small")}  # fmt: skip
    (workdir / "config/rad.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", "config/rad.yaml")
    results = workdir / "results/rad"
    trained = models(results)
    assert len(trained) == 2 and not (results / "operating_points").exists() and not (results / "test/readers").exists()

    # the readers and the operating points are added: only their own steps and the report run
    rules = ["readers_specificity", "youden", {"sensitivity": 0.8}, {"specificity": 0.95}]
    config["evaluation"]["operating_points"] = rules
    config["dataset"]["test"]["readers"] = [str(r) for r in readers]
    (workdir / "config/rad.yaml").write_text(yaml.safe_dump(config))
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/rad.yaml"))
    assert plan == {"operating_points": 2, "readers": 2, "decision_tables": 1, "report": 1}, plan
    snakemake(workdir, "--configfile", "config/rad.yaml")
    assert models(results) == trained  # the same models, untouched

    truth = pd.read_csv(data / "test_groundtruth.csv").assign(
        patient=lambda f: f["Study"].str.split("/").str[2]).set_index("patient")  # fmt: skip
    valid_labels = pd.read_csv(data / "CheXpert-v1.0-small/valid.csv")
    valid_truth = valid_labels.assign(patient=valid_labels["Path"].str.split("/").str[2]).groupby("patient").max(
        numeric_only=True)  # fmt: skip
    valid = per_patient(pd.read_csv(results / "predictions/baseline/seed0.csv"))
    test = per_patient(pd.read_csv(results / "test/predictions/baseline/seed0.csv"))
    truth = truth.loc[test.index]
    points = pd.read_csv(results / "operating_points/baseline/seed0.csv")
    assert set(points["rule"]) == {"readers_specificity", "youden", "sensitivity=0.8", "specificity=0.95"}
    decided = {rule: pd.read_csv(results / f"test/decisions/baseline/seed0/{rule.replace('=', '_')}.csv")
               for rule in points["rule"].unique()}  # fmt: skip
    kept = checked = 0
    for (rule, observation), rows in points.groupby(["rule", "observation"]):
        rows = rows.set_index("split")
        threshold = rows.loc["valid", "threshold"]
        y = valid_truth.loc[valid.index, observation].to_numpy()
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        if math.isnan(threshold):  # not met: the note says why, and no decision is kept
            assert rows.loc["valid", "note"].startswith("not met on validation"), (rule, observation)
            assert observation not in decided[rule].columns
            continue
        kept += 1
        assert rows.loc["test", "threshold"] == threshold  # the test threshold is the validation one
        # the threshold, chosen by hand from scikit-learn's curve of the validation patients
        fpr, tpr, thresholds = roc_curve(y, valid[observation], drop_intermediate=False)
        fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]
        if rule == "youden":
            expected = thresholds[np.argmax(tpr - fpr)]
        elif rule == "sensitivity=0.8":
            expected = thresholds[np.flatnonzero(tpr >= 0.8)[0]]
        else:
            target = rows.loc["valid", "target"]
            expected = thresholds[np.flatnonzero(1 - fpr >= target - 1e-12)[-1]]
        assert threshold == pytest.approx(expected, abs=1e-6), (rule, observation)
        assert min(positives, negatives) >= 4
        # the test decisions are the test studies' scores at that threshold (one study per patient)
        decisions = decided[rule].assign(patient=decided[rule]["Study"].str.split("/").str[2]).set_index("patient")
        calls = (test[observation] >= threshold).astype(int)
        assert (decisions.loc[test.index, observation] == calls).all(), (rule, observation)
        # the test row's metrics, against scikit-learn
        t = truth[observation].to_numpy()
        if t.min() == t.max():
            continue
        row = rows.loc["test"]
        assert row["sensitivity"] == pytest.approx(recall_score(t, calls), abs=1e-6)
        assert row["specificity"] == pytest.approx(recall_score(1 - t, 1 - calls), abs=1e-6)
        assert row["mcc"] == pytest.approx(matthews_corrcoef(t, calls), abs=1e-6)
        if calls.sum():
            assert row["ppv"] == pytest.approx(precision_score(t, calls), abs=1e-6)
            assert row["f1"] == pytest.approx(f1_score(t, calls), abs=1e-6)
        if (1 - calls).sum():
            assert row["npv"] == pytest.approx(precision_score(1 - t, 1 - calls), abs=1e-6)
        checked += 1
    assert kept >= 4 and checked >= 2, (kept, checked)
    # the readers' mean specificity, against the readers' files themselves
    target = points[(points["rule"] == "readers_specificity") & (points["split"] == "valid")].set_index(
        "observation")["target"]  # fmt: skip
    reads = {r.stem: pd.read_csv(r).assign(patient=lambda f: f["Study"].str.split("/").str[2]).set_index("patient")
             for r in readers}  # fmt: skip
    for observation in ("Edema", "Support Devices"):
        negatives = truth[observation] == 0
        t = truth.loc[negatives, observation]
        mean = np.mean([recall_score(1 - t, 1 - r.loc[t.index, observation]) for r in reads.values()])
        assert target[observation] == pytest.approx(mean, abs=1e-6)

    # the readers on the baseline's curve: each reader against scikit-learn; the model's MCC from the first rule's
    # decisions; the simulated readers' declared rates, recovered to within half a study
    table = pd.read_csv(results / "test/readers/baseline/seed0.csv")
    declared = json.loads((data / "readers/declared.json").read_text())["readers"]
    first = decided["readers_specificity"].assign(
        patient=lambda f: f["Study"].str.split("/").str[2]).set_index("patient")  # fmt: skip
    for _, row in table.iterrows():
        o, name = row["observation"], row["reader"]
        t, read = truth[o].to_numpy(), reads[name].loc[truth.index, o].to_numpy()
        if t.min() == t.max():
            continue
        assert row["sensitivity"] == pytest.approx(recall_score(t, read), abs=1e-6)
        assert row["reader_mcc"] == pytest.approx(matthews_corrcoef(t, read), abs=1e-6)
        assert abs(row["sensitivity"] - declared[name][o]["sensitivity"]) <= 0.5 / t.sum() + 1e-9
        assert abs(row["specificity"] - declared[name][o]["specificity"]) <= 0.5 / (1 - t).sum() + 1e-9
        fpr, tpr, _ = roc_curve(t, test[o], drop_intermediate=False)
        model = np.interp(((read == 1) & (t == 0)).sum() / (t == 0).sum(), fpr, tpr)
        assert row["model_sensitivity"] == pytest.approx(model, abs=1e-6) and row["below"] == int(model > row[
            "sensitivity"] + 1e-9)  # fmt: skip
        if o in first.columns:
            assert row["model_mcc"] == pytest.approx(matthews_corrcoef(t, first.loc[truth.index, o]), abs=1e-6)
        else:
            assert np.isnan(row["model_mcc"])
    # the tables over both runs, and the report
    tables = results / "tables"
    both = pd.read_csv(tables / "test.readers.csv")
    assert set(both["experiment"]) == {"baseline", "frontal"} and len(both) == 2 * len(table)
    assert "on the test set" in (tables / "test.readers.md").read_text().splitlines()[0]
    assert "thresholds from the validation set" in (tables / "test.operating_points.md").read_text()
    assert set(pd.read_csv(tables / "operating_points.csv")["split"]) == {"valid"}
    report = (results / "report.html").read_bytes()
    assert b"test.readers.html" in report and b"test.operating_points.html" in report
    assert (results / "test/readers/frontal/seed0.png").read_bytes()[:4] == b"\x89PNG"
