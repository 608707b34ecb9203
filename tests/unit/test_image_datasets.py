"""A dataset whose CSVs list 16-bit PNG and DICOM files in CheXpert's layout: the workflow's validation accepts and
decodes them (pydicom for .dcm, naming a broken one) and the cache stores each at the 8-bit levels of its original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydicom.uid import RLELossless

from chexpertnet.cli import main
from chexpertnet.data.cache import build_cache, load_resized, read_index
from chexpertnet.data.chexpert import parse_path
from image_copies import dicom, png16, read_8bit


def convert(root: Path, csvs: dict[str, Path]) -> dict[str, Path]:
    """Every other image of each split becomes a DICOM (MONOCHROME1, RLE) or a 16-bit PNG, and the CSVs say so;
    {new path: the 8-bit original}."""
    originals = {}
    for csv in csvs.values():
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        paths = []
        for i, path in enumerate(frame["Path"]):
            if i % 2:
                suffix = ".dcm" if i % 4 == 1 else ".png"
                new = str(Path(path).with_suffix(suffix).as_posix())
                pixels = read_8bit(root / path)
                (dicom(pixels, root / new, True, RLELossless) if suffix == ".dcm" else png16(pixels, root / new))
                originals[new] = root / path
                path = new
            paths.append(path)
        frame.assign(Path=paths).to_csv(csv, index=False, lineterminator="\n")
    return originals


def test_png_and_dcm_paths_follow_the_chexpert_layout():
    assert parse_path("CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.dcm").view == "frontal"
    assert parse_path("CheXpert-v1.0/train/patient00002/study3/view2_lateral.png").view == "lateral"


def test_a_dataset_of_dicoms_and_16bit_pngs_is_validated_and_cached_at_the_originals_levels(dataset, tmp_path):
    root, csvs = dataset
    originals = convert(root, csvs)
    assert {Path(p).suffix for p in originals} == {".dcm", ".png"}
    args = ["validate", "--root", str(root), "--train-csv", str(csvs["train"]), "--valid-csv", str(csvs["valid"])]
    assert main([*args, "--out", str(tmp_path / "validation.json")]) == 0
    paths = pd.read_csv(csvs["train"], dtype=str)["Path"].tolist()
    build_cache(root, paths, 32, tmp_path / "train.npy", tmp_path / "train.index.csv", progress=False)
    array, index = np.load(tmp_path / "train.npy"), read_index(tmp_path / "train.index.csv")
    for row, path in zip(index["row"], index["Path"], strict=True):
        expected = load_resized(originals.get(path, root / path), 32)
        assert np.abs(array[row].astype(int) - expected).max() <= 1, path


def test_a_broken_dicom_is_named_by_the_validation(dataset, tmp_path, capsys):
    root, csvs = dataset
    originals = convert(root, csvs)
    broken = next(p for p in originals if p.endswith(".dcm"))
    (root / broken).write_bytes((root / broken).read_bytes()[:400])  # truncated inside the header
    args = ["validate", "--root", str(root), "--train-csv", str(csvs["train"]), "--valid-csv", str(csvs["valid"])]
    assert main([*args, "--out", str(tmp_path / "validation.json")]) == 2
    err = capsys.readouterr().err
    assert "1 image(s) cannot be decoded" in err and f"{broken} (UnreadableImage: a DICOM file without an image" in err
    assert not (tmp_path / "validation.json").exists()
