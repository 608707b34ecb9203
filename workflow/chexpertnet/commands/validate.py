"""chexpertnet validate: check a CheXpert dataset and write a validation report."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 20  # position in `chexpertnet --help`
HELP = "check a CheXpert dataset (CSVs and images); write a report only if everything passes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="folder that contains CheXpert-v1.0-small/ (default: the CSVs' grandparent)")
    p.add_argument("--train-csv", required=True)
    p.add_argument("--valid-csv", required=True)
    p.add_argument("--threads", type=int, default=1, help="threads checking that the images exist and decode")
    p.add_argument("--out", required=True, help="validation report (JSON)")
    p.add_argument("--out-view", help="folder for the validated view: copies of the CSVs and links to the image "
                   "folders (chexpertnet.data.dataview); what the workflow's later steps read")  # fmt: skip
    p.add_argument("--folder", default="CheXpert-v1.0-small", help="the view's dataset folder name")


def run(args: argparse.Namespace) -> None:
    from chexpertnet import __version__
    from chexpertnet.data.chexpert import default_root, validate_dataset
    from chexpertnet.fileio import sha256_file, write_json

    csvs = {"train": args.train_csv, "valid": args.valid_csv}
    root = args.root or default_root(args.train_csv)
    summary = validate_dataset(root, csvs, threads=args.threads, folder=args.folder)
    if args.out_view:
        from chexpertnet.data.chexpert import read_csv
        from chexpertnet.data.dataview import write_view

        paths = {split: read_csv(csv, columns=["Path"])["Path"].tolist() for split, csv in csvs.items()}
        write_view(root, csvs, paths, args.out_view, args.folder)
    report = {
        "version": __version__,
        "splits": summary,
        "csv_sha256": {split: sha256_file(path) for split, path in csvs.items()},
    }
    write_json(args.out, report)
    print(json.dumps(report, sort_keys=True), file=sys.stderr)
