"""`chexpertnet predict` on bad inputs: a model file that is missing, not a model or a bare state dict; files that
are not images or not of a kind it reads; --out into a missing path; --root that does not hold the images. Each is
refused with exit status 2 and a message naming the file, and leaves nothing behind. The model here is an untrained
CheXpertNet checkpoint (what is checked is the command's handling of its inputs, not the predictions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from chexpertnet.errors import DataError
from chexpertnet.train.checkpoint import load_model, save_checkpoint
from chexpertnet.train.loop import TrainConfig
from chexpertnet.train.model import CheXpertNet
from conftest import REPO

SIZE, CROP = 40, 32


def predict(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.run([sys.executable, "-m", "chexpertnet", "predict", *args], capture_output=True, text=True,
                          env=env)  # fmt: skip


def write_model(file: Path, **extra) -> Path:
    torch.manual_seed(0)
    model = CheXpertNet()
    config = TrainConfig(experiment="baseline", seed=0, crop_size=CROP, fast=False)
    save_checkpoint(file, model, torch.optim.Adam(model.parameters()), config, 1, 1, image_size=SIZE, **extra)
    return file


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "model.pt")


def xray(file: Path, seed: int = 0) -> Path:
    """An 8-bit PNG (whatever the file's suffix)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (60, 50), dtype=np.uint8)).save(file, format="PNG")
    return file


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- the model file ------------------------------------------------------------------------------------------------


def test_model_files_that_are_not_models_are_named_with_what_they_are(tmp_path):
    (tmp_path / "notes.pt").write_text("hello, not a model\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    xray(tmp_path / "image.pt")
    torch.save(CheXpertNet().state_dict(), tmp_path / "bare.pt")
    torch.save({"model": CheXpertNet().state_dict(), "epoch": 3}, tmp_path / "other.pt")
    (tmp_path / "folder.pt").mkdir()
    written = "chexpertnet model written by `chexpertnet train`"
    expected = {
        "missing.pt": "missing.pt not found",
        "notes.pt": f"notes.pt is not a {written}: it is a text file beginning 'hello, not a model'",
        "empty.pt": f"empty.pt is not a {written}: it is an empty file",
        "image.pt": f"image.pt is not a {written}: it is a PNG image",
        "bare.pt": "bare.pt holds a bare state dict (729 tensors, e.g. 'mean'), not a chexpertnet checkpoint written "
                   "by `chexpertnet train`",
        "other.pt": "other.pt is not a chexpertnet checkpoint written by `chexpertnet train` (missing ['arch',",
        "folder.pt": f"folder.pt is a folder, not a {written}",
    }  # fmt: skip
    for name, message in expected.items():
        with pytest.raises(DataError) as caught:
            load_model(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name)) and message in str(caught.value), name


def test_predict_refuses_a_bare_state_dict_and_a_missing_model_writing_nothing(tmp_path):
    torch.save(CheXpertNet().state_dict(), tmp_path / "weights.pt")
    image, out = xray(tmp_path / "x.png"), tmp_path / "out/p.csv"
    for model, message in ((tmp_path / "weights.pt", "holds a bare state dict"), (tmp_path / "nope.pt", "not found")):
        proc = predict("--images", str(image), "--model", str(model), "--out", str(out))
        assert proc.returncode == 2, proc.stderr
        assert f"chexpertnet predict: error: {model} {message}" in proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


# --- the images ----------------------------------------------------------------------------------------------------


def test_files_of_other_kinds_are_named_and_the_images_still_predicted(tmp_path, model):
    folder = tmp_path / "xrays"
    xray(folder / "a.png")
    xray(folder / "sub/b.jpg", seed=1)
    (folder / "scan.tif").write_bytes((folder / "a.png").read_bytes())
    (folder / "notes.txt").write_text("patient notes")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / ".hidden").mkdir()
    xray(folder / ".hidden/c.png")
    out = tmp_path / "p.csv"
    proc = predict("--images", str(folder), "--model", str(model), "--out", str(out))
    assert proc.returncode == 2
    assert (f"2 file(s) were left out of {out} (the other 2 were predicted): 2 file(s) are not of a kind predict "
            f"reads (.jpg, .jpeg, .png, .dcm): {folder / 'notes.txt'}; {folder / 'scan.tif'}") in proc.stderr
    assert ".DS_Store" not in proc.stderr and "c.png" not in proc.stderr
    assert pd.read_csv(out)["Path"].tolist() == [str(folder / "a.png"), str(folder / "sub/b.jpg")]


def test_a_folder_without_an_image_of_a_kind_read_writes_nothing(tmp_path, model):
    folder = tmp_path / "xrays"
    folder.mkdir()
    (folder / "scan.tif").write_bytes(b"II*\0")
    out = tmp_path / "p.csv"
    proc = predict("--images", str(folder), "--model", str(model), "--out", str(out))
    assert proc.returncode == 2
    assert (f"--images: no .jpg, .jpeg, .png, .dcm file in {folder} (only {folder / 'scan.tif'}); nothing was "
            f"written") in proc.stderr
    assert not out.exists()


def test_when_no_file_can_be_read_nothing_is_written(tmp_path, model):
    folder = tmp_path / "xrays"
    folder.mkdir()
    (folder / "notes.jpg").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.dcm").write_text("not a DICOM file")
    out, cams = tmp_path / "new/p.csv", tmp_path / "cams"
    proc = predict("--images", str(folder), "--model", str(model), "--out", str(out), "--cam", "Cardiomegaly",
                   "--cam-out", str(cams))  # fmt: skip
    assert proc.returncode == 2
    assert f"none of the 3 image file(s) could be read, so nothing was written to {out}" in proc.stderr
    assert f"{folder / 'text.dcm'} (UnreadableImage: not a DICOM image pydicom can decode" in proc.stderr
    assert f"{folder / 'notes.jpg'} (UnidentifiedImageError" in proc.stderr
    assert tree(tmp_path) == ["xrays", "xrays/empty.png", "xrays/notes.jpg", "xrays/text.dcm"]


# --- where the output goes -----------------------------------------------------------------------------------------


def test_out_may_create_its_own_folder_but_never_a_path_tree(tmp_path, model):
    image = xray(tmp_path / "x.png")
    deep = tmp_path / "a/b/p.csv"
    proc = predict("--images", str(image), "--model", str(model), "--out", str(deep))
    assert proc.returncode == 2
    assert (f"--out {deep}: neither {tmp_path / 'a/b'} nor {tmp_path / 'a'} exists; predict creates at most one new "
            f"folder") in proc.stderr
    cams = tmp_path / "c/d"
    proc = predict("--images", str(image), "--model", str(model), "--out", str(tmp_path / "p.csv"), "--cam",
                   "Edema", "--cam-out", str(cams))  # fmt: skip
    assert proc.returncode == 2 and f"--cam-out {cams}: neither" in proc.stderr
    assert tree(tmp_path) == ["x.png"]
    proc = predict("--images", str(image), "--model", str(model), "--out", str(tmp_path / "a/p.csv"))
    assert proc.returncode == 0, proc.stderr
    assert tree(tmp_path) == ["a", "a/p.csv", "x.png"]
    proc = predict("--images", str(image), "--model", str(model), "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and f"--out {tmp_path / 'a'} is a folder: give the CSV file" in proc.stderr


def test_root_writes_paths_relative_to_it_and_refuses_images_outside(tmp_path, model):
    root = tmp_path / "mine"
    first = xray(root / "CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.png")
    second = xray(root / "CheXpert-v1.0-small/valid/patient00002/study1/view1_frontal.png", seed=1)
    out = tmp_path / "p.csv"
    proc = predict("--images", str(root / "CheXpert-v1.0-small/valid"), "--root", str(root), "--model", str(model),
                   "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(out)["Path"].tolist() == [
        "CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.png",
        "CheXpert-v1.0-small/valid/patient00002/study1/view1_frontal.png",
    ]
    out.unlink()
    outside = xray(tmp_path / "elsewhere/x.png")
    proc = predict("--images", str(first), str(outside), "--root", str(root), "--model", str(model), "--out",
                   str(out))  # fmt: skip
    assert proc.returncode == 2
    assert f"--root {root}: 1 image(s) are not under it: {outside}; give the folder that holds every image" in (
        proc.stderr)
    assert not out.exists()
    proc = predict("--images", str(second), "--root", str(tmp_path / "nope"), "--model", str(model), "--out",
                   str(out))  # fmt: skip
    assert proc.returncode == 2 and f"--root {tmp_path / 'nope'} is not a folder; nothing was written" in proc.stderr
    assert not out.exists()


# --- the dataset a model was trained on ----------------------------------------------------------------------------


def test_a_phantom_trained_model_warns_naming_its_dataset(tmp_path):
    image = xray(tmp_path / "x.png")
    phantom = write_model(tmp_path / "phantom.pt", dataset={"name": "phantom", "source": "phantom"})
    real = write_model(tmp_path / "real.pt", dataset={"name": "chexpert", "source": "chexpert"})
    proc = predict("--images", str(image), "--model", str(phantom), "--out", str(tmp_path / "p.csv"))
    assert proc.returncode == 0, proc.stderr
    assert (f"warning: {phantom} was trained on the phantom dataset 'phantom', synthetic images drawn by "
            f"`chexpertnet phantom`") in proc.stderr
    assert "nothing for real chest X-rays" in proc.stderr
    proc = predict("--images", str(image), "--model", str(real), "--out", str(tmp_path / "p.csv"))
    assert proc.returncode == 0 and "warning" not in proc.stderr


def test_a_model_without_the_record_in_a_phantom_runs_results_is_the_phantoms(tmp_path):
    from chexpertnet.commands.predict import trained_on
    from chexpertnet.phantom.write import TRUTH_FILE
    from chexpertnet.plan.layout import TEMPLATES

    assert TEMPLATES["phantom_truth"] == f"data/{TRUTH_FILE}"  # the layout's path is the phantom's own file

    results = tmp_path / "results/demo"
    file = results / "models/baseline/seed0/model.pt"
    assert trained_on({}, str(file)) is None
    (results / "data").mkdir(parents=True)
    (results / "data/phantom_truth.csv").write_text("Path\n")
    assert trained_on({}, str(file)) == {"name": "demo", "source": "phantom"}
    assert trained_on({"dataset": {"name": "x", "source": "chexpert"}}, str(file))["source"] == "chexpert"


def test_train_records_the_dataset_it_is_told_in_model_pt():
    from chexpertnet.cli import build_parser
    from chexpertnet.commands.train import dataset_record

    required = ["--experiment", "e", "--seed", "0", "--train-manifest", "m", "--train-weights", "w", "--valid-manifest",
                "v", "--train-cache", "a", "b", "--valid-cache", "c", "d", "--init", "scratch", "--normalization",
                "imagenet", "--crop-size", "32", "--state-dir", "s", "--out-model", "o", "--out-history", "h",
                "--out-config", "j", "--out-throughput", "t"]  # fmt: skip
    args = build_parser().parse_args(["train", *required])
    assert dataset_record(args) == {}
    args = build_parser().parse_args(["train", *required, "--dataset", "phantom", "--dataset-source", "phantom"])
    assert dataset_record(args) == {"dataset": {"name": "phantom", "source": "phantom"}}
