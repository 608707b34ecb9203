"""chexpertnet stats: exact mean and std of the training images."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 50  # position in `chexpertnet --help`
HELP = "exact mean and std of the training images, from the cache's histograms, weighted as the manifest lists them"

WINDOW_ROWS = 16384  # histogram rows read at a time (16 MB as int32, 32 MB while summed as int64)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-histograms", required=True,
                   help="the cache's per-image histograms (<split>.histograms.npy, written by chexpertnet cache)")
    p.add_argument("--cache-index", required=True)
    p.add_argument("--manifest", required=True, help="images are counted as often as the manifest lists them")
    p.add_argument("--out", required=True, help="statistics JSON")


def run(args: argparse.Namespace) -> None:
    import math

    import numpy as np
    import pandas as pd

    from chexpertnet import __version__
    from chexpertnet.data.cache import npy_shape, read_index, read_npy_rows, rows_for
    from chexpertnet.data.stats import BINS, histogram_moments, weighted_histogram
    from chexpertnet.fileio import sha256_file, write_json

    manifest = pd.read_csv(args.manifest, usecols=["Path"], dtype=str)
    index = read_index(args.cache_index)
    shape = npy_shape(args.cache_histograms)
    if shape != (len(index), BINS):
        raise ValueError(
            f"{args.cache_histograms} holds histograms of shape {shape}, but {args.cache_index} lists {len(index)} "
            f"images (expected ({len(index)}, {BINS})): the two files come from different cache runs; delete the "
            f"cache's files and rerun the cache step"
        )
    rows = rows_for(manifest["Path"].tolist(), dict(zip(index["Path"], index["row"], strict=True)), args.manifest)
    multiplicity = np.bincount(rows, minlength=len(index))
    histogram = np.zeros(BINS, dtype=np.int64)
    pixels_per_image = set()
    for start, block in read_npy_rows(args.cache_histograms, WINDOW_ROWS):
        histogram += weighted_histogram(block, multiplicity[start : start + len(block)])
        pixels_per_image.update(np.unique(block.sum(axis=1, dtype=np.int64)).tolist())
    side = math.isqrt(min(pixels_per_image)) if pixels_per_image else 0
    if pixels_per_image != {side * side}:
        raise ValueError(f"{args.cache_histograms}: the images do not all have size x size pixels (pixel counts "
                         f"{sorted(pixels_per_image)[:5]}): rerun the cache step")  # fmt: skip
    mean, std = histogram_moments(histogram)
    report = {
        "mean": mean,
        "std": std,
        "images": len(manifest),
        "unique_images": int((multiplicity > 0).sum()),
        "pixels": int(histogram.sum()),
        "image_size": [side, side],
        "histogram": [int(c) for c in histogram],
        "manifest": str(args.manifest),
        "manifest_sha256": sha256_file(args.manifest),
        "version": __version__,
    }
    write_json(args.out, report)
    print(json.dumps({k: report[k] for k in ("mean", "std", "images", "unique_images")}), file=sys.stderr)
