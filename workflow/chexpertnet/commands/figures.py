"""chexpertnet figures: ROC curves per observation (experiments overlaid) and learning curves (the paper's Fig. 2)."""

from __future__ import annotations

import argparse
import sys

ORDER = 120  # position in `chexpertnet --help`
HELP = "patient-level ROC curves per observation and learning curves, every experiment overlaid (PNG)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="a CheXpert-format CSV with 0/1 labels (valid.csv)")
    p.add_argument(
        "--run", dest="runs", nargs=4, action="append", required=True, help="one trained model's outputs",
        metavar=("EXPERIMENT", "SEED", "PREDICTIONS", "HISTORY"),
    )  # fmt: skip
    p.add_argument(
        "--epochs-run", nargs=3, action="append", default=[], metavar=("EXPERIMENT", "SEED", "VALID_EPOCHS"),
        help="a training's per-epoch validation predictions (the learning curves' AUC by epoch)",
    )  # fmt: skip
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean", help="patient score from its images")
    p.add_argument("--roc", required=True, help="PNG: ROC curves")
    p.add_argument("--learning-curves", required=True, help="PNG: learning curves")


def run(args: argparse.Namespace) -> None:
    import json

    from chexpertnet.errors import DataError
    from chexpertnet.evaluate.epochs import seed_mean_auc_by_epoch
    from chexpertnet.evaluate.figures import learning_curves, roc_curves
    from chexpertnet.evaluate.predictions import load_epochs, load_experiments
    from chexpertnet.plotting import save_figure

    scored = load_experiments(args.labels, [(n, int(s), p) for n, s, p, _ in args.runs], args.aggregate)
    histories: dict[str, list[list[dict]]] = {}
    for name, seed, _, history in sorted(args.runs, key=lambda r: (list(scored).index(r[0]), int(r[1]))):
        records = []
        with open(history) as f:
            for number, line in enumerate(f, 1):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{history}, line {number}: not JSON ({e}); rerun the train step of {name} "
                                    f"seed {seed}") from None  # fmt: skip
        histories.setdefault(name, []).append(records)
    n = len(next(iter(scored.values())).patients)
    save_figure(roc_curves(scored, f"Patient-level ROC curves, validation set ({n} patients)"), args.roc)
    per_epoch = load_epochs(args.labels, [(n, int(s), f) for n, s, f in args.epochs_run], args.aggregate)
    epoch_auc = {name: seed_mean_auc_by_epoch(scores) for name, scores in per_epoch.items()}
    save_figure(learning_curves(histories, epoch_auc), args.learning_curves)
    print(f"wrote {args.roc} and {args.learning_curves}", file=sys.stderr)
