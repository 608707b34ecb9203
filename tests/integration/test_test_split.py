"""The CheXpert test set as a second hold-out: adding `dataset.test` (study-level labels and the folder of test
images) to a finished run predicts and scores the test set with the trained models (no retraining, no
revalidation), and the tables, comparison and claims on it are labelled and agree with AUCs computed independently
(scikit-learn on the predictions averaged per patient, against the labels file itself)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from workflow_helpers import copy_workflow, planned_jobs, real_data_config, snakemake, tiny_config

pytestmark = pytest.mark.integration

RESULTS = "results/heldout"


def models(results: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(results)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted((results / "models").rglob("model.pt"))}  # fmt: skip


def test_adding_a_test_set_scores_it_without_retraining(tmp_path):
    data = tmp_path / "chexpert"
    package = str(Path(__file__).parents[2] / "workflow")
    subprocess.run([sys.executable, "-m", "chexpertnet", "phantom", "--out", str(data), "--train-patients", "40",
                    "--valid-patients", "20", "--test-patients", "24", "--seed", "4"], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": package})  # fmt: skip
    workdir = copy_workflow(tmp_path / "wf")
    config = real_data_config("heldout", data)
    config["experiments"]["frontal"] = {**config["experiments"]["baseline"], "views": "frontal"}
    config["train"].update(epochs=1)
    config["cam"]["chexlocalize"] = str(data / "gt_segmentations_val.json")  # CheXlocalize's truth of valid
    (workdir / "config/heldout.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", "config/heldout.yaml")
    results = workdir / RESULTS
    trained = models(results)
    assert len(trained) == 2 and not (results / "test").exists()

    # the test set is added: only its own steps, the tables and the report run
    config["dataset"]["test"] = {"labels": str(data / "test_groundtruth.csv"),
                                 "images": str(data / "CheXpert-v1.0-small")}  # fmt: skip
    config["cam"]["chexlocalize_test"] = str(data / "gt_segmentations_test.json")  # and of the test set
    (workdir / "config/heldout.yaml").write_text(yaml.safe_dump(config))
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/heldout.yaml"))
    # (the operating points are kept on the test set now: theirs run again, and their tables)
    assert plan == {"test_labels": 1, "stamp": 1, "cache": 1, "manifest": 2, "predict_test": 2, "score_test": 2,
                    "cam_test": 1, "tables": 1, "operating_points": 2, "decision_tables": 1,
                    "report": 1}, plan  # fmt: skip
    snakemake(workdir, "--configfile", "config/heldout.yaml")
    assert models(results) == trained  # the same models, untouched

    # the test images' predictions: every test image for the two-view model, the frontal ones for the frontal model
    truth = pd.read_csv(data / "test_groundtruth.csv")
    images = sorted(str(p.relative_to(data)) for p in (data / "CheXpert-v1.0-small/test").rglob("*.jpg"))
    both = pd.read_csv(results / "test/predictions/baseline/seed0.csv")
    frontal = pd.read_csv(results / "test/predictions/frontal/seed0.csv")
    assert sorted(both["Path"]) == images
    assert sorted(frontal["Path"]) == [p for p in images if p.endswith("_frontal.jpg")]

    # the test tables against scikit-learn: a patient's score is the mean of its images' P(positive); its label
    # is its study's row in the labels file (one study per patient)
    table = pd.read_csv(results / "tables/test.baseline.csv").set_index("observation")
    patients = both.assign(patient=both["Path"].str.split("/").str[2]).groupby("patient").mean(numeric_only=True)
    labels = truth.assign(patient=truth["Study"].str.split("/").str[2]).set_index("patient").loc[patients.index]
    score = pd.read_csv(results / "test/scores/baseline/seed0.csv").set_index("observation")  # the score_test step's
    comparison = pd.read_csv(results / "tables/test.comparison.csv").set_index("observation")
    frontal_patients = frontal.assign(patient=frontal["Path"].str.split("/").str[2]).groupby("patient").mean(
        numeric_only=True)
    common = patients.index.intersection(frontal_patients.index)
    checked = 0
    for observation in [c for c in truth.columns if c != "Study"]:
        if labels[observation].nunique() == 2:
            expected = roc_auc_score(labels[observation], patients[observation])
            assert table.loc[observation, "auc"] == pytest.approx(expected, abs=1e-6), observation
            assert score.loc[observation, "auc"] == pytest.approx(expected, abs=1e-6), observation
            on_common = labels.loc[common, observation]
            if on_common.nunique() == 2:  # Δ = frontal − baseline on the patients both scored
                delta = (roc_auc_score(on_common, frontal_patients.loc[common, observation])
                         - roc_auc_score(on_common, patients.loc[common, observation]))  # fmt: skip
                assert comparison.loc[observation, "delta"] == pytest.approx(delta, abs=1e-6), observation
                if min(on_common.sum(), (1 - on_common).sum()) >= 10:  # evaluation.min_positives
                    assert 0 <= comparison.loc[observation, "p_delong"] <= 1, observation
                else:
                    assert np.isnan(comparison.loc[observation, "p_delong"]), observation
            checked += 1
        else:
            assert np.isnan(table.loc[observation, "auc"]), observation
            assert np.isnan(score.loc[observation, "auc"]), observation
    assert checked >= 5
    # the validation tables are those of the first run; the test ones are labelled as such, the paper's stay on valid
    tables = results / "tables"
    assert "on the test set" in (tables / "test.baseline.md").read_text().splitlines()[0]
    assert "on the test set" in (tables / "test.comparison.md").read_text().splitlines()[0]
    claims = pd.read_csv(tables / "test.claims.csv").set_index("claim")
    assert claims.loc["1", "compared"] == "frontal − baseline" and claims.loc["5", "verdict"].endswith("(not run)")
    assert not (tables / "test.paper_vs_ours.md").exists()
    assert set(pd.read_csv(tables / "test.comparison.csv")["experiment"]) == {"frontal"}
    # a new version of the tables holds them, and the report shows them
    history = pd.read_csv(tables / "history.csv")
    assert list(history["version"]) == [1, 2] and "mean_auc.test.baseline" in history.columns
    assert (workdir / "results/heldout/archive/tables/v0002/test.claims.md").exists()
    assert b"test.comparison.html" in (results / "report.html").read_bytes()

    # CheXlocalize on the test set, as the benchmark does it: thresholds tuned on valid, applied to test
    valid = pd.read_csv(results / "cam/baseline/seed0/chexlocalize.csv").set_index("pathology")
    test = pd.read_csv(results / "test/cam/baseline/seed0/chexlocalize.csv").set_index("pathology")
    test_truth = json.loads((data / "gt_segmentations_test.json").read_text())
    assert len(test) == 10 and (test["images"] == len(test_truth)).all()  # every image of the test truth
    tuned = valid["threshold_tuned"].notna()
    assert tuned.any()
    assert (test.loc[tuned, "threshold_tuned"] == valid.loc[tuned, "threshold_tuned"]).all()
    legend = (results / "test/cam/baseline/seed0/localization.md").read_text()
    assert "tuned on the validation set and applied here" in legend and "every test image" in legend
    assert "tuned per pathology on these same images" in (results / "cam/baseline/seed0/localization.md").read_text()
    assert b"Figure 1, test set" in (results / "report.html").read_bytes()


def test_the_phantom_test_split_is_planned_through_the_same_steps(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    config = tiny_config()
    config["phantom"]["test_patients"] = 10
    (workdir / "config/tiny.yaml").write_text(yaml.safe_dump(config))
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/tiny.yaml"))
    trainings = sum(len(e["seeds"]) for e in config["experiments"].values())
    assert plan["test_labels"] == 1 and plan["predict_test"] == plan["score_test"] == trainings
    assert plan["cache"] == 3 and plan["manifest"] == 3 * len({e["views"] for e in config["experiments"].values()})
    # its simulated readers, each model on their ROC, and the operating points kept on the test set
    assert plan["phantom_readers"] == 1 and plan["operating_points"] == plan["readers"] == trainings
    assert plan["decision_tables"] == 1
    config["phantom"]["test_patients"] = 0  # without a test split: operating points on validation, no readers
    (workdir / "config/tiny.yaml").write_text(yaml.safe_dump(config))
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/tiny.yaml"))
    assert plan["operating_points"] == trainings and "readers" not in plan and "phantom_readers" not in plan
