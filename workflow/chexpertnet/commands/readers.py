"""chexpertnet readers: radiologists on the model's ROC curve (CheXpert's test-set readers, or any in their format)."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 104  # position in `chexpertnet --help`
HELP = (
    "radiologists on the model's ROC curve: each reader's sensitivity and specificity, the model's sensitivity at "
    "the reader's false-positive rate, readers below the curve, MCCs, with 95% paired patient-bootstrap CIs"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="the truth: study-level groundtruth.csv (Study, 0/1 per "
                   "observation) or an image-level CheXpert CSV (Path; a study is positive when any image is)")
    p.add_argument("--readers", nargs="+", required=True, metavar="READER.csv",
                   help="each reader's 0/1 reads, study-level (bc4.csv, bc6.csv, bc8.csv); named by the file's stem")
    p.add_argument("--predictions", required=True, help="the model's scores: study-level (Study, as the "
                   "leaderboard's) or the workflow's image-level predictions (Path), aggregated to the study; "
                   "the observations are those this file has")  # fmt: skip
    p.add_argument("--decisions", help="the model's 0/1 decisions, study-level (the leaderboard's format): its MCC "
                   "beside the readers'")  # fmt: skip
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean",
                   help="a study's score from its images' (image-level predictions)")
    p.add_argument("--resamples", type=int, default=2000, help="paired patient bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--min-positives", type=int, default=10, help="positive (and negative) studies an observation "
                   "needs for its intervals; fewer: point estimates only")  # fmt: skip
    p.add_argument("--out", required=True, help="CSV: one row per observation and reader")
    p.add_argument("--counts", help="CSV: per observation, the readers below the curve and the share of resamples "
                   "with each count")  # fmt: skip
    p.add_argument("--markdown", help="the same as a Markdown table")
    p.add_argument("--figure", help="PNG: one ROC panel per observation with the readers' points and CIs")
    p.add_argument("--title", default="", help="the model's name in the figure's title")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.evaluate import readers_text, studies
    from chexpertnet.evaluate.readers import evaluate
    from chexpertnet.fileio import write_csv, write_text

    labels_frame = read_csv(args.labels)
    predictions_frame = read_csv(args.predictions)
    observations = studies.observations_of(predictions_frame, args.predictions)
    why = f"the predictions ({args.predictions}) score"
    labels = studies.binary_by_study(labels_frame, observations, args.labels, why)
    scores = studies.scores_by_study(predictions_frame, observations, args.predictions, args.aggregate)
    scores = studies.aligned(scores, labels.index, predictions_frame, args.predictions, args.labels, "predictions")
    readers = {}
    for path in args.readers:
        name = Path(path).stem
        if name in readers:
            raise studies.DataError(f"{path}: a second reader named {name!r} (readers are named by their file's "
                                    "stem); rename one of the files")  # fmt: skip
        frame = read_csv(path)
        reads = studies.binary_by_study(frame, observations, path, why)
        readers[name] = studies.aligned(reads, labels.index, frame, path, args.labels, "a read")
    decisions = None
    if args.decisions:
        frame = read_csv(args.decisions)
        decided = [o for o in studies.observations_of(frame, args.decisions) if o in observations]
        decisions = studies.binary_by_study(frame, decided, args.decisions, "the decisions name")
        decisions = studies.aligned(decisions, labels.index, frame, args.decisions, args.labels, "a decision")
    table, counts, curves = evaluate(labels, scores, readers, decisions, args.resamples, args.seed,
                                     min_positives=args.min_positives)  # fmt: skip
    # everything is computed before anything is written
    texts = {}
    if args.markdown:
        texts[args.markdown] = readers_text.readers_markdown(table, counts, args.resamples, args.min_positives)
    figure = readers_text.readers_figure(table, curves, args.title) if args.figure else None
    write_csv(args.out, table, float_format="%.8f")
    if args.counts:
        write_csv(args.counts, counts, float_format="%.6f")
    for path, text in texts.items():
        write_text(path, text)
    if figure is not None:
        from chexpertnet.plotting import save_figure

        save_figure(figure, args.figure)
    below = counts.set_index("observation")["readers_below"].to_dict()
    print(json.dumps({"studies": len(labels), "readers": list(readers), "observations": observations,
                      "readers_below": below}, default=float), file=sys.stderr)  # fmt: skip
