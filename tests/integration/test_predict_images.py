"""`chexpertnet predict --images`: a trained model on any folder of chest X-rays, no labels, the same preprocessing
as training. Checked against the workflow's own predictions for the same images (the shared tiny run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from chexpertnet.observations import OBSERVATIONS
from conftest import REPO

pytestmark = pytest.mark.integration


def predict(*args: str) -> subprocess.CompletedProcess:
    # this process's environment (the numeric path's variables included: the workflow's predictions were made on it)
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.run([sys.executable, "-m", "chexpertnet", "predict", *args], capture_output=True, text=True,
                          env=env)  # fmt: skip


def workflow_predictions(results: Path) -> pd.DataFrame:
    frame = pd.read_csv(results / "predictions/baseline/seed0.csv", dtype={"Path": str})
    return frame.set_index("Path")[list(OBSERVATIONS)]


def test_a_folder_of_images_gets_the_workflows_predictions(tiny_run, tmp_path):
    results = tiny_run / "results/phantom"
    data = results / "data"
    out = tmp_path / "p.csv"
    proc = predict("--images", str(data / "CheXpert-v1.0-small/valid"), "--results", str(results), "--experiment",
                   "baseline", "--seed", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours = pd.read_csv(out, dtype={"Path": str})
    ours["Path"] = [str(Path(p).relative_to(data)) for p in ours["Path"]]
    expected = workflow_predictions(results)
    assert sorted(ours["Path"]) == sorted(expected.index)  # every validation image, nothing else
    difference = np.abs(ours.set_index("Path").loc[expected.index, list(OBSERVATIONS)].to_numpy() - expected.to_numpy())
    assert difference.max() <= 1e-6


def test_unreadable_files_are_named_and_the_others_still_predicted(tiny_run, tmp_path):
    results = tiny_run / "results/phantom"
    expected = workflow_predictions(results)
    folder = tmp_path / "xrays"
    folder.mkdir()
    chosen = list(expected.index[:2])
    for i, path in enumerate(chosen):
        shutil.copy(results / "data" / path, folder / f"image{i}{Path(path).suffix}")
    (folder / "notes.jpg").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    out, cams = tmp_path / "p.csv", tmp_path / "cams"
    proc = predict("--images", str(folder), "--model", str(results / "models/baseline/seed0/model.pt"), "--cam",
                   "Pleural Effusion", "Cardiomegaly", "--cam-out", str(cams), "--out", str(out))  # fmt: skip
    assert proc.returncode == 2
    assert "2 file(s) could not be read as images" in proc.stderr
    assert f"{folder / 'notes.jpg'} (UnidentifiedImageError" in proc.stderr and str(folder / "empty.png") in proc.stderr
    ours = pd.read_csv(out, dtype={"Path": str}).set_index("Path")
    assert list(ours.index) == [str(folder / "image0.jpg"), str(folder / "image1.jpg")]
    assert np.abs(ours.to_numpy() - expected.loc[chosen].to_numpy()).max() <= 1e-6
    pictures = sorted(p.name for p in cams.iterdir())
    assert len(pictures) == 4 and all(p.endswith(("__Pleural_Effusion.png", "__Cardiomegaly.png")) for p in pictures)
    crop = torch.load(results / "models/baseline/seed0/model.pt", weights_only=True)["config"]["crop_size"]
    with Image.open(cams / pictures[0]) as picture:
        assert picture.size == (crop, crop) and picture.mode == "RGB"


def test_a_model_that_does_not_say_its_image_size_asks_for_resize(tiny_run, tmp_path):
    results = tiny_run / "results/phantom"
    checkpoint = torch.load(results / "models/baseline/seed0/model.pt", weights_only=True)
    size = checkpoint.pop("image_size")
    torch.save(checkpoint, tmp_path / "old.pt")
    image = next((results / "data/CheXpert-v1.0-small/valid").rglob("*.jpg"))
    proc = predict("--images", str(image), "--model", str(tmp_path / "old.pt"), "--out", str(tmp_path / "p.csv"))
    assert proc.returncode == 2 and "give --resize (the run's image.cache_size)" in proc.stderr
    assert not (tmp_path / "p.csv").exists()
    proc = predict("--images", str(image), "--model", str(tmp_path / "old.pt"), "--resize", str(size), "--out",
                   str(tmp_path / "p.csv"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
