"""chexpertnet cache: decode and resize every image of a split once."""

from __future__ import annotations

import argparse
import json
import sys
import time

ORDER = 30  # position in `chexpertnet --help`
HELP = "decode and resize every image of a split once into a uint8 array"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="folder that contains CheXpert-v1.0-small/ (default: the CSV's grandparent)")
    p.add_argument("--csv", required=True, help="the split's CheXpert CSV")
    p.add_argument("--validated", help="validation report that must list this CSV's hash")
    p.add_argument("--size", type=int, required=True, help="side of the square images (the paper: 364)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-array", required=True, help=".npy file (N, size, size) uint8")
    p.add_argument("--out-index", required=True, help="CSV: row, Path, digest (BLAKE2b of the row's pixels)")
    p.add_argument("--out-histograms",
                   help="each image's 256-bin histogram, .npy (N, 256) int32 (default: beside --out-array, "
                        "<name>.histograms.npy)")  # fmt: skip


def run(args: argparse.Namespace) -> None:
    from chexpertnet.data.cache import build_cache, histogram_file
    from chexpertnet.data.chexpert import default_root, read_csv, require_validated

    require_validated(args.validated, args.csv)
    paths = read_csv(args.csv, columns=["Path"])["Path"].tolist()
    start = time.perf_counter()
    root = args.root or default_root(args.csv)
    histograms = args.out_histograms or histogram_file(args.out_array)
    build_cache(root, paths, args.size, args.out_array, args.out_index, threads=args.threads, out_histograms=histograms)
    seconds = time.perf_counter() - start
    rate = len(paths) / max(seconds, 1e-9)
    print(json.dumps({"images": len(paths), "seconds": round(seconds, 2), "images_per_s": round(rate, 1)}),
          file=sys.stderr)
