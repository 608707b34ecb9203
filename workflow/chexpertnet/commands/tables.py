"""chexpertnet tables: the paper's Tables 1-4, the comparison against the baseline and the paper beside us."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 110  # position in `chexpertnet --help`
HELP = (
    "result tables from every run's predictions: one per experiment (the paper's Tables 1-4, mean ± sd over "
    "seeds), the paired comparison against the baseline, and the paper's values beside ours; each with provenance"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="a CheXpert-format CSV with 0/1 labels (valid.csv)")
    p.add_argument(
        "--experiment", nargs=6, action="append", required=True, help="an experiment's factors",
        metavar=("NAME", "VIEWS", "NORMALIZATION", "INIT", "UNCERTAINTY", "EPOCHS"),
    )  # fmt: skip
    p.add_argument(
        "--epochs-run", nargs=3, action="append", default=[], metavar=("EXPERIMENT", "SEED", "VALID_EPOCHS"),
        help="a training's per-epoch validation predictions (for the claims about epochs)",
    )  # fmt: skip
    p.add_argument(
        "--run", dest="runs", nargs=4, action="append", required=True, help="one trained model's outputs",
        metavar=("EXPERIMENT", "SEED", "PREDICTIONS", "CHECKPOINT"),
    )  # fmt: skip
    p.add_argument("--test-labels", help="the test set's CheXpert-format CSV (chexpertnet test-labels): with "
                   "--test-run, the experiment tables, comparison and claims on the test set too (test.*)")  # fmt: skip
    p.add_argument(
        "--test-run", dest="test_runs", nargs=3, action="append", default=[],
        metavar=("EXPERIMENT", "SEED", "PREDICTIONS"), help="one trained model's predictions of the test set",
    )  # fmt: skip
    p.add_argument("--baseline", default="baseline", help="the experiment the others are compared with")
    p.add_argument("--paper", help="YAML with the paper's reported values (workflow/data/paper_values.yaml)")
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean", help="patient score from its images")
    p.add_argument("--resamples", type=int, default=2000, help="patient bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--min-positives", type=int, default=10, help="positive (and negative) patients an observation "
                   "needs for a CI, a p-value and a place in the CI'd means; fewer: its AUC as a point estimate")
    p.add_argument("--margin", type=float, default=0.01, help="claim 6's non-inferiority margin (AUC): supported "
                   "when the 95%% CI of the mean AUC difference lies above minus it")  # fmt: skip
    p.add_argument("--phantom", action="store_true", help="the dataset is the phantom: the claims' notes say which "
                   "claims it can test")  # fmt: skip
    p.add_argument("--dataset-csv", action="append", default=[], help="dataset CSVs to record in the provenance")
    p.add_argument("--manifest", action="append", default=[], help="manifests to record in the provenance")
    p.add_argument("--config-hash", default=None, help="hash of the workflow config, recorded in the provenance")
    p.add_argument("--out-dir", required=True, help="folder for <experiment>, comparison and paper_vs_ours files")
    p.add_argument(
        "--archive", help="the versions archive (results/<dataset>/archive/tables); with it, a new version is kept "
        "when the tables' content changed, and history.* and latest_diff.* are written to --out-dir",
    )  # fmt: skip
    p.add_argument("--code", action="append", default=[], metavar="STEP=HASH",
                   help="the code hash of a step upstream of the tables, recorded in the version")  # fmt: skip
    p.add_argument("--config-json", help="the workflow's config as JSON, recorded in the version")


def run(args: argparse.Namespace) -> None:
    from collections import defaultdict
    from pathlib import Path

    import yaml

    from chexpertnet.errors import DataError
    from chexpertnet.evaluate import tables as T
    from chexpertnet.evaluate.claims import evaluate_claims
    from chexpertnet.evaluate.epochs import epoch_markdown, epoch_table
    from chexpertnet.evaluate.predictions import load_epochs, load_experiments
    from chexpertnet.evaluate.provenance import for_outputs, record
    from chexpertnet.evaluate.scoring import compare, experiment_table
    from chexpertnet.fileio import write_json, write_text

    factors = {name: {"views": v, "normalization": n, "init": i, "uncertainty": u, "epochs": int(e)}
               for name, v, n, i, u, e in args.experiment}  # fmt: skip
    runs = defaultdict(list)
    for name, seed, predictions, checkpoint in args.runs:
        if name not in factors:
            raise DataError(f"--run {name} {seed}: no --experiment {name} was given; give its factors")
        runs[name].append((int(seed), predictions, checkpoint))
    missing = sorted(set(factors) - set(runs))
    if missing:
        raise DataError(f"experiments {missing} have no --run: give at least one seed's predictions for each")
    if args.baseline not in factors:
        raise DataError(f"--baseline {args.baseline!r} is not one of the experiments {sorted(factors)}")
    paper = {}
    if args.paper:
        paper = yaml.safe_load(Path(args.paper).read_text())["experiments"]

    test_runs = [(n, int(s), p) for n, s, p in args.test_runs]
    if bool(args.test_labels) != bool(test_runs):
        raise DataError("--test-labels and --test-run go together: give the test labels and every run's test "
                        "predictions, or neither")  # fmt: skip
    if test_runs and sorted((n, s) for n, s, _ in test_runs) != sorted((n, int(s)) for n, s, _, _ in args.runs):
        raise DataError("--test-run: give one for every --run (the same experiments and seeds)")

    def evaluated(scored: dict, epochs: dict, paper: dict, on: str = "", prefix: str = "") -> tuple[dict, dict]:
        """One evaluation set's experiment tables, comparison and claims: (tables, {stem: {suffix: text}})."""
        k = args.min_positives
        tables = {name: experiment_table(scored[name], args.resamples, args.seed, min_positives=k) for name in factors}
        comparisons = {name: compare(scored[args.baseline], scored[name], args.resamples, args.seed, min_positives=k)
                       for name in factors if name != args.baseline}  # fmt: skip
        claims = evaluate_claims(factors, args.baseline, scored, epochs, args.resamples, args.seed, min_positives=k,
                                 margin=args.margin, phantom=args.phantom)
        files = {}
        for name, table in tables.items():
            text = (name, factors[name], table, paper.get(name), args.resamples, args.aggregate, on, k)
            files[f"{prefix}{name}"] = {".csv": T.to_csv(table), ".md": T.experiment_markdown(*text),
                                        ".html": T.experiment_html(*text)}  # fmt: skip
        text = (args.baseline, factors, tables, comparisons, args.resamples, on, k)
        files[f"{prefix}comparison"] = {".csv": T.to_csv(T.comparison_frame(comparisons)),
                                        ".md": T.comparison_markdown(*text),
                                        ".html": T.comparison_html(*text)}  # fmt: skip
        seeds = T._seeds(tables)
        claim_text = (claims, args.resamples, on, args.phantom, seeds)
        files[f"{prefix}claims"] = {".csv": T.to_csv(claims), ".md": T.claims_markdown(*claim_text),
                                    ".html": T.claims_html(*claim_text)}  # fmt: skip
        return tables, files

    scored = load_experiments(args.labels, [(n, int(s), p) for n, s, p, _ in args.runs], args.aggregate)
    epochs = load_epochs(args.labels, [(n, int(s), f) for n, s, f in args.epochs_run], args.aggregate)
    tables, files = evaluated(scored, epochs, paper)
    paper_frame = T.paper_vs_ours(paper, tables)
    for name, per_epoch in epochs.items():
        frame = epoch_table(per_epoch)
        files[f"{name}.epochs"] = {".csv": T.to_csv(frame), ".md": epoch_markdown(name, frame)}
    test_tables = {}
    if test_runs:  # the test set: the same tables but the paper's (its Tables 1-4 are on the validation set);
        # claim 5 needs per-epoch predictions, which exist for the validation set only
        scored_test = load_experiments(args.test_labels, test_runs, args.aggregate)
        test_tables, test_files = evaluated(scored_test, {}, {}, "the test set", "test.")
        files |= test_files
    out = Path(args.out_dir)
    files["paper_vs_ours"] = {
        ".csv": T.to_csv(paper_frame),
        ".md": T.paper_vs_ours_markdown(paper_frame, paper),
        ".html": T.paper_vs_ours_html(paper_frame, paper),
    }
    inputs = {
        "dataset_csvs": [args.labels, *args.dataset_csv, *([args.test_labels] if test_runs else [])],
        "manifests": args.manifest,
        "predictions": [r[1] for rs in runs.values() for r in rs],
        "checkpoints": [r[2] for rs in runs.values() for r in rs],
        "epoch_predictions": [f for _, _, f in args.epochs_run],
    }
    if test_runs:
        inputs["test_predictions"] = [p for _, _, p in test_runs]
    if args.paper:
        inputs["paper_values"] = [args.paper]
    settings = {
        "aggregate": args.aggregate, "bootstrap_resamples": args.resamples, "bootstrap_seed": args.seed,
        "confidence_level": 0.95, "min_positives": args.min_positives, "baseline": args.baseline,
        "config_hash": args.config_hash,
        "experiments": {n: {**factors[n], "seeds": sorted(s for s, _, _ in runs[n])} for n in factors},
        "epochs_runs": sorted(f"{n}/seed{s}" for n, s, _ in args.epochs_run),
    }  # fmt: skip
    shared = record(inputs, settings)  # the inputs (checkpoints included) are hashed once for all tables
    for stem, contents in files.items():
        for suffix, text in contents.items():
            write_text(out / f"{stem}{suffix}", text)
        write_json(out / f"{stem}.provenance.json", for_outputs(shared, [out / f"{stem}{s}" for s in contents]))
    summary = {n: round(float(t.set_index("abbreviation").loc["mean", "auc"]), 4) for n, t in tables.items()}
    summary |= {f"test.{n}": round(float(t.set_index("abbreviation").loc["mean", "auc"]), 4)
                for n, t in test_tables.items()}  # fmt: skip
    version = None
    if args.archive:
        from chexpertnet.evaluate.versions_report import archive_and_report

        written = [out / f"{stem}{suffix}" for stem, contents in files.items()
                   for suffix in [*contents, ".provenance.json"]]  # fmt: skip
        models = {f"{name}/seed{seed}": shared["inputs"]["checkpoints"][str(checkpoint)]
                  for name, rs in runs.items() for seed, _, checkpoint in rs}  # fmt: skip
        meta = {
            "created": shared["created"], "git": shared["git"], "config_hash": args.config_hash,
            "config": json.loads(args.config_json) if args.config_json else {},
            "code": dict(item.split("=", 1) for item in args.code),
            "data": shared["inputs"]["dataset_csvs"], "models": models, "mean_auc": summary,
        }  # fmt: skip
        version = archive_and_report(args.archive, written, meta, out)
    print(json.dumps({"mean_auc": summary, "out_dir": str(out), "new_version": version}), file=sys.stderr)
