"""chexpertnet manifest: the images and class labels of one view variant and uncertainty policy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chexpertnet.data.manifest import BLANK_POLICIES, UNCERTAINTY_POLICIES, VIEWS

ORDER = 40  # position in `chexpertnet --help`
HELP = "images and class labels for one view variant and uncertainty policy, with a summary and class weights"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, help="a CheXpert CSV (the split is read from its paths)")
    p.add_argument("--views", choices=VIEWS, required=True)
    p.add_argument("--uncertainty", choices=UNCERTAINTY_POLICIES, default="multiclass", help="what -1.0 becomes")
    p.add_argument("--blank", choices=BLANK_POLICIES, default="negative", help="what a blank label becomes")
    p.add_argument("--seed", type=int, default=0, help="seed of the frontal substitution")
    p.add_argument("--validated", help="validation report that must list this CSV's hash")
    p.add_argument("--out", required=True, help="manifest CSV")
    p.add_argument("--summary", help="summary JSON (default: beside --out, .summary.json)")
    p.add_argument("--weights", help="class counts and weights CSV (default: beside --out, .weights.csv)")


def run(args: argparse.Namespace) -> None:
    from chexpertnet.data.chexpert import read_csv, require_validated
    from chexpertnet.data.manifest import build_manifest, weights_table
    from chexpertnet.fileio import write_csv, write_json

    require_validated(args.validated, args.csv)
    manifest, summary = build_manifest(read_csv(args.csv), args.views, args.uncertainty, args.blank, args.seed)
    out = Path(args.out)
    summary_file = Path(args.summary) if args.summary else out.with_suffix(".summary.json")
    weights_file = Path(args.weights) if args.weights else out.with_suffix(".weights.csv")
    write_csv(weights_file, weights_table(manifest), float_format="%.10g")
    write_json(summary_file, {"source_csv": str(args.csv), **summary})
    write_csv(out, manifest)
    dropped = summary["patients_dropped"]
    if dropped:
        print(f"warning: {len(dropped)} patient(s) without a frontal image were dropped: {dropped[:10]}",
              file=sys.stderr)
    print(json.dumps(summary, sort_keys=True), file=sys.stderr)
