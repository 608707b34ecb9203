"""The models learn, and predictions line up with labels: on a tiny CheXpert-format dataset whose findings have a
strong signature, the workflow's trained model reaches a patient-level AUC that a broken label alignment cannot reach
(checked with scikit-learn on the workflow's predictions and the dataset's own labels); predictions follow the
manifest's rows whatever their order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from sklearn.metrics import roc_auc_score

from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS
from conftest import image_path
from workflow_helpers import copy_workflow, real_data_config, snakemake

pytestmark = pytest.mark.integration

# Each finding is a bright disc in its own quadrant of the image: (row, column) of the quadrant
SIGNATURES = {"Cardiomegaly": (0, 0), "Edema": (0, 1), "Pleural Effusion": (1, 0), "Pneumothorax": (1, 1)}
MIN_MEAN_AUC = 0.95


def write_signature_dataset(root: Path, train_patients: int = 160, valid_patients: int = 60, seed: int = 0) -> None:
    """One frontal image per patient, 48 tall x 40 wide; each signature finding positive with probability 1/2."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :40]
    for split, n, first in (("train", train_patients, 1), ("valid", valid_patients, 50001)):
        rows = []
        for i in range(n):
            image = rng.integers(40, 120, (48, 40)).astype(np.uint8)
            positive = {name: bool(rng.random() < 0.5) for name in SIGNATURES}
            for name, (r, c) in SIGNATURES.items():
                if positive[name]:
                    cy, cx = 48 * (0.34 + 0.32 * r) + rng.uniform(-2, 2), 40 * (0.34 + 0.32 * c) + rng.uniform(-2, 2)
                    image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 6.0**2] = 240
            path = image_path(split, first + i, 1, 1, "frontal")
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "L").save(root / path, quality=95)
            labels = [("1.0" if positive[o] else "0.0") if o in SIGNATURES else ("" if split == "train" else "0.0")
                      for o in OBSERVATIONS]  # fmt: skip
            rows.append([path, "Female", "60", "Frontal", "AP", *labels])
        csv = root / "CheXpert-v1.0-small" / f"{split}.csv"
        pd.DataFrame(rows, columns=list(CSV_COLUMNS)).to_csv(csv, index=False, lineterminator="\n")


def test_the_model_learns_a_strong_signature_and_predictions_line_up_with_labels(tmp_path):
    root = tmp_path / "data"
    write_signature_dataset(root)
    workdir = copy_workflow(tmp_path / "wf")
    config = real_data_config("signature", root)
    config["train"].update(epochs=3, lr=1e-3)
    config["image"]["hflip"] = False  # a flip would swap the left and right quadrants' findings
    (workdir / "config/signature.yaml").write_text(yaml.safe_dump(config))
    results = workdir / "results/signature"
    snakemake(workdir, "results/signature/scores/baseline/seed0.csv", "--configfile", "config/signature.yaml")

    predictions = pd.read_csv(results / "predictions/baseline/seed0.csv")
    labels = pd.read_csv(root / "CheXpert-v1.0-small/valid.csv")
    assert len(predictions) == len(labels) == 60
    joined = labels.merge(predictions, on="Path", suffixes=("", " p"), validate="one_to_one")
    aucs = {name: roc_auc_score(joined[name], joined[f"{name} p"]) for name in SIGNATURES}  # one image per patient
    mean = float(np.mean(list(aucs.values())))
    assert mean > MIN_MEAN_AUC, aucs
    # the threshold is out of reach of misaligned labels: the same predictions against shuffled labels
    shuffled = np.random.default_rng(0).permutation(len(joined))
    broken = [roc_auc_score(joined[name].to_numpy()[shuffled], joined[f"{name} p"]) for name in SIGNATURES]
    assert np.mean(broken) < 0.7, broken
    # the workflow's own patient-level scores agree with scikit-learn's
    scores = pd.read_csv(results / "scores/baseline/seed0.csv").set_index("observation")
    for name, auc in aucs.items():
        assert scores.loc[name, "auc"] == pytest.approx(auc, abs=1e-6), name
    assert scores.loc["mean (defined observations)", "auc"] == pytest.approx(mean, abs=1e-6)


def test_predictions_follow_the_manifest_rows_in_any_order(tiny_run, tmp_path):
    results = tiny_run / "results/phantom"
    manifest = pd.read_csv(results / "manifests/both-multiclass/valid.csv", dtype=str, keep_default_na=False)
    shuffled = manifest.sample(frac=1.0, random_state=3)
    assert list(shuffled["Path"]) != list(manifest["Path"])
    shuffled.to_csv(tmp_path / "s.csv", index=False)
    outputs = {}
    env = {**os.environ, "PYTHONPATH": str(tiny_run / "workflow")}
    cache = [str(results / "cache/valid.npy"), str(results / "cache/valid.index.csv")]
    for name, path in (("ordered", results / "manifests/both-multiclass/valid.csv"), ("shuffled", tmp_path / "s.csv")):
        outputs[name] = tmp_path / f"{name}.predictions.csv"
        command = [sys.executable, "-m", "chexpertnet", "predict", "--model",
                   str(results / "models/baseline/seed0/model.pt"), "--manifest", str(path), "--cache", *cache,
                   "--out", str(outputs[name])]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
    ordered, reordered = (pd.read_csv(outputs[k]) for k in ("ordered", "shuffled"))
    assert list(reordered["Path"]) == list(shuffled["Path"]), "rows are not in the manifest's order"
    realigned = reordered.set_index("Path").loc[ordered["Path"]].reset_index()
    pd.testing.assert_frame_equal(realigned[ordered.columns[:4]], ordered[ordered.columns[:4]])
    # equal up to the last digits that batch composition moves (images are batched differently), and a tolerance
    # far below the gap between any two images' predictions, so a row shifted by one could not pass
    values, again = ordered.iloc[:, 4:].to_numpy(), realigned.iloc[:, 4:].to_numpy()
    np.testing.assert_allclose(again, values, rtol=0, atol=1e-6)
    assert np.abs(values[1:] - values[:-1]).max(axis=1).min() > 1e-5
    # and the workflow's own predictions are the ordered ones
    pd.testing.assert_frame_equal(ordered, pd.read_csv(results / "predictions/baseline/seed0.csv"))
