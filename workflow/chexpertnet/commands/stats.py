"""chexpertnet stats: exact mean and std of the training images."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 50  # position in `chexpertnet --help`
HELP = "exact mean and std of the training images, from the cache, weighted as the manifest lists them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-array", required=True)
    p.add_argument("--cache-index", required=True)
    p.add_argument("--manifest", required=True, help="images are counted as often as the manifest lists them")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="statistics JSON")


def run(args: argparse.Namespace) -> None:
    from collections import Counter

    import pandas as pd

    from chexpertnet import __version__
    from chexpertnet.cache import open_cache, rows_for
    from chexpertnet.fileio import sha256_file, write_json
    from chexpertnet.stats import histogram_moments, image_histograms, weighted_histogram

    manifest = pd.read_csv(args.manifest, usecols=["Path"], dtype=str)
    array, lookup = open_cache(args.cache_array, args.cache_index)
    counts = Counter(manifest["Path"])
    paths = sorted(counts)
    rows = rows_for(paths, lookup, args.manifest)
    histogram = weighted_histogram(image_histograms(array, rows, threads=args.threads), [counts[p] for p in paths])
    mean, std = histogram_moments(histogram)
    report = {
        "mean": mean,
        "std": std,
        "images": len(manifest),
        "unique_images": len(paths),
        "pixels": int(histogram.sum()),
        "image_size": list(array.shape[1:]),
        "histogram": [int(c) for c in histogram],
        "manifest": str(args.manifest),
        "manifest_sha256": sha256_file(args.manifest),
        "version": __version__,
    }
    write_json(args.out, report)
    print(json.dumps({k: report[k] for k in ("mean", "std", "images", "unique_images")}), file=sys.stderr)
