"""chexpertnet phantom: generate the built-in synthetic CheXpert."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ORDER = 10  # position in `chexpertnet --help`
HELP = "generate the built-in synthetic CheXpert (a drop-in for CheXpert-v1.0-small)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder to create CheXpert-v1.0-small/ and phantom_truth.csv in")
    p.add_argument("--train-patients", type=int, default=1000)
    p.add_argument("--valid-patients", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-patients", type=int, default=0, help="a test split of this many patients (one study "
                   "each, gold labels), its labels in the CheXpert test set's study-level format "
                   "(test_groundtruth.csv)")  # fmt: skip
    p.add_argument(
        "--height", type=int, default=320, help="a frontal image's height and a lateral one's width (pixels)"
    )
    p.add_argument("--valid-fracture", action="store_true", help="allow Fracture positives in valid")
    p.add_argument("--workers", type=int, default=1, help="processes (the output is identical for any number)")


def run(args: argparse.Namespace) -> None:
    from chexpertnet.phantom import PhantomConfig, generate

    config = PhantomConfig(
        train_patients=args.train_patients,
        valid_patients=args.valid_patients,
        seed=args.seed,
        test_patients=args.test_patients,
        height=args.height,
        valid_fracture=args.valid_fracture,
    )
    start = time.perf_counter()
    summary = generate(Path(args.out), config, workers=args.workers)
    seconds = time.perf_counter() - start
    print(json.dumps({"phantom": summary, "seconds": round(seconds, 2)}, sort_keys=True), file=sys.stderr)
