"""chexpertnet score: patient-level ROC-AUC per observation with bootstrap confidence intervals."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 100  # position in `chexpertnet --help`
HELP = (
    "patient-level ROC-AUC per observation, with 95% CIs (Newcombe's score interval per observation, the patient "
    "bootstrap for the means), from a predictions CSV and CheXpert labels"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictions", required=True, help="the predict step's CSV (Path and the 14 observations)")
    p.add_argument("--labels", required=True, help="a CheXpert-format CSV with 0/1 labels (valid.csv)")
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean", help="patient score from its images")
    p.add_argument("--resamples", type=int, default=2000, help="patient bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--min-positives", type=int, default=10, help="positive (and negative) patients an observation "
                   "needs for a CI; fewer: its AUC as a point estimate")
    p.add_argument("--out", required=True, help="CSV: one row per observation, then the three means")


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from chexpertnet.data.chexpert import patients_of, read_csv
    from chexpertnet.errors import DataError
    from chexpertnet.evaluate.scoring import join_labels, score_table
    from chexpertnet.fileio import write_csv

    predictions = pd.read_csv(args.predictions, dtype={"Path": str})
    try:
        paths, scores, label_values = join_labels(predictions, read_csv(args.labels), args.predictions, args.labels)
    except ValueError as e:
        raise DataError(str(e)) from None
    table = score_table(patients_of(paths), scores, label_values, args.aggregate, args.resamples, args.seed,
                        min_positives=args.min_positives)
    write_csv(args.out, table, float_format="%.6f")
    summary = table.set_index("observation")["auc"].round(4).to_dict()
    print(json.dumps({"aggregate": args.aggregate, "auc": summary}), file=sys.stderr)
