"""chexpertnet decision-tables: every run's operating points and readers' comparisons as the workflow's tables."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 112  # position in `chexpertnet --help`
HELP = (
    "the tables of every run's operating points (operating_points, test.operating_points) and of the radiologists "
    "on its ROC curve (test.readers), as CSV, Markdown and HTML"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--operating-points", nargs=3, action="append", default=[],
                   metavar=("EXPERIMENT", "SEED", "CSV"), help="a run's chexpertnet operating-points CSV")
    p.add_argument("--readers-run", nargs=4, action="append", default=[],
                   metavar=("EXPERIMENT", "SEED", "CSV", "COUNTS"), help="a run's chexpertnet readers CSVs")
    p.add_argument("--resamples", type=int, default=2000, help="the bootstrap resamples the runs were scored with")
    p.add_argument("--min-positives", type=int, default=10, help="the min_positives they were scored with")
    p.add_argument("--out-dir", required=True, help="the tables folder")


def _stacked(runs: list[tuple[str, str, str]]):
    import pandas as pd

    frames = [pd.read_csv(path).assign(experiment=name, seed=int(seed)) for name, seed, path in runs]
    frame = pd.concat(frames, ignore_index=True)
    return frame[["experiment", "seed", *[c for c in frame.columns if c not in ("experiment", "seed")]]]


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from chexpertnet.evaluate import operating_points_text as op
    from chexpertnet.evaluate import readers_text
    from chexpertnet.fileio import write_text

    files = {}
    if args.operating_points:
        table = _stacked(args.operating_points)
        for split, stem in (("valid", "operating_points"), ("test", "test.operating_points")):
            part = table[table["split"] == split]
            if len(part):
                files[stem] = {".csv": part.to_csv(index=False, lineterminator="\n", float_format="%.6f"),
                               ".md": op.op_markdown(part, args.resamples, args.min_positives, split),
                               ".html": op.op_html(part, args.resamples, args.min_positives, split)}  # fmt: skip
    if args.readers_run:
        table = _stacked([(n, s, c) for n, s, c, _ in args.readers_run])
        counts = _stacked([(n, s, c) for n, s, _, c in args.readers_run])
        on = "the test set"
        files["test.readers"] = {
            ".csv": table.to_csv(index=False, lineterminator="\n", float_format="%.6f"),
            ".md": readers_text.readers_markdown(table, counts, args.resamples, args.min_positives, on),
            ".html": readers_text.readers_html(table, counts, args.resamples, args.min_positives, on),
        }
    out = Path(args.out_dir)
    for stem, contents in files.items():
        for suffix, text in contents.items():
            write_text(out / f"{stem}{suffix}", text)
    print(json.dumps({"tables": sorted(files), "out_dir": str(out)}), file=sys.stderr)
