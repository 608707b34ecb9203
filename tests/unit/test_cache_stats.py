"""The image cache and the exact dataset statistics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chexpertnet.cli import main
from chexpertnet.data.cache import build_cache, load_resized, open_cache, read_npy_rows, rows_for
from chexpertnet.data.stats import histogram_moments, weighted_histogram


def test_cache_matches_direct_decoding(dataset, tmp_path):
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 32, tmp_path / "c.npy", tmp_path / "c.csv", threads=2, progress=False)
    array, lookup, _ = open_cache(tmp_path / "c.npy", tmp_path / "c.csv")
    assert array.shape == (8, 32, 32) and array.dtype == np.uint8
    for path in paths:  # an independent decode: Pillow's own grayscale and bilinear resize, no code of the cache's
        with Image.open(root / path) as img:
            assert img.size[0] < 64 and img.size[1] < 64  # too small for JPEG draft scaling: a plain full decode
            expected = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(array[lookup[path]], expected)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize(("window_rows", "threads"), [(1, 1), (3, 2), (8, 3), (100, 2)])
def test_cache_in_windows_is_the_npy_of_the_decoded_images(dataset, tmp_path, window_rows, threads):
    """Whatever the window (one row, windows that do not divide the rows, one window for all) and the threads: the
    array file is byte for byte what np.save writes for the images decoded one by one, the histograms are each
    image's pixel counts, the index holds each row's BLAKE2b digest."""
    import hashlib

    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    size = 20
    build_cache(root, paths, size, tmp_path / "c.npy", tmp_path / "c.csv", threads=threads, progress=False,
                out_histograms=tmp_path / "c.histograms.npy", window_bytes=window_rows * size * size)  # fmt: skip
    images = np.stack([load_resized(root / p, size) for p in paths])  # the decoding itself is tested above
    expected = tmp_path / "expected.npy"
    np.save(expected, images)
    assert (tmp_path / "c.npy").read_bytes() == expected.read_bytes()
    histograms = np.load(tmp_path / "c.histograms.npy")
    assert histograms.shape == (8, 256) and histograms.dtype == np.int32
    for image, histogram in zip(images, histograms, strict=True):
        assert all(histogram[v] == (image == v).sum() for v in range(256))
    index = pd.read_csv(tmp_path / "c.csv")
    assert list(index["row"]) == list(range(8)) and list(index["Path"]) == paths
    assert list(index["digest"]) == [hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() for image in images]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_read_npy_rows_reads_every_row_once_in_windows(tmp_path):
    array = np.arange(7 * 3 * 2, dtype=np.int32).reshape(7, 3, 2)
    np.save(tmp_path / "a.npy", array)
    windows = list(read_npy_rows(tmp_path / "a.npy", 3))
    assert [start for start, _ in windows] == [0, 3, 6] and [len(w) for _, w in windows] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([w for _, w in windows]), array)
    (tmp_path / "b.npy").write_bytes((tmp_path / "a.npy").read_bytes()[:-8])
    with pytest.raises(ValueError, match="truncated"):
        list(read_npy_rows(tmp_path / "b.npy", 3))


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
        build_cache(root, paths, 32, out / "c.npy", out / "c.csv", progress=False, out_histograms=out / "h.npy",
                    window_bytes=2 * 32 * 32)  # fmt: skip
    assert list(out.iterdir()) == []


def test_rows_for_names_missing():
    with pytest.raises(KeyError, match="1 image"):
        rows_for(["a", "b"], {"a": 0}, "m.csv")


def test_exact_statistics_equal_float64():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (40, 23, 19), dtype=np.uint8)
    multiplicity = rng.integers(1, 4, 40)
    per_image = np.stack([np.bincount(image.ravel(), minlength=256) for image in array])
    hist = weighted_histogram(per_image, multiplicity)
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


def test_stats_cli_counts_images_as_the_manifest_lists_them(dataset, tmp_path, monkeypatch):
    import chexpertnet.commands.stats as stats_command

    monkeypatch.setattr(stats_command, "WINDOW_ROWS", 3)  # windows that do not divide the 8 rows
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    assert main(["cache", "--csv", str(csvs["train"]), "--size", "16", "--out-array", str(tmp_path / "c.npy"),
                 "--out-index", str(tmp_path / "c.csv")]) == 0  # fmt: skip
    manifest = tmp_path / "m.csv"
    listed = [paths[0], paths[0], paths[0], paths[2], paths[7], paths[4]]
    pd.DataFrame({"Path": listed}).to_csv(manifest, index=False)
    out = tmp_path / "stats.json"
    assert main(["stats", "--cache-histograms", str(tmp_path / "c.histograms.npy"), "--cache-index",
                 str(tmp_path / "c.csv"), "--manifest", str(manifest), "--out", str(out)]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    pixels = np.stack([load_resized(root / p, 16) for p in listed]).astype(np.float64) / 255
    assert report["images"] == 6 and report["unique_images"] == 4 and report["image_size"] == [16, 16]
    assert report["pixels"] == 6 * 16 * 16
    assert report["mean"] == pytest.approx(pixels.mean(), rel=1e-14)
    assert report["std"] == pytest.approx(pixels.std(), rel=1e-12)


def test_stats_cli_refuses_histograms_of_another_cache(dataset, tmp_path):
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 16, tmp_path / "c.npy", tmp_path / "c.csv", progress=False,
                out_histograms=tmp_path / "c.histograms.npy")  # fmt: skip
    build_cache(root, paths[:5], 16, tmp_path / "d.npy", tmp_path / "d.csv", progress=False,
                out_histograms=tmp_path / "d.histograms.npy")  # fmt: skip
    pd.DataFrame({"Path": paths[:2]}).to_csv(tmp_path / "m.csv", index=False)
    message = r"d\.histograms\.npy holds histograms of shape \(5, 256\), but .*c\.csv lists 8 .*rerun the cache step"
    with pytest.raises(ValueError, match=message):
        main(["stats", "--cache-histograms", str(tmp_path / "d.histograms.npy"), "--cache-index",
              str(tmp_path / "c.csv"), "--manifest", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.json")])
    assert not (tmp_path / "s.json").exists()


def test_atomic_outputs_have_normal_permissions(tmp_path):
    import os
    import stat

    from chexpertnet.fileio import write_text

    write_text(tmp_path / "a.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
