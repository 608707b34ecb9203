"""chexpertnet operating-points: thresholds chosen on validation by each rule, kept unchanged on the test set."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 102  # position in `chexpertnet --help`
HELP = (
    "operating points: a threshold per observation chosen on the validation patients by each rule (youden, "
    "sensitivity=S, specificity=S, readers_specificity), then sensitivity, specificity, PPV, NPV, F1 and MCC with 95% "
    "patient-bootstrap CIs on validation and, at the same threshold, on the test set; the test set's decisions in the "
    "leaderboard's format"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictions", required=True, help="the model's validation predictions (Path, 14 observations)")
    p.add_argument("--labels", required=True, help="the validation labels (a CheXpert CSV, 0/1)")
    p.add_argument("--test-predictions", help="the same model's test-set predictions")
    p.add_argument("--test-labels", help="the test set's labels (a CheXpert CSV, 0/1: chexpertnet test-labels')")
    p.add_argument("--rule", dest="rules", action="append", required=True,
                   help="youden | sensitivity=S | specificity=S | readers_specificity; repeat for several")
    p.add_argument("--readers", nargs="+", default=[], metavar="READER.csv", help="radiologists' study-level reads "
                   "of the test set (readers_specificity: their mean specificity against the test labels)")
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean", help="patient score from its images")
    p.add_argument("--resamples", type=int, default=2000, help="patient bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--min-positives", type=int, default=10, help="positive (and negative) patients a rule needs on "
                   "validation, and an evaluated set for its intervals")  # fmt: skip
    p.add_argument("--out", required=True, help="CSV: one row per rule, observation and split")
    p.add_argument("--decisions-dir", help="with the test set: <dir>/<rule>.csv per rule, the test studies' 0/1 "
                   "decisions in the leaderboard's format (Study and the observations that have a threshold)")


def _patients(predictions_csv: str, labels_csv: str, aggregate: str):
    """(patient scores (n, 14), patient labels (n, 14), image paths, image scores); patients sorted."""
    import pandas as pd

    from chexpertnet.data.chexpert import patients_of, read_csv
    from chexpertnet.errors import DataError
    from chexpertnet.evaluate.metrics import aggregate_by_patient
    from chexpertnet.evaluate.scoring import join_labels

    predictions = pd.read_csv(predictions_csv, dtype={"Path": str})
    try:
        paths, scores, labels = join_labels(predictions, read_csv(labels_csv), predictions_csv, labels_csv)
    except ValueError as e:
        raise DataError(str(e)) from None
    _, patient_scores, patient_labels = aggregate_by_patient(patients_of(paths), scores, labels, aggregate)
    return patient_scores, patient_labels, paths, scores


def run(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.errors import DataError
    from chexpertnet.evaluate import studies
    from chexpertnet.evaluate.metrics import aggregate_by_patient
    from chexpertnet.evaluate.operating_points import evaluate, parse_rule
    from chexpertnet.fileio import write_csv
    from chexpertnet.observations import OBSERVATIONS

    try:
        rules = list(dict.fromkeys(parse_rule(r) for r in args.rules))
    except ValueError as e:
        raise DataError(f"--rule: {e}") from None
    if bool(args.test_predictions) != bool(args.test_labels):
        raise DataError("--test-predictions and --test-labels go together: give both or neither")
    if args.decisions_dir and not args.test_predictions:
        raise DataError("--decisions-dir writes the test set's decisions: give --test-predictions and --test-labels")
    needs_readers = any(r.kind == "readers_specificity" for r in rules)
    if needs_readers and not (args.readers and args.test_labels):
        raise DataError("--rule readers_specificity needs --readers and the test set's labels (--test-labels), "
                        "against which the readers' specificity is measured")  # fmt: skip
    observations = list(OBSERVATIONS)
    valid_scores, valid_labels, _, _ = _patients(args.predictions, args.labels, args.aggregate)
    others, test_images = {}, None
    if args.test_predictions:
        test_scores, test_labels, test_paths, test_image_scores = _patients(args.test_predictions, args.test_labels,
                                                                            args.aggregate)  # fmt: skip
        others["test"] = (test_scores, test_labels)
        test_images = (test_paths, test_image_scores)
    reader_specificity = None
    if needs_readers:
        truth_frame = read_csv(args.test_labels)
        truth = studies.binary_by_study(truth_frame, observations, args.test_labels, "the readers are scored on")
        reads = []
        for path in args.readers:
            frame = read_csv(path)
            read = studies.binary_by_study(frame, [o for o in observations if o in frame.columns], path, "")
            reads.append(studies.aligned(read, truth.index, frame, path, args.test_labels, "a read"))
        reader_specificity = {}
        for o in observations:
            negative = truth[o].to_numpy() == 0
            values = [1 - r[o].to_numpy()[negative].mean() for r in reads if o in r.columns and negative.any()]
            reader_specificity[o] = float(np.mean(values)) if values else float("nan")
    table, thresholds = evaluate(observations, rules, (valid_scores, valid_labels), others, reader_specificity,
                                 args.resamples, args.seed, min_positives=args.min_positives)  # fmt: skip
    decisions = {}
    if args.decisions_dir:  # study-level decisions at the validation thresholds, in the leaderboard's format
        paths, image_scores = test_images
        keys = [studies.study_key(p) for p in paths]
        ids, study_scores, _ = aggregate_by_patient(np.array(keys), image_scores, image_scores, args.aggregate)
        for rule in rules:
            kept = [o for o in observations if not np.isnan(thresholds[(rule.name, o)])]
            frame = pd.DataFrame({"Study": [f"CheXpert-v1.0/test/{k}" for k in ids]})
            for o in kept:
                frame[o] = (study_scores[:, observations.index(o)] >= thresholds[(rule.name, o)]).astype(int)
            decisions[f"{args.decisions_dir}/{rule.file_stem}.csv"] = frame
    write_csv(args.out, table, float_format="%.8f")
    for path, frame in decisions.items():
        write_csv(path, frame)
    kept = {r.name: int(sum(not np.isnan(thresholds[(r.name, o)]) for o in observations)) for r in rules}
    print(json.dumps({"rules": [r.name for r in rules], "thresholds_kept": kept, "splits": ["valid", *others],
                      "decisions": sorted(decisions)}), file=sys.stderr)  # fmt: skip
