"""`chexpertnet predict` on radiographs stored deeper than 8 bits: a 16-bit PNG (v x 257), 12-bit data in a 16-bit
PNG, and DICOM with a rescale and a window, MONOCHROME2 and MONOCHROME1, uncompressed and in two compressed transfer
syntaxes (RLE Lossless, JPEG 2000 Lossless), all built with Pillow and pydicom from the 8-bit originals. The
radiographs are the phantom's (the synthetic CheXpert of the shared tiny run, with the model it trained): there are
no real CheXpert images here. Then your own labelled images end to end: DICOM files in CheXpert's layout and a labels
CSV, predicted with --root and scored with `chexpertnet score`.

The 8-bit original each copy is compared with is the phantom JPEG's decoded pixels saved as an 8-bit PNG, which
takes the same resize as the copies. The JPEG itself is resized differently: libjpeg's draft mode decodes it at 1/8
scale before the resize to the tiny run's 40 px (the cache's fast path), which moves this tiny model's probabilities
by up to about 0.2 whatever the bit depth (printed, not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydicom.uid import JPEG2000Lossless, RLELossless

from chexpertnet.data.images import read_gray
from chexpertnet.observations import OBSERVATIONS
from conftest import REPO
from image_copies import dicom, png12, png16, read_8bit

pytestmark = pytest.mark.integration

COPIES = {
    "png8": lambda pixels, file: save_png8(pixels, file.with_suffix(".png")),
    "png16": lambda pixels, file: png16(pixels, file.with_suffix(".png")),
    "png12": lambda pixels, file: png12(pixels, file.with_suffix(".png")),
    "dicom_m2": lambda pixels, file: dicom(pixels, file.with_suffix(".dcm")),
    "dicom_m1_rle": lambda pixels, file: dicom(pixels, file.with_suffix(".dcm"), True, RLELossless),
    "dicom_m2_j2k": lambda pixels, file: dicom(pixels, file.with_suffix(".dcm"), False, JPEG2000Lossless),
    "dicom_m1_nowindow": lambda pixels, file: dicom(pixels, file.with_suffix(".dcm"), True, window=False),
}


def save_png8(pixels: np.ndarray, file: Path) -> Path:
    Image.fromarray(pixels).save(file, format="PNG")
    return file


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.run([sys.executable, "-m", "chexpertnet", *args], capture_output=True, text=True, env=env)


def test_deep_pngs_and_dicoms_predict_as_their_8bit_originals(tiny_run, tmp_path):
    """Each copy decodes to its 8-bit original within one grey level, and the model's 14 probabilities agree with
    the original's within 0.02 (the figures are printed: pytest -s)."""
    results = tiny_run / "results/phantom"
    originals = sorted((results / "data/CheXpert-v1.0-small/valid").rglob("*.jpg"))[:4]
    folder = tmp_path / "xrays"
    for kind, make in COPIES.items():
        (folder / kind).mkdir(parents=True)
        for i, original in enumerate(originals):
            pixels = read_8bit(original)
            copy = make(pixels, folder / kind / f"image{i}")
            assert np.abs(read_gray(copy).astype(int) - pixels).max() <= 1, copy
    out = tmp_path / "p.csv"
    proc = run("predict", "--images", *map(str, originals), str(folder), "--results", str(results), "--experiment",
               "baseline", "--seed", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, dtype={"Path": str}).set_index("Path")[list(OBSERVATIONS)]
    assert len(table) == len(originals) * (1 + len(COPIES))
    expected = table.loc[[str(folder / "png8" / f"image{i}.png") for i in range(len(originals))]].to_numpy()
    jpeg = np.abs(table.loc[list(map(str, originals))].to_numpy() - expected).max()
    print(f"the phantom's JPEGs (draft-mode decoding) against their 8-bit PNG copies: max |delta p| = {jpeg:.2e}")
    for kind in [kind for kind in COPIES if kind != "png8"]:
        rows = [p for p in table.index if Path(p).parent.name == kind]
        assert [Path(p).stem for p in rows] == [f"image{i}" for i in range(len(originals))]
        difference = np.abs(table.loc[rows].to_numpy() - expected).max()
        print(f"{kind}: max |delta p| = {difference:.2e} over {len(rows)} images x 14 observations")
        assert difference <= 0.02, kind


def labelled_copies(data: Path, root: Path, suffix: str, make) -> Path:
    """The phantom's validation images as ``make`` writes them, under ``root`` in CheXpert's layout with ``suffix``,
    and valid.csv listing them with the phantom's labels; returns the CSV."""
    labels = pd.read_csv(data / "CheXpert-v1.0-small/valid.csv", dtype=str, keep_default_na=False)
    paths = [Path(p).with_suffix(suffix).as_posix() for p in labels["Path"]]
    for original, path in zip(labels["Path"], paths, strict=True):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        make(read_8bit(data / original), root / path)
    labels.assign(Path=paths).to_csv(root / "CheXpert-v1.0-small/valid.csv", index=False)
    return root / "CheXpert-v1.0-small/valid.csv"


def test_your_own_labelled_dicoms_end_to_end(tiny_run, tmp_path):
    """The phantom's validation images as DICOM (MONOCHROME1, RLE) in CheXpert's layout with a labels CSV that lists
    the .dcm files: predict --root writes the CSV's paths, and `chexpertnet score` joins them to the labels and gives
    the AUCs of the same images as 8-bit PNGs."""
    results = tiny_run / "results/phantom"
    model = results / "models/baseline/seed0/model.pt"
    trees = {"dicom": (".dcm", lambda pixels, file: dicom(pixels, file, True, RLELossless)),
             "png8": (".png", save_png8)}
    aucs = {}
    for name, (suffix, make) in trees.items():
        mine = tmp_path / name
        labels = labelled_copies(results / "data", mine, suffix, make)
        (mine / "CheXpert-v1.0-small/valid/README.txt").write_text("not an image")  # named, the rest predicted
        predicted = tmp_path / f"{name}-scores/p.csv"  # a folder that does not exist yet: created
        proc = run("predict", "--images", str(mine / "CheXpert-v1.0-small/valid"), "--root", str(mine), "--model",
                   str(model), "--out", str(predicted))  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "1 file(s) are not of a kind predict reads" in proc.stderr and "README.txt" in proc.stderr
        assert f"warning: {model} was trained on the phantom dataset 'phantom'" in proc.stderr
        paths = pd.read_csv(predicted, dtype={"Path": str})["Path"]
        assert sorted(paths) == sorted(pd.read_csv(labels, dtype=str)["Path"])
        out = tmp_path / f"{name}-scores/auc.csv"
        proc = run("score", "--predictions", str(predicted), "--labels", str(labels), "--resamples", "50", "--out",
                   str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        aucs[name] = pd.read_csv(out).set_index("observation")["auc"]
    assert aucs["dicom"].notna().sum() >= 3  # the tiny run's validation set has both classes for several
    difference = (aucs["dicom"] - aucs["png8"]).abs().max()
    print(f"score: max |delta AUC| between the DICOM and the 8-bit PNG copies = {difference:.2e}")
    assert difference <= 0.02
