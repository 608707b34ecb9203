"""The image cache and the exact dataset statistics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chexpertnet.cache import build_cache, load_resized, open_cache, rows_for
from chexpertnet.cli import main
from chexpertnet.stats import histogram_moments, image_histograms, weighted_histogram


def test_cache_matches_direct_decoding(dataset, tmp_path):
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 32, tmp_path / "c.npy", tmp_path / "c.csv", threads=2, progress=False)
    array, lookup = open_cache(tmp_path / "c.npy", tmp_path / "c.csv")
    assert array.shape == (8, 32, 32) and array.dtype == np.uint8
    for path in paths:
        np.testing.assert_array_equal(array[lookup[path]], load_resized(root / path, 32))
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_draft_mode_on_large_jpeg_matches_size(tmp_path):
    big = np.tile(np.linspace(0, 255, 2320, dtype=np.uint8), (2828, 1))
    Image.fromarray(big, "L").save(tmp_path / "big.jpg", quality=95)
    small = load_resized(tmp_path / "big.jpg", 364)
    assert small.shape == (364, 364)
    # a horizontal ramp stays a ramp (draft scaling + resize keep the geometry)
    assert abs(float(small[:, 0].mean()) - 0) < 8 and abs(float(small[:, -1].mean()) - 255) < 8


def test_cache_failure_leaves_nothing(dataset, tmp_path):
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    (root / paths[3]).write_bytes(b"broken")
    out = tmp_path / "cache"
    with pytest.raises(OSError):
        build_cache(root, paths, 32, out / "c.npy", out / "c.csv", progress=False)
    assert list(out.iterdir()) == []


def test_rows_for_names_missing():
    with pytest.raises(KeyError, match="1 image"):
        rows_for(["a", "b"], {"a": 0}, "m.csv")


def test_exact_statistics_equal_float64():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (40, 23, 19), dtype=np.uint8)
    multiplicity = rng.integers(1, 4, 40)
    hist = weighted_histogram(image_histograms(array, np.arange(40), threads=2, chunk=6), multiplicity)
    mean, std = histogram_moments(hist)
    pixels = np.repeat(array, multiplicity, axis=0).astype(np.float64) / 255.0
    assert mean == pytest.approx(pixels.mean(), rel=1e-14, abs=0)
    assert std == pytest.approx(pixels.std(), rel=1e-12, abs=0)
    assert hist.sum() == multiplicity.sum() * 23 * 19


def test_histogram_moments_known_values():
    hist = np.zeros(256, dtype=np.int64)
    hist[0] = hist[255] = 5
    assert histogram_moments(hist) == (0.5, 0.5)
    with pytest.raises(ValueError, match="empty"):
        histogram_moments(np.zeros(256, dtype=np.int64))


def test_stats_cli_counts_images_as_the_manifest_lists_them(dataset, tmp_path):
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 16, tmp_path / "c.npy", tmp_path / "c.csv", progress=False)
    manifest = tmp_path / "m.csv"
    listed = [paths[0], paths[0], paths[0], paths[2]]
    pd.DataFrame({"Path": listed}).to_csv(manifest, index=False)
    out = tmp_path / "stats.json"
    assert main(["stats", "--cache-array", str(tmp_path / "c.npy"), "--cache-index", str(tmp_path / "c.csv"),
                 "--manifest", str(manifest), "--out", str(out)]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    array, lookup = open_cache(tmp_path / "c.npy", tmp_path / "c.csv")
    pixels = np.stack([array[lookup[p]] for p in listed]).astype(np.float64) / 255
    assert report["images"] == 4 and report["unique_images"] == 2
    assert report["mean"] == pytest.approx(pixels.mean(), rel=1e-14)
    assert report["std"] == pytest.approx(pixels.std(), rel=1e-12)


def test_atomic_outputs_have_normal_permissions(tmp_path):
    import os
    import stat

    from chexpertnet.fileio import write_text

    write_text(tmp_path / "a.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
