"""A damaged cache is caught, not trained on: every row a job reads is checked against the BLAKE2b digest the cache
step recorded in the index (the training, the prediction and the CAM step)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chexpertnet.data.cache as cache_module
from chexpertnet.data.cache import DamagedCache, build_cache, open_cache
from chexpertnet.train.loop import Split, TrainConfig, train
from conftest import REPO


@pytest.fixture
def cache(dataset, tmp_path) -> tuple[Path, Path, list[str]]:
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 40, tmp_path / "c.npy", tmp_path / "c.csv", progress=False)
    return tmp_path / "c.npy", tmp_path / "c.csv", paths


def flip_bytes(array_file: Path, row: int, count: int = 64) -> None:
    """Flip ``count`` bytes in the middle of one row, on disk, as a damaged disk or copy would."""
    shape = np.load(array_file, mmap_mode="r").shape
    row_bytes = int(np.prod(shape[1:]))
    header = array_file.stat().st_size - shape[0] * row_bytes
    with open(array_file, "r+b") as f:
        f.seek(header + row * row_bytes + row_bytes // 2 - count // 2)
        data = bytearray(f.read(count))
        f.seek(header + row * row_bytes + row_bytes // 2 - count // 2)
        f.write(bytes(b ^ 0xFF for b in data))


def test_a_flipped_byte_is_named_by_file_row_and_image_with_the_fix(cache):
    array_file, index_file, paths = cache
    flip_bytes(array_file, 5)
    _, _, check = open_cache(array_file, index_file)
    check(np.array([0, 1, 4, 6]))  # the rows around it are intact
    with pytest.raises(DamagedCache, match=rf"c\.npy row 5 \({paths[5]}\) does not match its digest in .*c\.csv.*"
                                           r"Delete .*c\.npy and .*c\.csv and rerun"):  # fmt: skip
        check(np.array([7, 5, 2]))


def test_each_row_is_hashed_once_per_job(cache, monkeypatch):
    array_file, index_file, paths = cache
    hashed = []
    real = cache_module.row_digest
    monkeypatch.setattr(cache_module, "row_digest", lambda row: hashed.append(1) or real(row))
    _, _, check = open_cache(array_file, index_file)
    for _ in range(3):  # three epochs over every row, in batches with repeats
        check(np.array([0, 1, 1, 2]))
        check(np.arange(len(paths)))
    assert len(hashed) == len(paths)


def test_an_index_without_digests_checks_nothing(cache, tmp_path):
    array_file, index_file, _ = cache
    pd.read_csv(index_file)[["row", "Path"]].to_csv(tmp_path / "old.csv", index=False)
    flip_bytes(array_file, 2)
    _, _, check = open_cache(array_file, tmp_path / "old.csv")
    check(np.arange(3))  # an older cache: nothing to check against (its fingerprint hashes the whole array)


def test_the_training_stops_at_the_first_damaged_batch(cache, tmp_path):
    array_file, index_file, paths = cache
    flip_bytes(array_file, len(paths) - 1)
    array, _, check = open_cache(array_file, index_file)
    n = len(paths)
    classes = np.tile(np.arange(n)[:, None] % 2, (1, 14))
    split = Split(array=array, rows=np.arange(n), classes=classes, mask=np.ones((n, 14), np.float32), check=check)
    config = TrainConfig(experiment="tiny", seed=0, init="scratch", crop_size=32, batch_size=2, epochs=1, threads=1)
    with pytest.raises(DamagedCache, match=rf"row {n - 1} "):
        train(config, split, split, np.ones((14, 3)), tmp_path / "state", log=lambda r: None)


def test_prediction_on_a_damaged_cache_stops_and_writes_nothing(cache, tmp_path):
    from chexpertnet.train.checkpoint import save_checkpoint
    from chexpertnet.train.model import CheXpertNet

    array_file, index_file, paths = cache
    model = CheXpertNet()
    config = TrainConfig(experiment="tiny", seed=0, crop_size=32)
    save_checkpoint(tmp_path / "model.pt", model, __import__("torch").optim.Adam(model.parameters()), config, 0, 0)
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"Path": paths, "patient": "p", "study": "s", "view": "frontal"}).to_csv(manifest, index=False)
    flip_bytes(array_file, 3)
    out = tmp_path / "predictions.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "chexpertnet", "predict", "--model", str(tmp_path / "model.pt"), "--manifest",
         str(manifest), "--cache", str(array_file), str(index_file), "--out", str(out)],
        env={"PYTHONPATH": str(REPO / "workflow"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"c.npy row 3 ({paths[3]}) does not match its digest" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".predictions.csv*"))
